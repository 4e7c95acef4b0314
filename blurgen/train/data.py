"""What a training run reads: its training shards, the validation set it selects on, the crop.

The rules (``build_datasets`` applies them; ``docs/training.md`` states them for users):

- **The test split is never opened.** Training shards are ``--train-split`` of
  ``--shards`` (``""``: every shard there except ``test`` and the validation split); a
  split named ``test`` is refused for training and for validation, and so is a
  ``--val-shards`` file or folder that holds only ``test`` shards (a folder's ``test``
  shards are left out). Test numbers come from ``blurgen eval`` afterwards.
- **Validation** (model selection: ``best.pt``) is, by ``--val-split``:
  ``holdout`` (default): a deterministic part of the training samples, chosen by key
  (``holdout_keys``) and removed from training; ``none``: no validation; another split
  name: the shards of that split in ``--shards``; or ``--val-shards``, an explicit set,
  which must share no key with the training samples.
- **Label quality** (docs/quality.md): ``--max-label-epe`` / ``--min-fidelity-db`` leave
  samples out of training by their stored estimates (``ShardDataset.quality_selection``);
  the validation set is chosen first, from every sample, and never filtered, so runs
  with and without a filter select ``best.pt`` on the same samples.
- **Crop**: ``cfg.crop`` None means 256 (the paper) where every training and validation
  frame is at least 256x256, else the largest multiple of 64 that fits every one of them
  (``resolve_crop``). An explicit crop that does not fit is an ``InputError``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from blurgen.errors import ConfigError, InputError
from blurgen.shards.dataset import ShardDataset
from blurgen.shards.reader import SHARD_RE, list_shards, shard_info
from blurgen.train.config import DEFAULT_CROP, TrainConfig
from blurgen.utils import key_digest

TEST_SPLIT = "test"
HOLDOUT = "holdout"
CROP_STEP = 64


def shard_split(path: Path) -> str | None:
    """The split in a shard's name (``train-00000-of-00002.h5`` -> ``train``), None if unnamed."""
    m = SHARD_RE.match(Path(path).name)
    return m.group("split") if m else None


def keys_sha256(keys) -> str:
    """sha256 (hex) of the sorted keys joined by newlines: names a set of samples."""
    return hashlib.sha256("\n".join(sorted(keys)).encode("utf-8")).hexdigest()


def holdout_keys(keys, fraction: float, salt: str) -> list[str]:
    """The validation keys carved out of training ``keys``, sorted.

    A key is held out when ``key_digest(salt + "/" + key) < fraction * 2**64``: the choice
    depends on the key alone (adding samples never moves another key), about ``fraction``
    of the keys. When that picks none, the key with the smallest digest is taken, so at
    least one is held out; with fewer than two keys nothing is (training needs one).
    """
    keys = sorted(set(keys))
    if len(keys) < 2:
        return []
    digest = {k: key_digest(f"{salt}/{k}") for k in keys}
    cut = fraction * 2.0**64
    held = [k for k in keys if digest[k] < cut]
    if not held:
        held = [min(keys, key=lambda k: (digest[k], k))]
    if len(held) == len(keys):
        held.remove(max(held, key=lambda k: (digest[k], k)))
    return held


class KeySubset:
    """The items ``indices`` of a ShardDataset (same item dicts; random crops keep the
    base dataset's index, so they stay fixed by (seed, epoch, index))."""

    def __init__(self, base: ShardDataset, indices: list[int]):
        self.base, self.indices = base, list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.base[self.indices[i]]

    def set_epoch(self, epoch: int) -> None:
        self.base.set_epoch(epoch)


class SkipSampler(torch.utils.data.Sampler):
    """The indices of the sampler ``base`` without its first ``skip`` (to resume inside an epoch)."""

    def __init__(self, base, skip: int):
        self.base, self.skip = base, int(skip)

    def __iter__(self):
        it = iter(self.base)
        for _ in range(self.skip):
            next(it, None)
        yield from it

    def __len__(self) -> int:
        return max(len(self.base) - self.skip, 0)


@dataclass
class TrainData:
    """What ``build_datasets`` resolved. ``selection``: how ``best.pt`` is chosen (JSON:
    ``on``, ``rule``, ``n``, ``keys_sha256``, and ``keys`` for a holdout)."""

    train: Any
    val: Any
    note: str
    crop: int
    crop_note: str | None
    train_paths: list[Path]
    selection: dict[str, Any] = field(default_factory=dict)
    train_keys: list[str] = field(default_factory=list)
    quality: dict[str, Any] = field(default_factory=dict)


