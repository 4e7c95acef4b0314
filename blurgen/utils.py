"""Small helpers shared by every stage: deterministic seeding and hashing."""

from __future__ import annotations

import hashlib

import numpy as np


def key_digest(key: str) -> int:
    """A stable 64-bit integer from a sample key (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")


def rng_for(seed: int, key: str) -> np.random.Generator:
    """The random generator of one sample: fixed by the run's seed and the sample's key."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, key_digest(key)])
