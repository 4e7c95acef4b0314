"""Fixtures shared by every test folder.

``tests/`` is on ``sys.path`` (``pythonpath`` in pyproject's pytest options), so the
helper modules here import by name from any folder: ``from real_helpers import gopro_tree``,
``from shared_data import REALDATA``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shared_data import realdata_file


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The shared folder of small real public files (skips the test when absent)."""
    return realdata_file()
