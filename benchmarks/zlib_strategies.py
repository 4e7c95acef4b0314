"""zlib's strategies on shard chunks of real content: bytes kept and speed.

The shards' gzip-1 is zlib level 1 with the default strategy (a match search) over the
byte-shuffled tiles of each array. This compares it with the run-length strategy (Z_RLE:
matches of distance 1 only) and Huffman coding alone, on real frames and the DIS flows
between them: the pairs of ``../shared/realdata`` (SceneFlow 960x540, Sintel alley_1
1024x436). Speed is one thread's MiB of raw bytes per second (CPU time).

    python benchmarks/zlib_strategies.py [--realdata DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blurgen.shards.packed import _tiles  # noqa: E402
from blurgen.shards.writer import DEFAULT_TILE  # noqa: E402

PAIRS = [("sceneflow", "left_0.png", "right_0.png"), ("sintel_alley_1", "frame_0002.png", "frame_0003.png")]
STRATEGIES = [("default (gzip-1)", zlib.Z_DEFAULT_STRATEGY), ("run-length", zlib.Z_RLE),
              ("Huffman only", zlib.Z_HUFFMAN_ONLY)]


def measure(arr: np.ndarray, strategy: int, repeats: int = 3) -> tuple[float, float]:
    """(compressed / raw bytes, MiB/s) of ``arr``'s shuffled tiles at level 1."""
    _, _, tiles = _tiles(np.ascontiguousarray(arr), DEFAULT_TILE)
    raw = sum(memoryview(t).nbytes for t in tiles)
    t0 = time.process_time()
    for _ in range(repeats):
        n = 0
        for t in tiles:
            c = zlib.compressobj(1, zlib.DEFLATED, 15, 8, strategy)
            n += len(c.compress(memoryview(t))) + len(c.flush())
    dt = (time.process_time() - t0) / repeats
    return n / raw, raw / 2**20 / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--realdata", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "realdata")
    args = ap.parse_args()
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    print("| pair | array | strategy | bytes kept | MiB/s | size vs gzip-1 | speed vs gzip-1 |")
    print("|---|---|---|---|---|---|---|")
    for folder, f0, f1 in PAIRS:
        a, b = (cv2.imread(str(args.realdata / folder / f)) for f in (f0, f1))
        if a is None or b is None:
            sys.exit(f"{args.realdata / folder}: frames missing (give --realdata)")
        flow = dis.calc(cv2.cvtColor(a, cv2.COLOR_BGR2GRAY), cv2.cvtColor(b, cv2.COLOR_BGR2GRAY), None)
        for name, arr in (("image (uint8 x3)", a[..., ::-1]), ("DIS flow (float32 x2)", flow)):
            base = None
            for label, strategy in STRATEGIES:
                ratio, speed = measure(arr, strategy)
                base = base or (ratio, speed)
                print(f"| {folder} | {name} | {label} | {ratio:.3f} | {speed:.0f} | {ratio / base[0]:.2f}x | "
                      f"{speed / base[1]:.2f}x |")


if __name__ == "__main__":
    main()
