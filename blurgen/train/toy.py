"""A small learnable dataset: random textures translated by a known flow and blurred by
averaging the moving copies. For smoke tests and benchmarks of the training stack (the
flow is recoverable from the blur), not a substitute for the real datasets.

Each sample: a smooth random texture T; a global motion d = (dx, dy) px with dx in
[min_mag, max_mag] (always positive, so the direction is not ambiguous) and
dy in [-max_mag, max_mag]; first(x) = T(x), last(x) = T(x - d);
blur(x) = mean over t in [0, 1] (``n`` steps) of T(x - t d); flow = d everywhere;
flow_bwd = -d. Rendering is done at ``oversample`` times the resolution and averaged
down, so sub-pixel motion is represented.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from blurgen.shards.schema import Sample
from blurgen.shards.writer import write_shard
from blurgen.utils import rng_for


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(h, w, 3) float32 in [0, 1]: sum of random blobs at three scales."""
    out = np.zeros((h, w, 3), np.float32)
    for cell, amp in ((16, 0.5), (6, 0.3), (2, 0.2)):
        gh, gw = h // cell + 2, w // cell + 2
        g = rng.random((gh, gw, 3)).astype(np.float32)
        ys = np.linspace(0, gh - 1.001, h)
        xs = np.linspace(0, gw - 1.001, w)
        y0, x0 = ys.astype(int), xs.astype(int)
        fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
        a = g[y0][:, x0]
        b = g[y0][:, x0 + 1]
        c = g[y0 + 1][:, x0]
        d = g[y0 + 1][:, x0 + 1]
        out += amp * ((1 - fy) * ((1 - fx) * a + fx * b) + fy * ((1 - fx) * c + fx * d))
    return out


def toy_sample(key: str, rng: np.random.Generator, size: tuple[int, int] = (64, 64), min_mag: float = 1.0,
               max_mag: float = 6.0, n: int = 9, oversample: int = 4) -> Sample:
    """One toy sample (see the module doc) as a shard ``Sample``."""
    h, w = size
    m = int(np.ceil(max_mag)) + 2
    s = oversample
    tex = _texture(rng, (h + 2 * m) * s, (w + 2 * m) * s)
    d = np.array([rng.uniform(min_mag, max_mag), rng.uniform(-max_mag, max_mag)], np.float32)
    acc = np.zeros((h * s, w * s, 3), np.float32)
    frames = []
    for t in np.linspace(0.0, 1.0, n):
        ox, oy = int(round(t * d[0] * s)), int(round(t * d[1] * s))
        # frame(x) = T(x - t d): read the texture shifted back by t d
        f = tex[m * s - oy: m * s - oy + h * s, m * s - ox: m * s - ox + w * s]
        acc += f
        frames.append(f)

    def down(a: np.ndarray) -> np.ndarray:
        return a.reshape(h, s, w, s, 3).mean(axis=(1, 3))

    def u8(a: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)

    flow = np.broadcast_to(d, (h, w, 2)).astype(np.float32).copy()
    arrays = {
        "blur": u8(down(acc / n)), "flow": flow, "flow_bwd": -flow,
        "first": u8(down(frames[0])), "last": u8(down(frames[-1])),
    }
    return Sample(key=key, arrays=arrays, meta={"source": "toy", "dx": float(d[0]), "dy": float(d[1])})


def write_toy_shards(out: str | os.PathLike, n_train: int = 8, n_test: int = 4, size: tuple[int, int] = (64, 64),
                     seed: int = 0, samples_per_shard: int = 8, **kw) -> list[Path]:
    """Write ``train-*`` and ``test-*`` toy shards into ``out``; returns the shard paths."""
    out = Path(out)
    paths = []
    for split, count in (("train", n_train), ("test", n_test)):
        keys = [f"toy/{split}/{i:05d}" for i in range(count)]
        samples = [toy_sample(k, rng_for(seed, k), size, **kw) for k in keys]
        chunks = [samples[i:i + samples_per_shard] for i in range(0, count, samples_per_shard)]
        for j, chunk in enumerate(chunks):
            p = out / f"{split}-{j:05d}-of-{len(chunks):05d}.h5"
            write_shard(p, chunk, compression="none")
            paths.append(p)
    return paths
