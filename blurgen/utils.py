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


def load_refusal(err: BaseException) -> str:
    """The informative part of a ``torch.load`` failure, on one line.

    For the weights-only loader's refusal that is the ``Unsupported global: ...`` line (the
    object the file wanted to build), not torch's first line, which explains how to turn the
    safe loader off; for other errors, the first line of the message.
    """
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    for line in text.splitlines():
        if "Unsupported global" in line or "Unsupported operand" in line:
            return line.split("error:", 1)[-1].split(" was not", 1)[0].strip().rstrip(".")
    if "Weights only load failed" in text:
        return "the file holds objects other than tensors and plain containers"
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first or type(err).__name__
