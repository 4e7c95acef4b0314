"""Atomic file writes: write to a temporary name in the same folder, then rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: 0o666 less the umask.

    ``mkstemp`` creates 0o600 files; without this, every output would be private to its owner.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no /proc: read it by setting it (and put it back)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | os.PathLike, *chunks: bytes | memoryview) -> None:
    """Write the concatenated ``chunks`` to ``path`` so that readers see either the old file or the whole new one.

    The temporary file (``.<name>.<random>.tmp`` beside the target) is removed on failure.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            os.fchmod(f.fileno(), _file_mode())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
