"""Speed of Monkaa blur synthesis at 960x540 on the CPU, per core.

flow-guided: for each band of s, the cost of one pair (interpolation and averaging, no
file I/O): its per-pair setup (consistency, layers, buffers: ``synthesize_blur`` with
n = 0), its total with the rule's n, and per interpolated frame ``(total - setup) / n``;
against the physical floor of n + 2 image warps per pair, measured in the same process:
``cv2.remap`` (bilinear, float32 RGB, same size). ``ratio`` = total / floor. The pairs
are made here: a textured background moving by 0.6 s with four discs moving by s over it
(exact flows both ways, occlusions included), paths with zero acceleration.

Everything runs on one thread (numba, OpenCV, BLAS) and is timed in CPU time of the
process (``time.process_time``: what one core spends, robust to other jobs on a shared
machine), the fastest of ``--repeat`` runs of each pair, averaged over ``--pairs`` pairs.

``--sample DIR`` times the Monkaa pairs of a ``blurgen sample`` folder instead (smooth,
rotating, accelerating motion and the job's parabolic paths; make one at the Monkaa size
with ``blurgen sample DIR --only monkaa --size 960x540``), grouped by the same bands.

``--against REF`` also times the blurgen of git revision REF (``git archive``; run from a
checkout) on the same pairs in the same run, band by band in turn with the working tree,
each in a fresh process that measures its own floor, and prints both with the speed-up
per frame and per sample.

superslomo (unless ``--no-slomo``): milliseconds per interpolated frame with random
weights (the cost does not depend on them), all times of a pair batched, plus the one flow
pass per pair; the GPU is not measured here.

    python benchmarks/monkaa_speed.py [--size 960x540] [--pairs 2] [--repeat 3] [--sample DIR] [--against REF]
                                      [--no-slomo]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BANDS = [("s<5", 3.0), ("5-20", 12.0), ("20-50", 35.0), ("50-100", 75.0)]  # band, s of its synthetic pairs
LIMITS = [(0, 5), (5, 20), (20, 50), (50, 100.001)]  # the bands' s, for the pairs of a sample
ONE_THREAD = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


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


def band_pairs(h, w, s, pairs):
    """The pairs of a band: the same in every process (seeded by band and index)."""
    return [make_pair(h, w, s, np.random.default_rng([int(s * 10), k])) for k in range(pairs)]


def remap_ms(img, k=10) -> float:
    """The floor's unit: one cv2.remap of ``img`` (fastest of k), CPU ms."""
    import cv2

    h, w = img.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = gx + 3.3, gy + 1.7
    best = math.inf
    for _ in range(k):
        t0 = time.process_time()
        cv2.remap(img, mx, my, cv2.INTER_LINEAR)
        best = min(best, time.process_time() - t0)
    return best * 1000


def sample_pairs(root: Path, lo: float, hi: float) -> list:
    """The Monkaa pairs of a ``blurgen sample`` folder with lo <= s < hi: frames, flows and
    the accelerations from the neighbour flows (the job's default, parabolic paths)."""
    from blurgen.io.frames import read_image
    from blurgen.io.pfm import read_pfm_flow
    from blurgen.sources.monkaa import flow_path
    from blurgen.synth.interpolate import max_displacement
    from blurgen.synth.scene import accelerations

    out = []
    for it in json.loads((root / "truth" / "index.json").read_text())["items"]:
        if it["layout"] != "monkaa":
            continue
        f01, f10 = read_pfm_flow(root / it["flow_fwd"]), read_pfm_flow(root / it["flow_bwd"])
        if not lo <= max_displacement(f01) < hi:
            continue
        f0m = read_pfm_flow(root / "monkaa" / flow_path(it["sequence"], "left", it["first"], "past"))
        f12 = read_pfm_flow(root / "monkaa" / flow_path(it["sequence"], "left", it["last"], "future"))
        a0, a1 = accelerations(f01, f0m, f10, f12)
        out.append((read_image(root / it["frames"][0]), read_image(root / it["frames"][1]), f01, f10, a0, a1))
    return out


