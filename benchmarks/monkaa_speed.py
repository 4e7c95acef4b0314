"""Speed of Monkaa blur synthesis at 960x540 on the CPU.

flow-guided: milliseconds per sample (interpolation and averaging of one pair, no file
I/O) by band of s, against the floor of n + 2 image warps per pair: the same number of
``cv2.remap`` calls (bilinear, float32 RGB, same size, one thread). The pairs are made
here: a textured background moving by 0.6 s with objects moving by s over it (exact
flows both ways, occlusions included).

superslomo: milliseconds per interpolated frame with random weights (the cost does not
depend on them), all times of a pair batched, plus the one flow pass per pair. The GPU is
not measured here.

    python benchmarks/monkaa_speed.py [--size 960x540] [--repeat 2] [--slomo-times 4] [--no-slomo]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np


def texture(h, w, rng):
    import cv2

    img = np.zeros((h, w, 3), np.float32)
    for sigma, amp in ((1.5, 25), (4.0, 40), (10.0, 50)):
        n = rng.normal(size=(h, w, 3)).astype(np.float32)
        n = cv2.GaussianBlur(n, (0, 0), sigma)
        img += amp * n / (n.std() + 1e-6)
    return np.clip(128 + img, 0, 255)


def make_pair(h, w, s, rng):
    """Frames (uint8) and exact flows of a background moving 0.6 s and discs moving s px."""
    import cv2

    big = texture(h + 256, w + 256, rng)
    ang = rng.uniform(0, 2 * math.pi)
    vb = 0.6 * s * np.array([math.cos(ang), math.sin(ang)])
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))

    def render(t):
        mx = (gx + 128 - vb[0] * t).astype(np.float32)
        my = (gy + 128 - vb[1] * t).astype(np.float32)
        img = cv2.remap(big, mx, my, cv2.INTER_LINEAR)
        lab = np.zeros((h, w), np.int32)
        for k, (c, v, r, col) in enumerate(discs):
            d = np.hypot(gx - c[0] - v[0] * t, gy - c[1] - v[1] * t)
            a = np.clip(r - d + 0.5, 0, 1)[..., None]
            img = img * (1 - a) + col * a
            lab[d < r] = k + 1
        return img, lab

    discs = []
    for _ in range(4):
        r = rng.uniform(0.06, 0.15) * h
        c = np.array([rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h])
        a2 = rng.uniform(0, 2 * math.pi)
        v = s * np.array([math.cos(a2), math.sin(a2)])
        discs.append((c, v, r, rng.uniform(30, 230, 3).astype(np.float32)))
    i0, lab0 = render(0.0)
    i1, lab1 = render(1.0)

    def flow(lab, sign):
        f = np.zeros((h, w, 2), np.float32)
        f[...] = sign * vb
        for k, (_, v, _, _) in enumerate(discs):
            f[lab == k + 1] = sign * v
        return f

    f01, f10 = flow(lab0, 1.0), flow(lab1, -1.0)  # the discs move s px: the largest displacement
    return np.rint(i0).astype(np.uint8), np.rint(i1).astype(np.uint8), f01, f10


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="960x540")
    ap.add_argument("--repeat", type=int, default=2, help="pairs per band")
    ap.add_argument("--slomo-times", type=int, default=4, help="times per Super-SloMo pass")
    ap.add_argument("--no-slomo", action="store_true")
    args = ap.parse_args(argv)

    import cv2
    import torch

    from blurgen.synth.blur import synthesize_blur
    from blurgen.synth.interpolate import FlowGuidedInterpolator, frame_count, max_displacement
    from blurgen.synth.scene import accelerations

    cv2.setNumThreads(1)
    w, h = (int(v) for v in args.size.lower().split("x"))
    rng = np.random.default_rng(0)
    fg = FlowGuidedInterpolator()
    print(f"Monkaa synthesis speed at {w}x{h}, CPU: {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; numba and OpenCV on one thread\n")

    # warm-up: compile / load the kernels once
    i0, i1, f01, f10 = make_pair(h, w, 5.0, rng)
    synthesize_blur(fg, i0, i1, f01, f10, 1)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    img = i0.astype(np.float32)

    def remap_ms(k=10):
        mx, my = gx + 3.3, gy + 1.7
        t0 = time.perf_counter()
        for _ in range(k):
            cv2.remap(img, mx, my, cv2.INTER_LINEAR)
        return (time.perf_counter() - t0) / k * 1000

    bands = [("s<5", 3.0), ("5-20", 12.0), ("20-50", 35.0), ("50-100", 75.0)]
    print("| band | s | n | ms per sample | of which per-pair setup | ms per frame | floor (n+2) remaps, ms | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for name, s_target in bands:
        rows = []
        for _ in range(args.repeat):
            i0, i1, f01, f10 = make_pair(h, w, s_target, rng)
            a0, a1 = accelerations(f01, -f01, f10, -f10)  # constant velocity: zero acceleration
            s = max_displacement(f01)
            n = frame_count(s)
            t0 = time.perf_counter()
            synthesize_blur(fg, i0, i1, f01, f10, 0, accel0=a0, accel1=a1)
            setup = time.perf_counter() - t0
            t0 = time.perf_counter()
            synthesize_blur(fg, i0, i1, f01, f10, n, accel0=a0, accel1=a1)
            total = time.perf_counter() - t0
            floor = remap_ms() * (n + 2)
            rows.append((s, n, total * 1000, setup * 1000, floor))
        r = np.array(rows)
        per_frame = (r[:, 2] - r[:, 3]) / r[:, 1]
        print(f"| {name} | {r[:, 0].mean():.1f} | {r[:, 1].mean():.0f} | {r[:, 2].mean():.0f} | {r[:, 3].mean():.0f} | "
              f"{per_frame.mean():.1f} | {r[:, 4].mean():.0f} | {(r[:, 2] / r[:, 4]).mean():.1f} |")
    print(f"\none cv2.remap (bilinear, float32 RGB, {w}x{h}): {remap_ms(20):.1f} ms")

    if not args.no_slomo:
        from blurgen.models.superslomo import SuperSloMo
        from blurgen.synth.interpolate import SuperSloMoInterpolator

        torch.manual_seed(0)
        it = SuperSloMoInterpolator(SuperSloMo().eval(), "cpu", max_batch=args.slomo_times)
        times = [(k + 1) / (args.slomo_times + 1) for k in range(args.slomo_times)]
        i0, i1, _, _ = make_pair(h, w, 12.0, rng)
        t_flow0 = time.perf_counter()
        with torch.inference_mode():
            a, b, _, _ = it._prepare(i0, i1)
            it.model.flows(a, b)
        t_flow = time.perf_counter() - t_flow0
        t0 = time.perf_counter()
        it.sum_frames(i0, i1, times=times)
        total = time.perf_counter() - t0
        per = (total - t_flow) / len(times)
        print(f"\nsuperslomo (random weights, CPU, torch {torch.get_num_threads()} threads, padded to "
              f"{a.shape[-1]}x{a.shape[-2]}): flow pass {t_flow * 1000:.0f} ms per pair; "
              f"{per * 1000:.0f} ms per interpolated frame ({len(times)} times in one pass). GPU not measured here.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
