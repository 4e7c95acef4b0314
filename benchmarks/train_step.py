"""B2F-net training cost on this machine: a training step, the shard loader, the correlation.

Usage: python benchmarks/train_step.py [--threads N] [--width W] [--crop 256] [--batch 4]
       [--steps 2] [--loader-workers 0,2] [--skip-step]

Prints three tables:
1. forward + backward + Adam step at batch 4, 256x256 (the paper's setting), seconds per
   step and samples per second; parameter count;
2. the shard loader (ShardDataset + DataLoader, 256x256 centre crops from 320x320 toy
   shards written to a temporary folder, gzip-1 as the pipeline writes them), samples per
   second with 0 and 2 workers, and its headroom = loader rate / training rate;
3. the correlation (search range 4, 81 displacements) per level of a 256x256 input at
   batch 4 and PWC-Net widths, forward + backward, for the loop reference and the
   implementations the network uses, with the speed-up over the reference.
Times are medians of the repeats. CPU only unless CUDA is present.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def median_s(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def bench_step(width: float, crop: int, batch: int, steps: int, device) -> tuple[float, int]:
    import torch

    from blurgen.models.b2fnet import B2FNet, B2FNetConfig, count_parameters
    from blurgen.train.losses import multiscale_loss

    torch.manual_seed(0)
    model = B2FNet(B2FNetConfig(width=width)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.999), weight_decay=4e-4)
    x = torch.rand(batch, 3, crop, crop, device=device)
    gt = torch.randn(batch, 2, crop, crop, device=device) * 5

    def step():
        out = model(x)
        loss, _ = multiscale_loss(out["flows"], gt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return median_s(step, steps), count_parameters(model)


def bench_loader(crop: int, batch: int, workers: list[int], n: int = 96) -> dict[int, float]:
    import torch
    from torch.utils.data import DataLoader

    from blurgen.shards.dataset import ShardDataset
    from blurgen.shards.writer import write_shard
    from blurgen.train.toy import toy_sample
    from blurgen.utils import rng_for

    out = {}
    with tempfile.TemporaryDirectory() as d:
        size = (crop + 64, crop + 64)
        samples = [toy_sample(f"bench/{i:04d}", rng_for(0, f"bench/{i:04d}"), size, oversample=1) for i in range(n)]
        half = n // 2
        write_shard(Path(d) / "train-00000-of-00002.h5", samples[:half])
        write_shard(Path(d) / "train-00001-of-00002.h5", samples[half:])
        ds = ShardDataset(d, split="train", crop=crop, crop_mode="center")
        for w in workers:
            loader = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=w,
                                generator=torch.Generator().manual_seed(0))

            def epoch():
                for _ in loader:
                    pass

            out[w] = len(ds) / median_s(epoch, 2)
    return out


def bench_corr(batch: int, repeats: int, device) -> list[tuple]:
    import torch

    from blurgen.models.b2fnet.correlation import (
        MATMUL_MAX_WIDTH,
        correlation_matmul,
        correlation_reference,
        correlation_shift,
    )
    from blurgen.models.b2fnet.net import ENCODER

    rows = []
    for lv, c in enumerate(ENCODER, start=1):
        s = 256 // 2**lv
        f1 = torch.randn(batch, c, s, s, device=device, requires_grad=True)
        f2 = torch.randn(batch, c, s, s, device=device, requires_grad=True)
        g = torch.randn(batch, 81, s, s, device=device)

        def run(fn):
            def go():
                o = fn(f1, f2, 4)
                (o * g).sum().backward()
                if device.type == "cuda":
                    torch.cuda.synchronize()
            return go

        t_ref = median_s(run(correlation_reference), repeats)
        t_shift = median_s(run(correlation_shift), repeats)
        t_mm = median_s(run(correlation_matmul), repeats)
        auto = "matmul" if s <= MATMUL_MAX_WIDTH else "shift"
        t_auto = t_mm if auto == "matmul" else t_shift
        rows.append((lv, f"{c}x{s}x{s}", t_ref * 1e3, t_shift * 1e3, t_mm * 1e3, auto, t_ref / t_auto))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--corr-repeats", type=int, default=3)
    ap.add_argument("--loader-workers", default="0,2")
    ap.add_argument("--skip-step", action="store_true")
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")

    train_rate = None
    if not args.skip_step:
        sec, params = bench_step(args.width, args.crop, args.batch, args.steps, device)
        train_rate = args.batch / sec
        print(f"\n1. training step (forward + backward + Adam), batch {args.batch}, {args.crop}x{args.crop}")
        print("| width | parameters | s / step | samples / s |")
        print("|---|---|---|---|")
        print(f"| {args.width} | {params:,} | {sec:.2f} | {train_rate:.2f} |")

    workers = [int(w) for w in args.loader_workers.split(",") if w.strip()]
    rates = bench_loader(args.crop, args.batch, workers)
    print(f"\n2. shard loader, {args.crop}x{args.crop} centre crops, batch {args.batch}")
    print("| workers | samples / s | headroom over training |")
    print("|---|---|---|")
    for w, r in rates.items():
        head = f"{r / train_rate:.0f}x" if train_rate else "-"
        print(f"| {w} | {r:.1f} | {head} |")

    rows = bench_corr(args.batch, args.corr_repeats, device)
    print(f"\n3. correlation, search range 4, batch {args.batch}, forward + backward (ms)")
    print("| level | C x H x W | reference loop | shift | matmul | auto uses | speed-up of auto |")
    print("|---|---|---|---|---|---|---|")
    tot_ref = tot_auto = 0.0
    for lv, shape, r, s, m, auto, ratio in rows:
        print(f"| {lv} | {shape} | {r:.1f} | {s:.1f} | {m:.1f} | {auto} | {ratio:.1f}x |")
        tot_ref += r
        tot_auto += m if auto == "matmul" else s
    print(f"| all | | {tot_ref:.1f} | | | | {tot_ref / tot_auto:.1f}x |")


if __name__ == "__main__":
    main()
