"""The HDF5 shard schema (version 1): dataset names, dtypes and the in-memory sample."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCHEMA_VERSION = 1

# name -> (dtype, trailing shape after (H, W)); every array of a sample is (H, W, ...).
ARRAYS: dict[str, tuple[np.dtype, tuple[int, ...]]] = {
    "blur": (np.dtype(np.uint8), (3,)),       # blurred image, RGB
    "flow": (np.dtype(np.float32), (2,)),     # flow first -> last, pixels, [..., 0] = x
    "flow_bwd": (np.dtype(np.float32), (2,)),  # flow last -> first, when known
    "valid": (np.dtype(np.uint8), ()),        # 1 where the label is trusted
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
