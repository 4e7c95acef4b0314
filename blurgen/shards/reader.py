"""Read HDF5 shards (schema 1): one shard by index or key, and a torch Dataset over many.

Files are opened lazily, on first access, in the process that reads them, and reopened
after a fork: a ``ShardReader`` or ``ShardDataset`` made in the main process is safe to
hand to DataLoader workers. A crop reads only the HDF5 chunks (tiles) it overlaps.
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
    sorted by name, or the given file list as is."""
    if isinstance(paths_or_dir, (str, os.PathLike)) and Path(paths_or_dir).is_dir():
        d = Path(paths_or_dir)
        found = []
        for p in sorted(d.iterdir()):
            m = SHARD_RE.match(p.name)
            if m and (split is None or m.group("split") == split):
                found.append(p)
        if not found:
            what = f"no '{split}-*-of-*.h5' shards" if split else "no '*-of-*.h5' shards"
            raise InputError(d, what, "point at the --out folder of a dataset run")
        return found
    if isinstance(paths_or_dir, (str, os.PathLike)):
        paths_or_dir = [paths_or_dir]
    out = [Path(p) for p in paths_or_dir]
    for p in out:
        if not p.is_file():
            raise InputError(p, "shard not found")
    return out


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


class ShardDataset:
    """A torch Dataset over shards. Item ``i`` is a dict:

    - ``blur``: (3, h, w) float32 in [0, 1], RGB;
    - ``flow``: (2, h, w) float32, pixels, [0] = x; ``flow_bwd`` likewise, NaN-filled when
      the shard has none;
    - ``valid``: (h, w) float32, 1 where ``flow`` is trusted, on the first frame's grid
      (all ones when the shard has no ``valid``);
    - ``valid_bwd``: (h, w) float32, 1 where ``flow_bwd`` is trusted, on the last frame's
      grid. A shard without ``valid_bwd`` (no mask was stored, e.g. exact ground truth, or
      a shard written before blurgen stored it) gives all ones, as a missing ``valid``
      does: ``valid`` is never reused, it marks pixels of the other frame. Non-finite
      labels are excluded by the metrics and the loss either way;
    - ``key``: str; ``source``: ``meta["source"]`` (or "" when absent);
    - with ``uncertainty=True`` also ``uncertainty`` and ``uncertainty_bwd``: (h, w) float32,
      the expected EPE of ``flow`` / ``flow_bwd`` per pixel (px); zeros where the shard has
      none (exact labels: Monkaa, the procedural sample; or real blur written before the
      estimates existed), so such pixels count as exact.

    Quality filters (docs/quality.md): ``max_label_epe`` leaves out samples whose
    ``meta["label_epe_est"]`` is larger; ``min_fidelity_db`` those whose
    ``meta["fidelity_db_est"]`` is smaller. A sample without the estimate is kept (exact
    labels, real blur, or shards from before the estimates: ``dropped`` counts what a
    filter removed, ``unrated`` what it could not judge). The filters select items once,
    when the dataset is built; ``len``, ``keys`` and indices are those of the kept samples.

    crop: int or (h, w); crop_mode ``"center"`` (the paper's 256x256 central crop),
    ``"random"`` (uniform position, deterministic given ``(seed, epoch, index)``; call
    ``set_epoch`` each epoch) or ``"none"`` (full frames; batches then need one size).
    A frame smaller than the crop raises ``InputError`` naming the shard (no padding, so a
    label is never invented).
    """

    def __init__(
        self,
        shard_paths_or_dir: str | os.PathLike | Sequence[str | os.PathLike],
        split: str | None = None,
        crop: int | tuple[int, int] | None = 256,
        crop_mode: str = "center",
        seed: int = 0,
        max_label_epe: float | None = None,
        min_fidelity_db: float | None = None,
        uncertainty: bool = False,
    ):
        if crop_mode not in ("center", "random", "none"):
            raise ValueError(f"crop_mode must be 'center', 'random' or 'none', got {crop_mode!r}")
        if crop is None:
            crop_mode = "none"
        self.crop = None if crop is None else ((crop, crop) if isinstance(crop, int) else tuple(crop))
        self.crop_mode = crop_mode
        self.seed = int(seed)
        self.epoch = 0
        self.paths = list_shards(shard_paths_or_dir, split)
        self.readers = [ShardReader(p) for p in self.paths]
        # Read lengths and sizes with short-lived handles: nothing stays open for fork.
        self._offsets = [0]
        self._sizes = []
        for p in self.paths:
            n, size = shard_info(p)
            if n and self.crop_mode != "none":
                ch, cw = self.crop
                if size[0] < ch or size[1] < cw:
                    raise InputError(
                        p, f"frames are {size[0]}x{size[1]}, smaller than the {ch}x{cw} crop", "use a smaller crop"
                    )
            self._offsets.append(self._offsets[-1] + n)
            self._sizes.append(size)
        self.uncertainty = bool(uncertainty)
        self._selected: list[int] | None = None  # dataset index -> index over every shard sample
        self.dropped = self.unrated = 0
        if max_label_epe is not None or min_fidelity_db is not None:
            keep, self.unrated = self.quality_selection(max_label_epe, min_fidelity_db)
            self._all_keys = self.keys()
            self._selected = [i for i, k in enumerate(keep) if k]
            self.dropped = len(keep) - len(self._selected)
            self._keys = [self._all_keys[i] for i in self._selected]

    def metas(self) -> list[dict[str, Any]]:
        """Every stored sample's meta in stored order (before any filter; read once with
        short-lived handles)."""
        if getattr(self, "_metas", None) is None:
            import h5py

            metas: list[dict[str, Any]] = []
            for p in self.paths:
                with h5py.File(p, "r") as f:
                    metas.extend(json.loads(v.decode("utf-8") if isinstance(v, bytes) else v) for v in f["meta"][()])
            self._metas = metas
        return self._metas

    def quality_selection(self, max_label_epe: float | None = None,
                          min_fidelity_db: float | None = None) -> tuple[list[bool], int]:
        """(keep flag of every stored sample, number of samples the given filters could not
        judge: no estimate, so kept). See the class doc for the rule."""
        keep, unrated = [], 0
        for m in self.metas():
            ok, judged = True, False
            if max_label_epe is not None and m.get("label_epe_est") is not None:
                judged, ok = True, ok and float(m["label_epe_est"]) <= max_label_epe
            if min_fidelity_db is not None and m.get("fidelity_db_est") is not None:
                judged, ok = True, ok and float(m["fidelity_db_est"]) >= min_fidelity_db
            keep.append(ok)
            unrated += not judged
        return keep, unrated

    def __len__(self) -> int:
        return self._offsets[-1] if self._selected is None else len(self._selected)

    def set_epoch(self, epoch: int) -> None:
        """Random crops depend on (seed, epoch, index)."""
        self.epoch = int(epoch)

    def locate(self, index: int) -> tuple[int, int]:
        """(shard number, index inside that shard) of dataset item ``index``."""
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        if self._selected is not None:
            index = self._selected[index]
        s = int(np.searchsorted(self._offsets, index, side="right")) - 1
        return s, index - self._offsets[s]

    def keys(self) -> list[str]:
        """Every sample's key in dataset order (read once with short-lived handles)."""
        if getattr(self, "_keys", None) is None:
            import h5py

            keys: list[str] = []
            for p in self.paths:
                with h5py.File(p, "r") as f:
                    keys.extend(k.decode("utf-8") if isinstance(k, bytes) else str(k) for k in f["key"][()])
            self._keys = keys
        return self._keys

    def index_of(self, key: str) -> int:
        """Dataset index of the sample with ``key``."""
        if getattr(self, "_key_index", None) is None:
            self._key_index = {k: i for i, k in enumerate(self.keys())}
        try:
            return self._key_index[key]
        except KeyError:
            raise KeyError(f"no sample with key {key!r} in {len(self.paths)} shard(s)") from None

    def crop_box(self, index: int) -> tuple[int, int, int, int] | None:
        """(y0, x0, h, w) the item ``index`` is cut to (None for full frames)."""
        if self.crop_mode == "none":
            return None
        s, _ = self.locate(index)
        H, W = self._sizes[s]
        h, w = self.crop
        if self.crop_mode == "center":
            return ((H - h) // 2, (W - w) // 2, h, w)
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, self.epoch, index])
        return (int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1)), h, w)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        s, i = self.locate(int(index))
        reader = self.readers[s]
        box = self.crop_box(int(index))
        wanted = ("blur", "flow", "flow_bwd", "valid", "valid_bwd")
        if self.uncertainty:
            wanted += ("uncertainty", "uncertainty_bwd")
        arrays = reader.read(i, crop=box, names=[n for n in wanted if n in reader.names])
        blur = torch.from_numpy(arrays["blur"]).permute(2, 0, 1).float().div_(255.0)
        flow = torch.from_numpy(arrays["flow"]).permute(2, 0, 1).contiguous()
        h, w = blur.shape[1:]
        if "flow_bwd" in arrays:
            flow_bwd = torch.from_numpy(arrays["flow_bwd"]).permute(2, 0, 1).contiguous()
        else:
            flow_bwd = torch.full((2, h, w), float("nan"))
        valid = torch.from_numpy(arrays["valid"]).float() if "valid" in arrays else torch.ones((h, w))
        valid_bwd = torch.from_numpy(arrays["valid_bwd"]).float() if "valid_bwd" in arrays else torch.ones((h, w))
        meta = reader.meta(i)
        item = {
            "blur": blur,
            "flow": flow,
            "flow_bwd": flow_bwd,
            "valid": valid,
            "valid_bwd": valid_bwd,
            "key": reader.keys()[i],
            "source": str(meta.get("source", "")),
        }
        if self.uncertainty:
            for name in ("uncertainty", "uncertainty_bwd"):
                item[name] = (torch.from_numpy(arrays[name]).float() if name in arrays else torch.zeros((h, w)))
        return item
