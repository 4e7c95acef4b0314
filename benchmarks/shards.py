"""Shard storage: compression x chunk layout, size and speed, and the training read rate.

For blur + flow + flow_bwd samples at 960x540 (Monkaa) and 1280x720 (GoPro) with realistic
content (the procedural sample's scenes: textured layers, smooth piecewise-affine flow,
7 rendered frames averaged into the blur; smooth synthetic content if that module is
missing), writes one shard per (compression, tile) and reports:

  MB/sample      file bytes / samples
  write ms       write_shard time per sample (compression + HDF5), CPU time
  read ms        one whole sample, all three arrays, CPU time
  crop ms        one random 256x256 crop of all three arrays, CPU time (wall in brackets)
  crops/s        1000 / crop CPU ms: what one DataLoader worker with a core to itself reads

then ShardDataset random-crop items per second on the default layout. Times are process
CPU time because the machine this runs on is shared (wall time is printed too). The
rendered samples are repeated under new keys so that every crop reads other chunks than
the last ones (a training run's random crops over thousands of samples never hit HDF5's
chunk cache). Reads come from the page cache (a warm dataset); cold reads add disk time.

    python benchmarks/shards.py [--samples 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blurgen.shards.dataset import ShardDataset
from blurgen.shards.reader import ShardReader  # noqa: E402
from blurgen.shards.schema import Sample  # noqa: E402
from blurgen.shards.writer import DEFAULT_COMPRESSION, DEFAULT_TILE, write_shard  # noqa: E402

SIZES = [(540, 960), (720, 1280)]


def realistic_samples(n: int, h: int, w: int, seed: int = 0) -> tuple[list[Sample], str]:
    """n samples: blur = mean of 7 rendered frames, flow / flow_bwd exact between the ends."""
    try:
        from blurgen.sources.procedural.catalog import build_scene, sequences

        specs = [s for s in sequences() if s.style in ("handheld", "tracking", "monkaa")]
        out = []
        for i in range(n):
            scene = build_scene(specs[i % len(specs)], seed + i, w, h)
            t0 = float(i)
            frames = [scene.render(t0 + k) for k in range(7)]
            blur = np.clip(np.rint(np.mean(frames, axis=0)), 0, 255).astype(np.uint8)
            out.append(Sample(f"bench/{i}", {
                "blur": blur,
                "flow": scene.flow(t0, t0 + 6).astype(np.float32),
                "flow_bwd": scene.flow(t0 + 6, t0).astype(np.float32),
            }, {"source": "procedural"}))
        return out, "procedural scenes (blurgen.sources.procedural)"
    except ImportError:
        from blurgen.jobs.pattern import smooth_flow, smooth_image

        rng = np.random.default_rng(seed)
        return [Sample(f"bench/{i}", {"blur": smooth_image(rng, h, w), "flow": smooth_flow(rng, h, w),
                                      "flow_bwd": smooth_flow(rng, h, w)}, {}) for i in range(n)], "smooth synthetic"


def repeated(samples: list[Sample], n: int) -> list[Sample]:
    """``n`` samples cycling through ``samples`` under distinct keys."""
    return [Sample(f"{samples[i % len(samples)].key}/{i}", samples[i % len(samples)].arrays, {}) for i in range(n)]


def measure(path: Path, samples: list[Sample], comp: str, tile: int, crops: int, rng) -> dict[str, float]:
    cpu = time.process_time
    t = cpu()
    write_shard(path, samples, compression=comp, tile=tile)
    write_ms = (cpu() - t) * 1000 / len(samples)
    mb = path.stat().st_size / len(samples) / 1e6
    with ShardReader(path) as r:
        r.read(0)  # open + warm the page cache
        t = cpu()
        for i in range(len(samples)):
            r.read(i)
        read_ms = (cpu() - t) * 1000 / len(samples)
        H, W = r.size
        # each crop from the next sample: no chunk-cache hits, as in training
        boxes = [(k % len(samples), int(rng.integers(0, H - 255)), int(rng.integers(0, W - 255))) for k in range(crops)]
        t, tw = cpu(), time.perf_counter()
        for i, y0, x0 in boxes:
            r.read(i, crop=(y0, x0, 256, 256))
        crop_ms = (cpu() - t) * 1000 / crops
        crop_wall = (time.perf_counter() - tw) * 1000 / crops
    return {"mb": mb, "write": write_ms, "read": read_ms, "crop": crop_ms, "crop_wall": crop_wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=3, help="distinct rendered samples per size")
    ap.add_argument("--samples", type=int, default=12, help="samples per shard (scenes repeated)")
    ap.add_argument("--crops", type=int, default=60, help="random crops timed per layout")
    ap.add_argument("--quick", action="store_true", help="default layout and gzip only")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    comps = ["none", "lzf", "gzip-1", "gzip-4"]
    try:
        import hdf5plugin  # noqa: F401

        comps.append("blosc-zstd")
    except ImportError:
        print("(hdf5plugin not installed: blosc-zstd not measured)")
    tiles = [0, 64, 128, 256]
    if args.quick:
        comps, tiles = [DEFAULT_COMPRESSION], [DEFAULT_TILE]
    rng = np.random.default_rng(0)
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        for h, w in SIZES:
            scenes, what = realistic_samples(args.scenes, h, w)
            samples = repeated(scenes, args.samples)
            raw = sum(a.nbytes for a in samples[0].arrays.values()) / 1e6
            print(f"\n{w}x{h}, blur + flow + flow_bwd, {raw:.1f} MB raw per sample, {args.samples} samples; content: {what}")
            print(f"{'compression':<12} {'chunk':<8} {'MB/sample':>9} {'write ms':>9} {'read ms':>8} {'crop ms (wall)':>16} {'crops/s':>8}")
            for comp in comps:
                for tile in tiles:
                    path = Path(tmp) / f"b-{comp}-{tile}.h5"
                    m = measure(path, samples, comp, tile, args.crops, rng)
                    chunk = "sample" if tile == 0 else f"{tile}px"
                    crop = f"{m['crop']:.2f} ({m['crop_wall']:.1f})"
                    print(f"{comp:<12} {chunk:<8} {m['mb']:9.2f} {m['write']:9.1f} {m['read']:8.1f} {crop:>16} {1000 / m['crop']:8.0f}")
                    os.unlink(path)
            # the training read path: ShardDataset random 256x256 crops -> tensors
            path = Path(tmp) / "train-00000-of-00001.h5"
            write_shard(path, samples)
            ds = ShardDataset(path, crop=256, crop_mode="random", seed=0)
            ds[0]
            n, t, tw = 0, time.process_time(), time.perf_counter()
            while time.process_time() - t < 2.0:
                ds.set_epoch(n // len(ds))
                ds[n % len(ds)]
                n += 1
            rate = n / (time.process_time() - t)
            wall = n / (time.perf_counter() - tw)
            print(f"ShardDataset random 256x256 crops -> tensors ({DEFAULT_COMPRESSION}, {DEFAULT_TILE}px tiles): "
                  f"{rate:.0f} items/s per worker core (wall on this shared machine: {wall:.0f}/s)")
            os.unlink(path)


if __name__ == "__main__":
    main()