def time_band(spec: dict) -> dict:
    """One band in this process: per pair the fastest setup and total (CPU ms) and the floor.
    spec: ``{"s": target s, "pairs", "h", "w"}`` for the synthetic pairs, or
    ``{"sample": folder, "lo", "hi"}``; and ``"repeat"``."""
    import cv2

    from blurgen.synth.blur import synthesize_blur
    from blurgen.synth.interpolate import FlowGuidedInterpolator, frame_count, max_displacement
    from blurgen.synth.scene import accelerations

    cv2.setNumThreads(1)
    if "sample" in spec:
        pairs = sample_pairs(Path(spec["sample"]), spec["lo"], spec["hi"])
    else:  # constant velocity: zero acceleration
        pairs = [(i0, i1, f01, f10, *accelerations(f01, -f01, f10, -f10))
                 for i0, i1, f01, f10 in band_pairs(spec["h"], spec["w"], spec["s"], spec["pairs"])]
    fg = FlowGuidedInterpolator()
    rows = []
    for i0, i1, f01, f10, a0, a1 in pairs:
        s = max_displacement(f01)
        n = frame_count(s)
        synthesize_blur(fg, i0, i1, f01, f10, 1, accel0=a0, accel1=a1)  # warm-up: compile or load the kernels
        best = {}
        for name, nn in (("setup", 0), ("total", n)):
            runs = []
            for _ in range(spec["repeat"]):
                t0 = time.process_time()
                synthesize_blur(fg, i0, i1, f01, f10, nn, accel0=a0, accel1=a1)
                runs.append(time.process_time() - t0)
            best[name] = min(runs) * 1000
        rows.append({"s": s, "n": n, **best, "remap": remap_ms(i0.astype(np.float32))})
    return {"rows": rows, "load": os.getloadavg()[0]}


