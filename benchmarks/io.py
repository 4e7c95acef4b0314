"""Decode/read cost of the blurgen.io formats, in ms per item (median of several runs).

Usage: python benchmarks/io.py [--repeats N]

Images are synthetic but textured like camera frames (smooth structure plus sensor-like
noise), written to a temporary folder as PNG and JPEG (quality 95); flow is written as a
3-channel PFM and a Middlebury .flo.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def textured_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 RGB: upsampled random blobs, edges and mild noise."""
    import cv2

    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 255, size=(h // 16 + 1, w // 16 + 1, 3)).astype(np.float32)
    img = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC)
    y, x = np.mgrid[0:h, 0:w]
    img += 40 * np.sin(x[..., None] / 7.0) * (np.sin(y / 23.0)[..., None] > 0)
    img += rng.normal(0, 4, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def median_ms(fn, repeats: int) -> float:
    fn()  # warm up (page cache, lazy imports)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    import cv2
    import imageio.v2 as iio

    from blurgen.io.flo import read_flo, write_flo
    from blurgen.io.frames import image_size, read_image, write_image
    from blurgen.io.pfm import read_pfm_flow, write_pfm

    sizes = [(720, 1280), (540, 960)]
    rows: list[tuple[str, dict]] = []
    results: dict[tuple[str, tuple[int, int]], float] = {}
    info: dict[tuple[int, int], str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for h, w in sizes:
            img = textured_image(h, w)
            flow = np.random.default_rng(1).normal(0, 5, size=(h, w, 2)).astype(np.float32)
            png, jpg = tmp / f"f{w}.png", tmp / f"f{w}.jpg"
            pfm, flo = tmp / f"f{w}.pfm", tmp / f"f{w}.flo"
            write_image(png, img)
            write_image(jpg, img)
            write_pfm(pfm, flow)
            write_flo(flo, flow)
            info[(h, w)] = f"png {png.stat().st_size / 1e6:.2f} MB, jpg {jpg.stat().st_size / 1e6:.2f} MB"
            cases = {
                "PNG  cv2.imdecode (BGR)": lambda p=png: cv2.imdecode(np.fromfile(p, np.uint8), cv2.IMREAD_COLOR),
                "PNG  blurgen read_image": lambda p=png: read_image(p),
                "PNG  imageio.imread": lambda p=png: iio.imread(p),
                "JPEG cv2.imdecode (BGR)": lambda p=jpg: cv2.imdecode(np.fromfile(p, np.uint8), cv2.IMREAD_COLOR),
                "JPEG blurgen read_image": lambda p=jpg: read_image(p),
                "JPEG imageio.imread": lambda p=jpg: iio.imread(p),
                "PNG  image_size (header)": lambda p=png: image_size(p),
                "PFM  read_pfm_flow": lambda p=pfm: read_pfm_flow(p),
                "PFM  write_pfm": lambda p=pfm, f=flow: write_pfm(p, f),
                "FLO  read_flo": lambda p=flo: read_flo(p),
                "FLO  write_flo": lambda p=flo, f=flow: write_flo(p, f),
            }
            for name, fn in cases.items():
                results[(name, (h, w))] = median_ms(fn, args.repeats)
                if not any(r[0] == name for r in rows):
                    rows.append((name, {}))

    head = f"{'operation':<26}" + "".join(f"{f'{w}x{h} ms':>14}" for h, w in sizes)
    print(f"blurgen.io benchmark: median of {args.repeats} runs, ms per item, cv2 threads {cv2.getNumThreads()}")
    print(head)
    print("-" * len(head))
    for name, _ in rows:
        print(f"{name:<26}" + "".join(f"{results[(name, s)]:>14.2f}" for s in sizes))
    for (h, w), text in info.items():
        print(f"files {w}x{h}: {text}")


if __name__ == "__main__":
    main()
