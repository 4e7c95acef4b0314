"""The HDF5 shard schema (version 1): dataset names, dtypes and the in-memory sample."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCHEMA_VERSION = 1

# name -> (dtype, trailing shape after (H, W)); every array of a sample is (H, W, ...).
ARRAYS: dict[str, tuple[np.dtype, tuple[int, ...]]] = {
    "blur": (np.dtype(np.uint8), (3,)),       # blurred image, RGB
    "flow": (np.dtype(np.float32), (2,)),     # flow first -> last, pixels, [..., 0] = x
    "flow_bwd": (np.dtype(np.float32), (2,)),  # flow last -> first, when known
    "valid": (np.dtype(np.uint8), ()),        # 1 where ``flow`` is trusted (first frame's grid)
    "valid_bwd": (np.dtype(np.uint8), ()),    # 1 where ``flow_bwd`` is trusted (last frame's grid)
    "uncertainty": (np.dtype(np.float16), ()),      # expected EPE of ``flow`` per pixel, px (first frame's grid)
    "uncertainty_bwd": (np.dtype(np.float16), ()),  # the same for ``flow_bwd`` (last frame's grid)
    "first": (np.dtype(np.uint8), (3,)),      # sharp first frame
    "last": (np.dtype(np.uint8), (3,)),       # sharp last frame
}
REQUIRED = ("blur", "flow")


@dataclass
class Sample:
    """One dataset sample as a worker produces it.

    key: deterministic sample key, e.g. ``monkaa/family_x2/left/0007``.
    arrays: a subset of ``ARRAYS`` names -> arrays of the listed dtype, all (H, W, ...).
    meta: JSON-serialisable dict (source, frame indices, s, n, estimator, ...).
    """

    key: str
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)


OPTIONAL = ("flow_bwd", "valid", "valid_bwd", "uncertainty", "uncertainty_bwd", "first", "last")
STRING_DATASETS = ("key", "meta")


def canonical_meta(meta: dict[str, Any]) -> str:
    """``meta`` as canonical JSON text (sorted keys, no spaces, no NaN): what a shard stores.

    Raises ``TypeError`` / ``ValueError`` for values JSON cannot hold (numpy scalars,
    NaN, ...), so a job learns about them when the sample is made, not when it is read.
    """
    return json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def validate_sample(sample: Sample, size: tuple[int, int] | None = None) -> None:
    """Check a sample against the schema: known names, dtypes, shapes (H, W, ...) and meta.

    ``size`` (H, W), when given, is the size every array must have. Raises ``ValueError``
    naming the key and the array (a job that makes such a sample has a bug).
    """
    if not isinstance(sample.key, str) or not sample.key:
        raise ValueError(f"sample key must be a non-empty str, got {sample.key!r}")
    for name in REQUIRED:
        if name not in sample.arrays:
            raise ValueError(f"sample {sample.key}: missing required array {name!r}")
    for name, what in (("valid_bwd", "mask"), ("uncertainty_bwd", "uncertainty")):
        if name in sample.arrays and "flow_bwd" not in sample.arrays:
            raise ValueError(f"sample {sample.key}: {name!r} is the {what} of 'flow_bwd', which the sample lacks")
    hw = None
    for name, arr in sample.arrays.items():
        if name not in ARRAYS:
            raise ValueError(f"sample {sample.key}: unknown array {name!r} (known: {', '.join(ARRAYS)})")
        dtype, trailing = ARRAYS[name]
        if not isinstance(arr, np.ndarray):
            raise ValueError(f"sample {sample.key}: array {name!r} is {type(arr).__name__}, not ndarray")
        if arr.dtype != dtype:
            raise ValueError(f"sample {sample.key}: array {name!r} has dtype {arr.dtype}, schema says {dtype}")
        if arr.ndim != 2 + len(trailing) or tuple(arr.shape[2:]) != trailing:
            want = "(H, W" + "".join(f", {t}" for t in trailing) + ")"
            raise ValueError(f"sample {sample.key}: array {name!r} has shape {arr.shape}, schema says {want}")
        if hw is None:
            hw = tuple(arr.shape[:2])
        elif tuple(arr.shape[:2]) != hw:
            raise ValueError(f"sample {sample.key}: array {name!r} is {arr.shape[:2]}, others are {hw}")
    if size is not None and hw != tuple(size):
        raise ValueError(f"sample {sample.key}: arrays are {hw} (H, W) but the task says {tuple(size)}")
    try:
        canonical_meta(sample.meta)
    except (TypeError, ValueError) as e:
        raise ValueError(f"sample {sample.key}: meta is not plain JSON ({e})") from None


def sample_digest(key: str, arrays: dict[str, np.ndarray], meta: dict[str, Any] | str) -> str:
    """sha256 (hex) of a sample's content: key, each array's name, dtype, shape and bytes
    (names sorted) and the canonical meta JSON. Independent of how a shard stores it."""
    h = hashlib.sha256()
    h.update(b"blurgen-sample-v1\0")
    h.update(key.encode("utf-8") + b"\0")
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        head = f"{name}|{arr.dtype.str}|{','.join(map(str, arr.shape))}\0"
        h.update(head.encode("ascii"))
        h.update(arr.reshape(-1).view(np.uint8))  # the bytes, without a copy
    text = meta if isinstance(meta, str) else canonical_meta(meta)
    h.update(b"\0meta\0" + text.encode("utf-8"))
    return h.hexdigest()
