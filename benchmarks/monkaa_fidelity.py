"""Fidelity of synthetic Monkaa blur against the continuous-time blur of the bundled sample.

For every Monkaa pair of the sample (``blurgen sample``; its ``truth/`` holds the exact
continuous-time blur of each pair) this makes the blurred image the way
``blurgen synth-monkaa`` does (uint8, the paper's rule n = max(ceil(s), 5), frames at
k / (n + 1) averaged with equal weights) with each interpolator, and prints the mean PSNR
(dB) against the truth, overall (pairs with s <= 100, the ones a dataset keeps) and by
bands of s, plus:

- ``two-frame mean``: (I0 + I1) / 2, no interpolation;
- ``flow-guided (splat, parabolas)``: the default, paths bent by the flows to the
  pair's other neighbours (into_past of t, into_future of t+1); ``flow-guided (splat)``
  straight paths; ``slomo equations``: Super-SloMo's intermediate flows + backward warps;
- ``..., n = s/4``: the default interpolator with n = max(ceil(s / 4), 1), a quarter of
  the rule's frames (consecutive frames up to 4 px apart);
- ``exact scene, n frames of the rule``: the rule's n frames rendered from the sample's
  scene itself (no interpolation; end frames as stored), averaged the same way: what a
  perfect interpolator would reach with the rule's n, so the gap to it is the
  interpolation's and the gap above it the rule's;
- ``superslomo`` only with ``--slomo-ckpt`` (random weights say nothing about fidelity).

    python benchmarks/monkaa_fidelity.py                 # makes a 320x180 sample in a temp dir
    python benchmarks/monkaa_fidelity.py --sample S      # an existing `blurgen sample S`
    python benchmarks/monkaa_fidelity.py --size 960x540  # the Monkaa frame size (slower)
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

BANDS = [("s<5", 0, 5), ("5-20", 5, 20), ("20-50", 20, 50), ("50-100", 50, 100)]


def band_of(s: float) -> str | None:
    for name, lo, hi in BANDS:
        if lo <= s < hi or (hi == 100 and s == 100):
            return name
    return None


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    d = a.astype(np.float64) - b.astype(np.float64)
    mse = float(np.mean(d * d))
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0 ** 2 / mse)


class ExactScene:
    """Interior frames rendered from the procedural scene between times t0 and t1 (the
    interpolator interface of ``synthesize_blur``; the flows are not used)."""

    def __init__(self, scene, t0: float, t1: float):
        self.scene, self.t0, self.t1 = scene, t0, t1

    def sum_frames(self, a, b, flow01, flow10, times, **extra):
        acc = np.zeros(a.shape, np.float64)
        for t in times:
            acc += self.scene.render(self.t0 + float(t) * (self.t1 - self.t0))
        return acc.astype(np.float32)


def ensure_sample(sample: str | None, size: str, tmp: Path) -> Path:
    if sample:
        return Path(sample)
    out = tmp / "sample"
    cmd = [sys.executable, "-m", "blurgen", "sample", str(out), "--only", "monkaa", "--size", size, "--quiet"]
    subprocess.run(cmd, check=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", help="folder written by `blurgen sample` (default: make one in a temp dir)")
    ap.add_argument("--size", default="320x180", help="frame size of the sample made when --sample is not given")
    ap.add_argument("--slomo-ckpt", help="Super-SloMo checkpoint (public port format) to include superslomo")
    ap.add_argument("--trust-checkpoint", action="store_true", help="unpickle --slomo-ckpt in full")
    ap.add_argument("--device", default=None, help="device for Super-SloMo")
    ap.add_argument("--json", help="also write the per-pair results here")
    args = ap.parse_args(argv)

    import cv2

    from blurgen.io.frames import read_image
    from blurgen.io.pfm import read_pfm_flow
    from blurgen.synth.blur import synthesize_blur, to_uint8
    from blurgen.sources.monkaa import flow_path
    from blurgen.sources.sample import scene_for
    from blurgen.sources.sample_truth import truth_blur, truth_flows, truth_items
    from blurgen.synth.interpolate import (FlowGuidedInterpolator, LinearInterpolator, SuperSloMoInterpolator,
                                           frame_count, max_displacement)
    from blurgen.synth.scene import accelerations

    cv2.setNumThreads(1)
    methods: list[tuple[str, object, str]] = [
        ("flow-guided (splat, parabolas)", FlowGuidedInterpolator("splat"), "rule+accel"),
        ("flow-guided (splat)", FlowGuidedInterpolator("splat"), "rule"),
        ("flow-guided (slomo equations)", FlowGuidedInterpolator("slomo"), "rule"),
        ("linear (cross-fade)", LinearInterpolator(), "rule"),
        ("two-frame mean", None, "two"),
        ("flow-guided (splat, parabolas), n = s/4", FlowGuidedInterpolator("splat"), "quarter+accel"),
        ("exact scene, n frames of the rule", None, "exact"),
    ]
    if args.slomo_ckpt:
        methods.insert(2, ("superslomo", SuperSloMoInterpolator.from_checkpoint(
            args.slomo_ckpt, trust=args.trust_checkpoint, device=args.device), "rule"))

    with tempfile.TemporaryDirectory() as tmp:
        root = ensure_sample(args.sample, args.size, Path(tmp))
        items = truth_items(root, ("monkaa",))
        rows = []
        scenes = {}
        t_start = time.perf_counter()
        for it in items:
            f01, f10 = truth_flows(root, it)
            # the flows to the pair's other neighbours (frame t-1 and t+2), for the parabolas
            f0m = read_pfm_flow(root / "monkaa" / flow_path(it["sequence"], "left", it["first"], "past"))
            f12 = read_pfm_flow(root / "monkaa" / flow_path(it["sequence"], "left", it["last"], "future"))
            a0, a1 = accelerations(f01, f0m, f10, f12)
            i0 = read_image(root / it["frames"][0])
            i1 = read_image(root / it["frames"][1])
            truth = truth_blur(root, it)
            s = max_displacement(f01)
            n = frame_count(s)
            row = {"pair": f"{it['sequence']}/{it['first']:04d}", "s": round(s, 3), "n": n, "psnr": {}}
            for name, interp, mode in methods:
                if mode == "two":
                    blur = (i0.astype(np.float32) + i1) / 2
                elif mode == "exact":
                    if it["sequence"] not in scenes:
                        scenes[it["sequence"]] = scene_for(root, "monkaa", it["sequence"])[1]
                    blur = synthesize_blur(ExactScene(scenes[it["sequence"]], it["t0"], it["t1"]), i0, i1, None, None, n)
                else:
                    nn = n if mode.startswith("rule") else max(1, math.ceil(s / 4 - 1e-6))
                    extra = {"accel0": a0, "accel1": a1} if mode.endswith("+accel") else {}
                    blur = synthesize_blur(interp, i0, i1, f01, f10, nn, **extra)
                row["psnr"][name] = psnr(to_uint8(blur), truth)
            rows.append(row)
        seconds = time.perf_counter() - t_start

    h, w = i0.shape[:2]
    kept = [r for r in rows if r["s"] <= 100]
    cols = [("all s<=100", kept)] + [(b, [r for r in kept if band_of(r["s"]) == b]) for b, _, _ in BANDS]
    cols += [("5<=s<=100", [r for r in kept if r["s"] >= 5]), ("s>100 (skipped)", [r for r in rows if r["s"] > 100])]
    print("Monkaa fidelity: PSNR (dB) of the synthetic blur against the continuous-time blur")
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")
    print(f"sample {root} ({w}x{h}), {len(rows)} pairs ({len(kept)} with s <= 100), uint8 output, {seconds:.0f} s\n")
    head = f"| {'method':40s} | " + " | ".join(f"{c} (n={len(rs)})" for c, rs in cols) + " |"
    print(head)
    print("|" + "---|" * (len(cols) + 1))
    for name, _, _ in methods:
        vals = []
        for _, rs in cols:
            v = [r["psnr"][name] for r in rs]
            vals.append(f"{np.mean(v):.2f}" if v else "-")
        print(f"| {name:40s} | " + " | ".join(vals) + " |")
    big = [r for r in kept if r["s"] >= 20]
    if big:
        for name in ("flow-guided (splat, parabolas)", "flow-guided (splat)"):
            gain = np.mean([r["psnr"][name] - r["psnr"]["linear (cross-fade)"] for r in big])
            print(f"\n{name} minus linear, mean over the {len(big)} pairs with 20 <= s <= 100: {gain:+.2f} dB", end="")
        print()
    print("\nper pair (s, n, PSNR: splat with parabolas / splat / slomo equations / linear / exact scene):")
    for r in rows:
        p = r["psnr"]
        print(f"  {r['pair']:26s} s={r['s']:7.2f} n={r['n']:3d}  {p['flow-guided (splat, parabolas)']:6.2f} "
              f"{p['flow-guided (splat)']:6.2f} {p['flow-guided (slomo equations)']:6.2f} {p['linear (cross-fade)']:6.2f} "
              f"{p['exact scene, n frames of the rule']:6.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
