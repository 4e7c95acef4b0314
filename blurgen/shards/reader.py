"""Read HDF5 shards (schema 1): one shard by index or key; the shard files of a folder.

Files are opened lazily, on first access, in the process that reads them, and reopened
after a fork: a ``ShardReader`` made in the main process is safe to hand to DataLoader
workers. A crop reads only the HDF5 chunks (tiles) it overlaps. The torch Dataset over
many shards is ``blurgen.shards.dataset.ShardDataset``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from blurgen.errors import InputError
from blurgen.io import decoding
from blurgen.shards.schema import ARRAYS, SCHEMA_VERSION
from blurgen.utils import dataset_folders

# A chunk that does not decompress: the file was damaged after it was written.
_DAMAGED = "blurgen verify names the damaged shards; rebuild them with the same command and --resume"

SHARD_RE = re.compile(r"^(?P<split>[A-Za-z0-9_.+=-]+)-(?P<i>\d{5,})-of-(?P<n>\d{5,})\.h5$")
Crop = tuple[int, int, int, int]  # (y0, x0, h, w) in pixels


def _check_in_file(f, path: Path) -> None:
    """Refuse a shard whose datasets live outside the file: an HDF5 external or soft link,
    external raw storage, or a virtual dataset would make the reader open files chosen by
    whoever made the shard."""
    import h5py

    for name in (*ARRAYS, "key", "meta"):
        link = f.get(name, getlink=True)
        if link is None:
            continue
        if not isinstance(link, h5py.HardLink):
            target = getattr(link, "filename", None) or getattr(link, "path", "")
            raise InputError(path, f"dataset {name!r} is a link ({type(link).__name__} to {target}), not data in the shard",
                             "use shards written by blurgen")
        ds = f[name]
        if not isinstance(ds, h5py.Dataset) or ds.external or ds.is_virtual:
            raise InputError(path, f"dataset {name!r} is stored outside the shard file", "use shards written by blurgen")


class ShardReader:
    """One shard, opened lazily.

    ``len(r)``; ``r.keys()`` -> list of str; ``r.size`` -> (H, W); ``r.names`` -> array
    names present; ``r.read(i, crop=None, names=None)`` -> dict name -> ndarray in the
    stored dtype and layout ((H, W, C) or (H, W)), cropped to ``crop = (y0, x0, h, w)``;
    ``r.meta(i)`` -> dict; ``r.read_key(key)``; ``r.index_of(key)``.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._file = None
        self._ds: dict[str, Any] = {}
        self._pid: int | None = None
        self._keys: list[str] | None = None
        self._metas: list[str] | None = None
        self._index: dict[str, int] | None = None

    # -- lazy file handle -------------------------------------------------------------
    def _h5(self):
        if self._file is None or self._pid != os.getpid():
            import h5py

            self._file = None  # a handle inherited through fork is not touched
            try:
                f = h5py.File(self.path, "r")
            except FileNotFoundError:
                raise InputError(self.path, "shard not found") from None
            except OSError as e:
                raise InputError(self.path, f"not a readable HDF5 shard ({e})", "rebuild it with --resume") from None
            version = f.attrs.get("schema_version")
            if version is not None and int(version) != SCHEMA_VERSION:
                f.close()
                raise InputError(self.path, f"shard schema {version}, this blurgen reads {SCHEMA_VERSION}")
            try:
                _check_in_file(f, self.path)
            except InputError:
                f.close()
                raise
            self._file, self._pid = f, os.getpid()
            # dataset handles looked up once: a lookup per read costs as much as a small crop
            self._ds = {name: f[name] for name in (*ARRAYS, "key", "meta") if name in f}
        return self._file

    def close(self) -> None:
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = None
        self._ds = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"] = None
        state["_ds"] = {}
        state["_pid"] = None
        return state

    def __enter__(self) -> ShardReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- contents ---------------------------------------------------------------------
    def __len__(self) -> int:
        self._h5()
        return int(self._ds["key"].shape[0])

    @property
    def names(self) -> list[str]:
        """Array datasets present (subset of blur, flow, flow_bwd, valid, valid_bwd, first, last)."""
        self._h5()
        return [n for n in ARRAYS if n in self._ds]

    @property
    def size(self) -> tuple[int, int] | None:
        """(H, W) of the shard's frames (``None`` for an empty shard)."""
        self._h5()
        return tuple(int(v) for v in self._ds["blur"].shape[1:3]) if "blur" in self._ds else None

    @property
    def attrs(self) -> dict[str, Any]:
        f = self._h5()
        return {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()}

    def keys(self) -> list[str]:
        if self._keys is None:
            self._h5()
            self._keys = [k.decode("utf-8") if isinstance(k, bytes) else str(k) for k in self._ds["key"][()]]
        return self._keys

    def index_of(self, key: str) -> int:
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self.keys())}
        try:
            return self._index[key]
        except KeyError:
            raise KeyError(f"{self.path.name}: no sample with key {key!r}") from None

    def meta(self, i: int) -> dict[str, Any]:
        return json.loads(self.meta_text(i))

    def meta_text(self, i: int) -> str:
        """The stored canonical JSON text of sample ``i``'s meta."""
        i = self._check(i)
        if self._metas is None:  # one read for the whole (small) column
            self._metas = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in self._ds["meta"][()]]
        return self._metas[i]

    def _check(self, i: int) -> int:
        n = len(self)
        i = int(i)
        if not -n <= i < n:
            raise IndexError(f"{self.path.name}: index {i} out of range for {n} samples")
        return i % n

    def read(self, i: int, crop: Crop | None = None, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Arrays of sample ``i`` (all present, or ``names``), optionally cropped.

        crop: (y0, x0, h, w) in pixels, inside the frame. Only the chunks the crop overlaps
        are read and decompressed.
        """
        i = self._check(i)
        wanted = self.names if names is None else list(names)
        if crop is None:
            sel: tuple = (i,)
        else:
            y0, x0, h, w = (int(v) for v in crop)
            H, W = self.size
            if h <= 0 or w <= 0 or y0 < 0 or x0 < 0 or y0 + h > H or x0 + w > W:
                raise ValueError(f"{self.path.name}: crop {crop} (y0, x0, h, w) is outside the {H}x{W} frame")
            sel = (i, slice(y0, y0 + h), slice(x0, x0 + w))
        out = {}
        for name in wanted:
            if name not in ARRAYS or name not in self._ds:
                raise KeyError(f"{self.path.name}: no array {name!r} (has {', '.join(self.names)})")
            with decoding(self.path, f"{name} of sample {i}", _DAMAGED):
                out[name] = self._ds[name][sel]
        return out

    def read_key(self, key: str, crop: Crop | None = None) -> dict[str, np.ndarray]:
        return self.read(self.index_of(key), crop=crop)


def list_shards(paths_or_dir: str | os.PathLike | Sequence[str | os.PathLike], split: str | None = None) -> list[Path]:
    """Shard files: a directory's ``SPLIT-iiiii-of-nnnnn.h5`` files (of ``split`` if given),
    sorted by name; for a directory without shards of its own, those of the blurgen datasets
    in it (``out/`` holding ``monkaa/``, ``gopro/``, ...: each one's, by folder name); or the
    given file list as is."""
    if isinstance(paths_or_dir, (str, os.PathLike)) and Path(paths_or_dir).is_dir():
        d = Path(paths_or_dir)
        found = _shards_in(d, split)
        if not found and not _shards_in(d, None):
            for sub in dataset_folders(d):
                found += _shards_in(sub, split)
        if not found:
            what = f"no '{split}-*-of-*.h5' shards" if split else "no '*-of-*.h5' shards"
            raise InputError(d, what, "point at the --out folder of a dataset run, or a folder of such folders")
        return found
    if isinstance(paths_or_dir, (str, os.PathLike)):
        paths_or_dir = [paths_or_dir]
    out = [Path(p) for p in paths_or_dir]
    for p in out:
        if not p.is_file():
            raise InputError(p, "shard not found")
    return out


def _shards_in(d: Path, split: str | None) -> list[Path]:
    """The shard files directly in ``d`` (of ``split`` if given), sorted by name."""
    found = []
    for p in sorted(d.iterdir()):
        m = SHARD_RE.match(p.name)
        if m and (split is None or m.group("split") == split):
            found.append(p)
    return found


def shard_info(path: str | os.PathLike) -> tuple[int, tuple[int, int] | None]:
    """(number of samples, (H, W) or None when empty) of one shard, read with a short-lived
    handle (nothing stays open for a fork). Unreadable -> ``InputError`` naming it."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            n = int(f["key"].shape[0])
            size = tuple(int(v) for v in f["blur"].shape[1:3]) if "blur" in f else None
    except (OSError, KeyError) as e:
        raise InputError(path, f"not a readable shard ({e})") from None
    return n, size
