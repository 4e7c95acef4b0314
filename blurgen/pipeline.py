"""The one loop every dataset command runs (see docs/internals.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Task:
    """One sample to make.

    key: deterministic sample key (unique in a run); split: e.g. "train" / "test";
    size: (H, W) of the sample's arrays (shards hold one size); payload: JSON data the
    maker needs (paths relative to the job's input root, frame indices, ...).
    """

    key: str
    split: str
    size: tuple[int, int]
    payload: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
