"""Small helpers shared by every stage: deterministic seeding, hashing, atomic file writes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import numpy as np


# What a dataset folder holds besides its shards: the manifest, and the lock of a run under way
MANIFEST_NAME = "manifest.json"
LOCK_NAME = ".blurgen.lock"


def is_dataset_folder(folder: str | os.PathLike) -> bool:
    """Whether blurgen writes a dataset into ``folder``: a run's lock is there, or a
    ``manifest.json`` that blurgen wrote (its ``blurgen`` entry). Such a folder (the
    ``--out`` of this or an earlier run, often put inside the input root) is never input."""
    folder = Path(folder)
    if (folder / LOCK_NAME).exists():
        return True
    try:
        data = json.loads((folder / MANIFEST_NAME).read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("blurgen"), dict) and "schema" in data


def dataset_folders(folder: str | os.PathLike) -> list[Path]:
    """The blurgen datasets directly in ``folder`` (:func:`is_dataset_folder`), by name."""
    return sorted(d for d in Path(folder).iterdir() if d.is_dir() and is_dataset_folder(d))


def key_digest(key: str) -> int:
    """A stable 64-bit integer from a sample key (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")


def rng_for(seed: int, key: str) -> np.random.Generator:
    """The random generator of one sample: fixed by the run's seed and the sample's key."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, key_digest(key)])


def file_sha256(path: str | os.PathLike, block: int = 1 << 22) -> str:
    """sha256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


# -- atomic writes -------------------------------------------------------------------------
# Every file blurgen writes goes to a temporary name beside its final one and is renamed
# over it when complete, so readers see the old file or the whole new one, never a part.
# Temporary names are ``.NAME.TOKEN.tmp-PID``: the dataset loop removes them after a kill
# (``.tmp-``), and a process can tell its own (``-PID``).
TMP_MARK = ".tmp-"


def tmp_path(path: str | os.PathLike, suffix: str = "") -> Path:
    """A fresh temporary name beside ``path``: ``.NAME.TOKEN.tmp-PID`` (then ``suffix``)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{TMP_MARK}{os.getpid()}{suffix}")


def file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: 0o666 less the umask."""
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


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename in ``folder`` durable (where the platform allows opening folders)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, fsync: bool = True, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; on success it gets the usual file
    mode, is fsynced (``fsync``) and renamed over ``path``; on any failure it is removed.

    An ``OSError`` without a file name (a failed ``write()``: a full disk) is raised again
    naming ``path``, so the user is told which file could not be written. ``suffix`` ends
    the temporary name (for writers that pick a format from it, e.g. ``.mp4``).
    """
    path = Path(path)
    tmp = tmp_path(path, suffix)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if fsync:
            fsync_dir(path.parent)
    except OSError as e:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if e.filename is None or os.fspath(e.filename) == os.fspath(tmp):
            raise OSError(e.errno, e.strerror, os.fspath(path)) from None
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, *chunks: bytes | memoryview, fsync: bool = True) -> None:
    """Write the concatenated ``chunks`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path, fsync=fsync) as tmp, open(tmp, "wb") as f:
        for chunk in chunks:
            f.write(chunk)


def atomic_write_text(path: str | os.PathLike, text: str, fsync: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def load_refusal(err: BaseException) -> str:
    """The informative part of a ``torch.load`` failure, on one line.

    For the weights-only loader's refusal that is the ``Unsupported global: ...`` line (the
    object the file wanted to build), not torch's first line, which explains how to turn the
    safe loader off; for other errors, the first line of the message.
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    for line in text.splitlines():
        if "Unsupported global" in line or "Unsupported operand" in line:
            return line.split("error:", 1)[-1].split(" was not", 1)[0].strip().rstrip(".")
    if "Weights only load failed" in text:
        return "the file holds objects other than tensors and plain containers"
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first or type(err).__name__
