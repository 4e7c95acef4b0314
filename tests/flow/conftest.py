"""Shared fixtures for the flow tests: the real Sintel pair."""

from __future__ import annotations

import pytest

from shared_data import realdata_file


@pytest.fixture(scope="session")
def sintel_pair():
    """(frame_0002 RGB, frame_0003 RGB, ground-truth flow) of Sintel clean alley_1."""
    d = realdata_file("sintel_alley_1", "flow_0002_0003.flo").parent
    from blurgen.io.flo import read_flo
    from blurgen.io.frames import read_image

    return read_image(d / "frame_0002.png"), read_image(d / "frame_0003.png"), read_flo(d / "flow_0002_0003.flo")
