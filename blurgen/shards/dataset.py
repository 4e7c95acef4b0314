"""A torch Dataset over shards (``ShardDataset``): crops, labels, masks, quality filters.

Built on ``ShardReader``; safe to hand to DataLoader workers (each reopens its files).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from blurgen.errors import InputError
from blurgen.shards.reader import ShardReader, list_shards, shard_info


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
            metas: list[dict[str, Any]] = []
            for p in self.paths:  # through ShardReader: its checks (links out of a shard) apply
                with ShardReader(p) as r:
                    metas.extend(r.meta(i) for i in range(len(r)))
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
            keys: list[str] = []
            for p in self.paths:  # through ShardReader: its checks (links out of a shard) apply
                with ShardReader(p) as r:
                    keys.extend(r.keys())
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
