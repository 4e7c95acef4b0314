"""Shared fixtures for the flow tests: the real Sintel pair."""

from __future__ import annotations

from pathlib import Path

import pytest

REALDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata"


@pytest.fixture(scope="session")
def sintel_pair():
    """(frame_0002 RGB, frame_0003 RGB, ground-truth flow) of Sintel clean alley_1."""
    d = REALDATA / "sintel_alley_1"
    if not (d / "flow_0002_0003.flo").is_file():
        pytest.skip(f"real test data missing: {d} (see /work/shared/realdata/README.md)")
    from blurgen.io.flo import read_flo
    from blurgen.io.frames import read_image

    return read_image(d / "frame_0002.png"), read_image(d / "frame_0003.png"), read_flo(d / "flow_0002_0003.flo")