def _refuse_test(path: Path, what: str) -> None:
    raise InputError(path, f"is a {TEST_SPLIT} shard; training never reads the test split ({what})",
                     "validate on the default holdout or on --val-shards of another split; "
                     "measure test EPE afterwards with blurgen eval")


def _shard_file(src: Path, what: str) -> list[Path]:
    """A single shard file given as ``what`` (``--shards`` or ``--val-shards``); never a test shard."""
    paths = list_shards(src)
    if shard_split(paths[0]) == TEST_SPLIT:
        _refuse_test(paths[0], what)
    return paths


def training_paths(cfg: TrainConfig) -> list[Path]:
    """The training shards: never ``test``, never the validation split."""
    src = Path(cfg.shards)
    if not src.is_dir():
        return _shard_file(src, "--shards")
    if cfg.train_split:
        return list_shards(src, cfg.train_split)
    skip = {TEST_SPLIT, cfg.val_split}
    paths = [p for p in list_shards(src) if shard_split(p) not in skip]
    if not paths:
        raise InputError(src, "no shards other than the test and validation splits", "point --shards at training data")
    return paths


def validation_paths(cfg: TrainConfig) -> list[Path]:
    """Shards of a separate validation set (``--val-shards`` or a named ``--val-split``)."""
    if cfg.val_shards:
        src = Path(cfg.val_shards)
        if not src.is_dir():
            return _shard_file(src, "--val-shards")
        if cfg.val_split not in (None, "", HOLDOUT, "none"):
            return list_shards(src, cfg.val_split)
        every = list_shards(src)
        paths = [p for p in every if shard_split(p) != TEST_SPLIT]
        if not paths:
            _refuse_test(every[0], f"--val-shards {src} holds only test shards")
        return paths
    if not Path(cfg.shards).is_dir():
        raise ConfigError(f"--val-split {cfg.val_split}: names shards of the --shards folder, but --shards is a "
                          "file; give the folder, --val-shards, or the default --val-split holdout")
    return list_shards(cfg.shards, cfg.val_split)


def resolve_crop(crop: int | None, sizes: list[tuple[Path, tuple[int, int]]]) -> tuple[int, str | None]:
    """(crop, note): ``crop`` if given and it fits every (H, W) in ``sizes``; None -> 256 when
    that fits, else the largest multiple of 64 that does, with a one-line note saying so."""
    if not sizes:
        return (crop or DEFAULT_CROP), None
    path, (h, w) = min(sizes, key=lambda ps: (min(ps[1]), str(ps[0])))
    fits = min(h, w) // CROP_STEP * CROP_STEP
    if crop is not None:
        if crop > min(h, w):
            raise InputError(path, f"frames are {h}x{w}, smaller than the {crop}x{crop} crop",
                             f"use --crop {fits} or less, or leave --crop out" if fits else
                             "B2F-net needs frames of at least 64x64")
        return crop, None
    if fits < CROP_STEP:
        raise InputError(path, f"frames are {h}x{w}, smaller than the 64x64 crop B2F-net needs at least",
                         "train on larger frames")
    if fits >= DEFAULT_CROP:
        return DEFAULT_CROP, None
    return fits, (f"crop {fits}x{fits}: the default {DEFAULT_CROP}x{DEFAULT_CROP} does not fit the "
                  f"{h}x{w} frames of {path.parent.name}/{path.name}; {fits} is the largest multiple of 64 that fits "
                  "every shard")


def shard_sizes(paths: list[Path]) -> list[tuple[Path, tuple[int, int]]]:
    """(path, (H, W)) of every shard in ``paths`` that holds samples (empty ones left out)."""
    out = []
    for p in paths:
        n, size = shard_info(p)
        if n and size is not None:
            out.append((p, size))
    return out


