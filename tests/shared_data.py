"""Where the tests find the shared folder of small real public files (Sintel frames and flows,
a short real video, ...; its README says what each is and where it came from).

``REALDATA`` is ``$BLURGEN_REALDATA`` when set (a checkout that is not beside the shared
folder), else ``../shared/realdata`` beside the checkout. Tests ask for a file with
:func:`realdata_file` (or the ``realdata`` fixture of ``tests/conftest.py`` for the folder),
which skips the test, naming the path, when the file is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENV_VAR = "BLURGEN_REALDATA"
REALDATA = Path(os.environ.get(ENV_VAR) or REPO.parent / "shared" / "realdata").resolve()
REALSHORT = REALDATA / "video" / "realshort.mp4"  # 36 frames of real footage, 30 fps container


def realdata_file(*parts: str) -> Path:
    """``REALDATA / parts``; skips the calling test when it does not exist."""
    path = REALDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real test data missing: {path} (set ${ENV_VAR} to the shared realdata folder)")
    return path
