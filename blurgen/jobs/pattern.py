"""``pattern``: a small deterministic job for tests and benchmarks (no models, no datasets).

Each sample's arrays are drawn from its rng (seed + key). With an input root, sample ``i``
also reads input file ``i mod n`` (all files under the root, sorted) and mixes its bytes
into ``blur``, so changing an input changes the dataset and the inputs-hashing path runs.

params (all optional):
- ``splits``: {split: count}, default {"train": 24}; keys are ``pattern/{split}/{i:05d}``;
- ``sizes``: [[H, W], ...], default [[24, 32]]; sample i gets ``sizes[i % len(sizes)]``;
- ``arrays``: names to make, default ["blur", "flow"] (any of the schema's arrays);
- ``content``: "noise" (default, fast) or "smooth" (textured images and smooth flow
  fields, compressible like real data; for benchmarks);
- ``bad_keys``: keys whose ``make`` raises ``InputError`` (a bad input file);
- ``skip_keys``: keys whose ``make`` raises ``SkipSample("pattern skip")``;
- ``planned_skip_keys``: keys dropped while planning (reported by ``planned_skips``);
- ``delay_s``: seconds to sleep in each ``make`` (to kill a run at a chosen moment).

``python -m blurgen.commands.pattern --out O [--n N] [--size HxW] [pipeline flags]`` runs it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from blurgen.errors import ConfigError, InputError, SkipSample
from blurgen.jobs.base import Task
from blurgen.shards.schema import ARRAYS, Sample

DEFAULTS: dict[str, Any] = {
    "splits": {"train": 24},
    "sizes": [[24, 32]],
    "arrays": ["blur", "flow"],
    "content": "noise",
    "bad_keys": [],
    "skip_keys": [],
    "planned_skip_keys": [],
    "delay_s": 0.0,
}


def smooth_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A textured RGB image (H, W, 3) uint8: a few oriented gratings, blobs and mild noise."""
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    img = np.zeros((h, w, 3), np.float32)
    for _ in range(6):
        fx, fy = rng.uniform(-40, 40, 2)
        phase = rng.uniform(0, 2 * np.pi)
        colour = rng.uniform(-40, 40, 3).astype(np.float32)
        img += np.sin(2 * np.pi * (fx * x + fy * y) + phase)[..., None] * colour
    for _ in range(8):
        cy, cx, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.03, 0.2)
        blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))
        img += blob[..., None] * rng.uniform(-80, 80, 3).astype(np.float32)
    img += 128 + rng.normal(0, 3, (h, w, 3)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def smooth_flow(rng: np.random.Generator, h: int, w: int, max_px: float = 20.0) -> np.ndarray:
    """A smooth flow field (H, W, 2) float32, pixels: affine motion plus low-frequency waves."""
    y = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    flow = np.empty((h, w, 2), np.float32)
    for c in range(2):
        a = rng.uniform(-1, 1, 3).astype(np.float32)
        f = a[0] + a[1] * x + a[2] * y
        for _ in range(2):
            fx, fy = rng.uniform(-2, 2, 2)
            f = f + 0.3 * np.sin(np.pi * (fx * x + fy * y) + rng.uniform(0, 2 * np.pi))
        flow[..., c] = f * (max_px / 2)
    return flow


@dataclass
class PatternJob:
    """See the module docstring. ``root`` may be None (no input files)."""

    root: Path | None
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "pattern"

    def __post_init__(self) -> None:
        unknown = set(self.params) - set(DEFAULTS)
        if unknown:
            raise ConfigError(f"pattern job: unknown params {sorted(unknown)}; known: {sorted(DEFAULTS)}")
        p = {**DEFAULTS, **self.params}
        for name in p["arrays"]:
            if name not in ARRAYS:
                raise ConfigError(f"pattern job: unknown array {name!r}")
        if p["content"] not in ("noise", "smooth"):
            raise ConfigError(f"pattern job: content must be 'noise' or 'smooth', got {p['content']!r}")
        self._p = p
        self._files: list[str] | None = None

    def _all_keys(self) -> list[tuple[str, str, int]]:
        return [(f"pattern/{split}/{i:05d}", split, i) for split, n in self._p["splits"].items() for i in range(int(n))]

    def tasks(self) -> list[Task]:
        sizes = self._p["sizes"]
        planned = set(self._p["planned_skip_keys"])
        return [
            Task(key, split, tuple(int(v) for v in sizes[i % len(sizes)]), {"i": i})
            for key, split, i in self._all_keys()
            if key not in planned
        ]

    def planned_skips(self) -> list[dict[str, Any]]:
        return [{"key": k, "reason": "planned skip"} for k, _, _ in self._all_keys() if k in set(self._p["planned_skip_keys"])]

    def inputs(self) -> list[str]:
        if self._files is None:
            if self.root is None:
                self._files = []
            else:
                if not Path(self.root).is_dir():
                    raise InputError(self.root, "input root is not a folder")
                self._files = sorted(p.relative_to(self.root).as_posix() for p in Path(self.root).rglob("*") if p.is_file())
        return self._files

    def checkpoints(self) -> list[str]:
        return []

    def make(self, task: Task, rng: np.random.Generator) -> Sample:
        p = self._p
        if p["delay_s"]:
            time.sleep(float(p["delay_s"]))
        if task.key in p["bad_keys"]:
            raise InputError(f"pattern/{task.key}.png", "corrupt input (injected)", "remove it or use --on-error skip")
        if task.key in p["skip_keys"]:
            raise SkipSample("pattern skip", i=task.payload["i"])
        h, w = task.size
        arrays: dict[str, np.ndarray] = {}
        for name in p["arrays"]:
            dtype, trailing = ARRAYS[name]
            if p["content"] == "smooth" and name in ("blur", "first", "last"):
                arrays[name] = smooth_image(rng, h, w)
            elif p["content"] == "smooth" and name in ("flow", "flow_bwd"):
                arrays[name] = smooth_flow(rng, h, w)
            elif name in ("valid", "valid_bwd"):
                arrays[name] = (rng.random((h, w)) < 0.9).astype(np.uint8)
            elif dtype == np.uint8:
                arrays[name] = rng.integers(0, 256, (h, w, *trailing), dtype=np.uint8)
            else:
                arrays[name] = (rng.standard_normal((h, w, *trailing)) * 5).astype(np.float32)
        meta: dict[str, Any] = {"source": "pattern", "i": task.payload["i"]}
        files = self.inputs()
        if files:
            rel = files[task.payload["i"] % len(files)]
            data = (Path(self.root) / rel).read_bytes()
            arrays["blur"] = arrays["blur"] ^ np.uint8(hashlib.sha256(data).digest()[0])
            meta["input"] = rel
        return Sample(task.key, arrays, meta)


def build(params: dict[str, Any], root: Path | None) -> PatternJob:
    return PatternJob(root, dict(params))