def run_worker(tree: Path, spec: dict) -> dict:
    """time_band in a fresh process importing blurgen from ``tree``, on one thread."""
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def export_tree(ref: str, dest: Path) -> Path:
    """blurgen as of git revision ``ref``, unpacked under ``dest``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "blurgen"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def summarise(res: dict) -> dict | None:
    r = res["rows"]
    if not r:
        return None
    mean = lambda key: float(np.mean([x[key] for x in r]))
    per_frame = float(np.mean([(x["total"] - x["setup"]) / x["n"] for x in r]))
    floor = float(np.mean([x["remap"] * (x["n"] + 2) for x in r]))
    return {"pairs": len(r), "s": mean("s"), "n": mean("n"), "total": mean("total"), "setup": mean("setup"),
            "frame": per_frame, "remap": mean("remap"), "floor": floor,
            "ratio": float(np.mean([x["total"] / (x["remap"] * (x["n"] + 2)) for x in r]))}


def flow_guided(args, h, w) -> dict:
    """{"new": {band: summary}, and "today" with --against}: band by band, the trees in turn."""
    results: dict[str, dict[str, dict]] = {"new": {}}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"new": ROOT}
        if args.against:
            trees = {"today": export_tree(args.against, Path(tmp)), "new": ROOT}
            results = {"today": {}, "new": {}}
        for (name, s), (lo, hi) in zip(BANDS, LIMITS):
            spec = ({"sample": str(Path(args.sample).resolve()), "lo": lo, "hi": hi} if args.sample
                    else {"s": s, "pairs": args.pairs, "h": h, "w": w})
            for label, tree in trees.items():
                got = summarise(run_worker(tree, {**spec, "repeat": args.repeat}))
                if got:
                    results[label][name] = got
    return results


def print_tables(results: dict, against: str | None) -> None:
    new = results["new"]
    print("| band | pairs | s | n | ms per sample | of which per-pair setup | ms per frame | floor: n + 2 remaps, ms "
          "| ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for band, r in new.items():
        print(f"| {band} | {r['pairs']} | {r['s']:.1f} | {r['n']:.0f} | {r['total']:.0f} | {r['setup']:.0f} | "
              f"{r['frame']:.1f} | {r['floor']:.0f} | {r['ratio']:.1f} |")
    print(f"\none cv2.remap: {np.mean([r['remap'] for r in new.values()]):.2f} ms (mean over the bands' processes)")
    if "today" not in results:
        return
    print(f"\ntoday = blurgen at {against}, new = this working tree; same pairs, same run:\n")
    print("| band | n | ms per frame, today | ms per frame, new | speed-up per frame | ms per sample, today | "
          "ms per sample, new | speed-up per sample | ratio to floor, today | ratio to floor, new |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for band, r in new.items():
        o = results["today"][band]
        print(f"| {band} | {r['n']:.0f} | {o['frame']:.1f} | {r['frame']:.1f} | {o['frame'] / r['frame']:.2f} | "
              f"{o['total']:.0f} | {r['total']:.0f} | {o['total'] / r['total']:.2f} | {o['ratio']:.1f} | {r['ratio']:.1f} |")


def superslomo(h, w, slomo_times: int) -> None:
    import torch

    from blurgen.models.superslomo import SuperSloMo
    from blurgen.synth.interpolate import SuperSloMoInterpolator

    torch.manual_seed(0)
    it = SuperSloMoInterpolator(SuperSloMo().eval(), "cpu", max_batch=slomo_times)
    times = [(k + 1) / (slomo_times + 1) for k in range(slomo_times)]
    i0, i1, _, _ = make_pair(h, w, 12.0, np.random.default_rng(0))
    t_flow0 = time.perf_counter()
    with torch.inference_mode():
        a, b, _, _ = it._prepare(i0, i1)
        it.model.flows(a, b)
    t_flow = time.perf_counter() - t_flow0
    t0 = time.perf_counter()
    it.sum_frames(i0, i1, times=times)
    per = (time.perf_counter() - t0 - t_flow) / len(times)
    print(f"\nsuperslomo (random weights, CPU, torch {torch.get_num_threads()} threads, padded to "
          f"{a.shape[-1]}x{a.shape[-2]}): flow pass {t_flow * 1000:.0f} ms per pair; "
          f"{per * 1000:.0f} ms per interpolated frame ({len(times)} times in one pass). GPU not measured here.")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="960x540")
    ap.add_argument("--pairs", type=int, default=2, help="synthetic pairs per band")
    ap.add_argument("--sample", metavar="DIR", help="time the Monkaa pairs of this `blurgen sample` folder instead "
                    "(parabolic paths, as the job), grouped by band")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each pair; the fastest counts")
    ap.add_argument("--against", metavar="REF", help="also time blurgen at this git revision, in the same run")
    ap.add_argument("--json", help="also write the flow-guided results here")
    ap.add_argument("--slomo-times", type=int, default=4, help="times per Super-SloMo pass")
    ap.add_argument("--no-slomo", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(time_band(json.loads(args.worker))))
        return 0

    w, h = (int(v) for v in args.size.lower().split("x"))
    load0 = os.getloadavg()
    pairs = (f"the Monkaa pairs of the sample {args.sample}" if args.sample
             else f"{args.pairs} synthetic pairs per band at {w}x{h}")
    print(f"Monkaa synthesis speed, {time.strftime('%Y-%m-%d %H:%M')}, CPU: {os.cpu_count()} cores, load average "
          f"{load0[0]:.1f} {load0[1]:.1f} {load0[2]:.1f}; {pairs}; numba, OpenCV and BLAS on one thread, "
          f"CPU time of the process, fastest of {args.repeat} runs\n")
    results = flow_guided(args, h, w)
    print_tables(results, args.against)
    load1 = os.getloadavg()
    print(f"\nload average at the end: {load1[0]:.1f} {load1[1]:.1f} {load1[2]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if not args.no_slomo:
        superslomo(h, w, args.slomo_times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