def build_datasets(cfg: TrainConfig) -> TrainData:
    """The training and validation datasets of ``cfg`` (see the module doc for the rules)."""
    if cfg.val_shards in ("", "none"):
        cfg = replace(cfg, val_shards=None)
    train_paths = training_paths(cfg)
    separate = bool(cfg.val_shards) or cfg.val_split not in (None, "", HOLDOUT, "none")
    val_paths = validation_paths(cfg) if separate else []
    if set(map(Path.resolve, val_paths)) & set(map(Path.resolve, train_paths)):
        raise ConfigError("the validation shards are training shards too: give --val-shards another folder")
    crop, crop_note = resolve_crop(cfg.crop, shard_sizes(train_paths + val_paths))
    weighted = cfg.uncertainty_weight is not None
    full = ShardDataset(train_paths, crop=crop, crop_mode=cfg.crop_mode, seed=cfg.seed, uncertainty=weighted)
    if len(full) == 0:
        raise InputError(cfg.shards, f"no training samples (split {cfg.train_split!r})", "check --shards / --train-split")
    keys = full.keys()
    data = TrainData(full, None, "no validation", crop, crop_note, train_paths, {"on": "none"}, keys)
    keep = _quality_filter(cfg, full, data)
    if separate:
        val = ShardDataset(val_paths, crop=crop, crop_mode="center", seed=cfg.seed)
        shared = set(val.keys()) & set(keys)
        if shared:
            raise InputError(val_paths[0], f"{len(shared)} validation key(s) are training keys too "
                             f"(e.g. {sorted(shared)[0]})", "validate on samples the run does not train on")
        where = f"--val-shards {cfg.val_shards}" if cfg.val_shards else f"split {cfg.val_split!r}"
        data.val, data.note = val, f"validation on {where} ({len(val)} samples)"
        data.selection = {"on": where, "rule": "a separate set of shards", "n": len(val),
                          "shards": [p.name for p in val_paths], "keys_sha256": keys_sha256(val.keys())}
    elif cfg.val_split == HOLDOUT:
        held = set(holdout_keys(keys, cfg.val_fraction, cfg.val_salt))
        if not held:
            data.note = "no validation (a single training sample: nothing to hold out)"
            return _train_subset(data, full, keep, held)
        val_base = ShardDataset(train_paths, crop=crop, crop_mode="center", seed=cfg.seed)
        data.val = KeySubset(val_base, [i for i, k in enumerate(keys) if k in held])
        data.note = (f"validation on a holdout of {len(data.val)} of the {len(keys)} training samples "
                     f"(--val-fraction {cfg.val_fraction:g} by key hash)")
        data.selection = {
            "on": HOLDOUT, "n": len(data.val), "fraction": cfg.val_fraction, "salt": cfg.val_salt,
            "rule": "key k is held out when the first 8 bytes (little endian) of sha256(salt + '/' + k) "
                    "< fraction * 2**64; at least one key, never all",
            "keys": sorted(held), "keys_sha256": keys_sha256(held),
        }
        return _train_subset(data, full, keep, held)
    return _train_subset(data, full, keep, set())


def _quality_filter(cfg: TrainConfig, full: ShardDataset, data: TrainData) -> list[bool] | None:
    """The keep flag of every training sample under the quality filters (None: no filter),
    recorded in ``data.quality``."""
    if cfg.uncertainty_weight is not None:
        data.quality["uncertainty_weight"] = cfg.uncertainty_weight
    if cfg.max_label_epe is None and cfg.min_fidelity_db is None:
        return None
    keep, unrated = full.quality_selection(cfg.max_label_epe, cfg.min_fidelity_db)
    data.quality.update(max_label_epe=cfg.max_label_epe, min_fidelity_db=cfg.min_fidelity_db,
                        dropped=None, unrated=unrated,
                        rule="a sample is left out of training when its label_epe_est > max_label_epe or its "
                             "fidelity_db_est < min_fidelity_db; one without the estimate is kept; "
                             "validation is not filtered")
    return keep


def _train_subset(data: TrainData, full: ShardDataset, keep: list[bool] | None, held: set[str]) -> TrainData:
    """Training = every sample not held out for validation that the quality filters keep."""
    keys = full.keys()
    if keep is None and not held:
        return data
    idx = [i for i, k in enumerate(keys) if k not in held and (keep is None or keep[i])]
    if keep is not None:
        data.quality["dropped"] = sum(1 for i, k in enumerate(keys) if k not in held and not keep[i])
    if not idx:
        raise InputError(data.train_paths[0], "the quality filters leave no training sample "
                         f"({data.quality.get('dropped', 0)} left out)", "relax --max-label-epe / --min-fidelity-db")
    data.train = KeySubset(full, idx)
    data.train_keys = [keys[i] for i in idx]
    if keep is not None:
        data.note += f"; {data.quality['dropped']} sample(s) left out of training by the quality filters"
    return data
