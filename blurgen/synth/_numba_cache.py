"""Cached compiled kernels that are older than the code they call are dropped.

numba keys a cached kernel on the time stamp of the file it is defined in, not of the
files whose kernels and constants it compiles in: the kernels of ``_splat_numba`` inline
those of ``_compose_numba`` and the constants of ``_splat``. After a change to one of them
alone (``git pull``, an edit in a checkout installed with ``pip install -e``) the others'
cached kernels would still load, with the old code inside. :func:`drop_stale` keeps a
digest of all the files beside numba's cache and deletes the cached kernels of these
modules when it no longer matches, so they are compiled again. (An installed wheel
replaces every file at once, which numba sees by itself; this is for checkouts.)
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

from blurgen.utils import atomic_write_text

STAMP = "blurgen-kernels.sha256"


def sources_digest(sources: list[Path]) -> str:
    """sha256 over the files' names and bytes."""
    h = hashlib.sha256()
    for p in sources:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def drop_stale(folder: Path, modules: tuple[str, ...]) -> bool:
    """Delete the numba cache files (``__pycache__/MODULE.*.nbi`` / ``.nbc``) of
    ``modules`` (names of ``.py`` files in ``folder``) unless they were made from the
    files as they are now; return True when some were deleted. A folder that cannot be
    read or written (an installed package) is left alone."""
    cache = folder / "__pycache__"
    try:
        digest = sources_digest([folder / f"{m}.py" for m in modules])
    except OSError:
        return False
    with contextlib.suppress(OSError):
        if (cache / STAMP).read_text() == digest:
            return False
    dropped = False
    for m in modules:
        for f in [*cache.glob(f"{m}.*.nbi"), *cache.glob(f"{m}.*.nbc")]:
            with contextlib.suppress(OSError):
                f.unlink()
                dropped = True
    with contextlib.suppress(OSError):
        cache.mkdir(exist_ok=True)  # as Python makes it for bytecode: the stamp is there before the first kernel
        atomic_write_text(cache / STAMP, digest, fsync=False)
    return dropped
