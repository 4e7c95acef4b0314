from pathlib import Path

import pytest

REALDATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "realdata").resolve()


@pytest.fixture
def realdata() -> Path:
    """The shared folder of small real public files (skips the test when absent)."""
    if not REALDATA.is_dir():
        pytest.skip(f"real test files not found at {REALDATA} (../shared/realdata from the repo)")
    return REALDATA
