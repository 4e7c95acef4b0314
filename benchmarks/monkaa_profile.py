"""Where the time of flow-guided Monkaa synthesis goes: per-pair setup and per-frame stages.

One pair of ``benchmarks/monkaa_speed.py`` (960x540, the band of ``--s``), all the rule's
n frames, one thread, CPU time (fastest of ``--repeat``), milliseconds per frame by stage:

- the compiled kernels of this working tree (``blurgen.synth._splat_numba``): each
  frame's splat (per source frame: paths, weights, runs), and its compose stage by stage,
  running the same row kernels ``_compose`` runs, one stage over all rows at a time
  (read positions and coherence, bicubic reads, pixels done one by one: holes and
  several layers, blend into the sum, canvas clearing); ``_compose`` itself is timed too;
- with ``--against REF``, also the kernels of git revision REF as they were before they
  were rewritten (``_splat._splat_side``, ``_splat._compose``): its splats, its compose,
  and inside the compose the share of the bicubic reads, timed by doing the same reads
  (same positions, same count) with its own ``_splat._cubic``.

    python benchmarks/monkaa_profile.py [--s 35] [--repeat 3] [--sample DIR] [--against REF]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from monkaa_speed import ONE_THREAD, ROOT, band_pairs, export_tree, remap_ms, sample_pairs  # noqa: E402


def fastest(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best * 1000, out


def pair_inputs(s, sample=None):
    """The synthetic pair of largest displacement ``s``, or (``sample``: a ``blurgen sample``
    folder) that sample's Monkaa pair whose s is closest to ``s``."""
    from blurgen.synth.interpolate import FlowGuidedInterpolator, frame_count, max_displacement, blur_times
    from blurgen.synth.scene import accelerations

    if sample:
        pairs = sample_pairs(Path(sample), 0.0, float("inf"))
        i0, i1, f01, f10, a0, a1 = min(pairs, key=lambda p: abs(max_displacement(p[2]) - s))
    else:
        i0, i1, f01, f10 = band_pairs(540, 960, s, 1)[0]
        a0, a1 = accelerations(f01, -f01, f10, -f10)
    n = frame_count(max_displacement(f01))
    return i0.astype(np.float32), i1.astype(np.float32), f01, f10, a0, a1, n, blur_times(n)[1:-1], FlowGuidedInterpolator()


def setup_stages(fg, a, f01, f10, repeat):
    from blurgen.synth.scene import consistency

    ms_c, (c0, c1) = fastest(lambda: (consistency(f01, f10), consistency(f10, f01)), repeat)
    ms_l, layers = fastest(lambda: fg._layers(f01, f10, c0, c1), repeat)
    return {"consistency (both ways)": ms_c, "layers (occluders, pieces)": ms_l}, layers


def profile_new(s, repeat, sample=None):
    import numba

    from blurgen.synth import _compose_numba as C
    from blurgen.synth import _splat_numba as K

    a, b, f01, f10, a0, a1, n, times, fg = pair_inputs(s, sample)
    setup, (l0, l1) = setup_stages(fg, a, f01, f10, repeat)
    setup["buffers (planes, paths)"], pair = fastest(lambda: K.SplatPair(a, b, f01, f10, l0, l1, a0, a1), repeat)
    h, w = pair.shape
    # the stages one at a time over the whole frame need the whole canvas: a ring of H rows
    canvas = np.zeros((3, C.NCH, h, w), np.float32)
    mask = np.zeros((h, w), np.uint8)
    span = np.zeros((3, h, 2), np.int64)
    ints, weights, inside = np.zeros((3, w), np.int64), np.zeros((4, w), np.float32), np.zeros(w, np.bool_)
    pos = np.zeros((h, 8, w), np.float32)
    C0, C1 = np.zeros((h, 3, w), np.float32), np.zeros((h, 3, w), np.float32)
    offsets, read_weights = np.zeros((2, w), np.int64), np.zeros((8, w), np.float32)
    acc = np.zeros((3, h, w), np.float32)

    @numba.njit
    def splat(P, paths, layer, step, curve, weight, side, canvas, mask, span, ints, weights, inside):
        for y in range(layer.shape[0]):
            K._splat_row(P, paths, layer[y], y, step, curve, weight, side, canvas, mask, span, ints, weights,
                         inside)

    @numba.njit
    def positions(canvas, mask, span, pos):
        for y in range(mask.shape[0]):
            for x in range(mask.shape[1]):
                pos[y, 0, x] = x
                pos[y, 2, x] = x
                pos[y, 1, x] = y
                pos[y, 3, x] = y
                pos[y, 4, x] = -1.0
                pos[y, 5, x] = 0.0
                pos[y, 6, x] = -1.0
            for k in range(span.shape[0]):
                if span[k, y, 1] > 0:
                    C._row_positions(canvas, mask, k, y, y, span[k, y, 0], span[k, y, 1], pos[y, 0], pos[y, 1], pos[y, 2], pos[y, 3], pos[y, 4],
                                     pos[y, 5], pos[y, 6], pos[y, 7])

    @numba.njit
    def reads(P0, P1, pos, C0, C1, offsets, weights):
        for y in range(pos.shape[0]):
            C.cubic_row(P0, pos[y, 0], pos[y, 1], C0[y], offsets, weights)
            C.cubic_row(P1, pos[y, 2], pos[y, 3], C1[y], offsets, weights)

    @numba.njit
    def one_by_one(canvas, mask, P0, P1, t, acc, pos, C0, C1, holes):
        count = 0
        fronts = 0
        for y in range(mask.shape[0]):
            for x in range(mask.shape[1]):
                if pos[y, 4, x] < 0.0:
                    total = 0.0
                    for k in range(3):
                        total += canvas[k, 0, y, x] + canvas[k, 4, y, x]
                    if (total < C.HOLE) == holes:
                        count += 1
                        if pos[y, 6, x] >= 0.0:
                            fronts += 1
                            ta, tb = pos[y, 6, x], pos[y, 7, x]
                            c0, c1, c2 = C._over(canvas, P0, P1, mask[y, x], y, x, y,
                                                 np.float64(ta * C0[y, 0, x] + tb * C1[y, 0, x]),
                                                 np.float64(ta * C0[y, 1, x] + tb * C1[y, 1, x]),
                                                 np.float64(ta * C0[y, 2, x] + tb * C1[y, 2, x]))
                        else:
                            c0, c1, c2 = C._pixel(canvas, mask, P0, P1, t, x, y, 2, mask.shape[0])
                        acc[0, y, x] += c0
                        acc[1, y, x] += c1
                        acc[2, y, x] += c2
        return count, fronts

    @numba.njit
    def blend(acc, pos, C0, C1):
        for y in range(pos.shape[0]):
            for c in range(3):
                row = acc[c, y]
                for x in range(row.shape[0]):
                    v = pos[y, 4, x] if pos[y, 4, x] > 0.0 else np.float32(0.0)
                    row[x] += v * C0[y, c, x] + pos[y, 5, x] * C1[y, c, x]

    @numba.njit
    def clear(canvas, mask, span):
        for y in range(mask.shape[0]):
            C.clear_slot(canvas, mask, span, y)

    stages = {}
    counts = {"holes": 0, "several layers or outlines": 0, "  of which translucent fronts (front read at once)": 0}
    p0, p1 = pair.planes
    for i, t in enumerate([times[0], *times]):  # the first round compiles the stage loops and is not counted
        row = {}
        curve = np.float32(K.curve_weight(t))
        for side, (step, weight) in enumerate(((t, 1 - t), (1 - t, t))):
            row[f"splat frame {side} (paths, weights, runs)"] = fastest(lambda: splat(
                p0 if side == 0 else p1, pair.paths[side], pair.layers[side], np.float32(step), curve,
                np.float32(weight), side, canvas, mask, span, ints, weights, inside), 1)[0]
        row["read positions and coherence"] = fastest(lambda: positions(canvas, mask, span, pos), 1)[0]
        row["bicubic reads (both frames)"] = fastest(lambda: reads(p0, p1, pos, C0, C1, offsets, read_weights), 1)[0]
        for key, holes in (("holes", True), ("several layers or outlines", False)):
            ms, (cnt, fronts) = fastest(lambda: one_by_one(canvas, mask, p0, p1, t, acc, pos, C0, C1, holes), 1)
            row[f"pixels one by one: {key}"] = ms
            counts[key] += cnt if i else 0
            if not holes:
                counts["  of which translucent fronts (front read at once)"] += fronts if i else 0
        row["blend into the sum"] = fastest(lambda: blend(acc, pos, C0, C1), 1)[0]
        row["clear the canvas"] = fastest(lambda: clear(canvas, mask, span), 1)[0]
        for k, v in row.items():
            stages[k] = stages.get(k, 0.0) + (v / len(times) if i else 0.0)
    frame_ms = fastest(lambda: pair.sum(times), repeat)[0] / len(times)
    notes = {k: f"{v / len(times):.0f} pixels per frame" for k, v in counts.items()}
    notes["canvas ring"] = f"{pair.mask.shape[0]} rows of {h} (the stages one at a time use all {h})"
    return {"s": s, "n": n, "setup": setup, "stages": stages, "frame": frame_ms, "notes": notes,
            "remap": remap_ms(a)}


def profile_today(s, repeat, sample=None):
    import numba

    from blurgen.synth import _splat as K

    a, b, f01, f10, a0, a1, n, times, fg = pair_inputs(s, sample)
    setup, (l0, l1) = setup_stages(fg, a, f01, f10, repeat)
    h, w = a.shape[:2]
    setup["buffers (canvas)"], canvas = fastest(lambda: np.zeros((K.N_LAYERS, h, w, K.N_CH), np.float32), repeat)

    @numba.njit
    def read_positions(canvas, side, xs, ys):
        """The bicubic reads _compose makes: frame, x, y of each; returns their count."""
        count = 0
        for y in range(canvas.shape[1]):
            for x in range(canvas.shape[2]):
                total = 0.0
                for k in range(canvas.shape[0]):
                    total += canvas[k, y, x, 0]
                if total < K.HOLE:
                    continue
                for k in range(canvas.shape[0] - 1, -1, -1):
                    cv = canvas[k, y, x]
                    if cv[0] <= K.EPS:
                        continue
                    for s in range(2):
                        o = 4 + 4 * s
                        ws = float(cv[o])
                        if ws <= K.EPS:
                            continue
                        mx = cv[o + 1] / ws
                        my = cv[o + 2] / ws
                        if cv[o + 3] / ws - mx * mx - my * my > K.COHERENT:
                            break
                        side[count] = s
                        xs[count] = x + mx
                        ys[count] = y + my
                        count += 1
        return count

    @numba.njit
    def do_reads(img0, img1, side, xs, ys, count):
        smp = np.empty(3)
        acc = 0.0
        for i in range(count):
            K._cubic(img0 if side[i] == 0 else img1, xs[i], ys[i], smp)
            acc += smp[0]
        return acc

    stages = {}
    n_reads = 0
    out = np.zeros((h, w, 3), np.float32)
    side, xs, ys = np.zeros(6 * h * w, np.int64), np.zeros(6 * h * w), np.zeros(6 * h * w)
    for i, t in enumerate([times[0], *times]):  # the first round compiles the stage loops and is not counted
        row = {}
        curve = np.float32(K.curve_weight(t))
        row["splat frame 0"] = fastest(lambda: K._splat_side(a, f01, a0, curve, l0, np.float32(t), np.float32(1 - t),
                                                             0, canvas), 1)[0]
        row["splat frame 1"] = fastest(lambda: K._splat_side(b, f10, a1, curve, l1, np.float32(1 - t), np.float32(t),
                                                             1, canvas), 1)[0]
        count = read_positions(canvas, side, xs, ys)
        n_reads += count if i else 0
        row["compose (layers, coherence, bicubic reads, holes, sum, clearing)"] = fastest(
            lambda: K._compose(canvas, a, b, float(t), out, True, 5), 1)[0]
        row["  of which bicubic reads (the same reads alone)"] = fastest(lambda: do_reads(a, b, side, xs, ys, count), 1)[0]
        for k, v in row.items():
            stages[k] = stages.get(k, 0.0) + (v / len(times) if i else 0.0)
    from blurgen.synth.blur import synthesize_blur

    total = fastest(lambda: synthesize_blur(fg, a, b, f01, f10, n, accel0=a0, accel1=a1), repeat)[0]
    setup_all = fastest(lambda: synthesize_blur(fg, a, b, f01, f10, 0, accel0=a0, accel1=a1), repeat)[0]
    notes = {"bicubic reads": f"{n_reads / len(times):.0f} per frame"}
    return {"s": s, "n": n, "setup": setup, "stages": stages, "frame": (total - setup_all) / n, "notes": notes,
            "remap": remap_ms(a)}


def run_worker(tree: Path, s: float, repeat: int, sample: str | None = None) -> dict:
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(tree)}
    spec = json.dumps({"s": s, "repeat": repeat, "sample": sample})
    out = subprocess.run([sys.executable, __file__, "--worker", spec], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def print_profile(label: str, p: dict) -> None:
    print(f"\n{label}: s = {p['s']:.0f}, n = {p['n']}; one cv2.remap {p['remap']:.2f} ms\n")
    print("| stage | ms | in remaps |")
    print("|---|---|---|")
    for k, v in p["setup"].items():
        print(f"| per pair: {k} | {v:.1f} | {v / p['remap']:.1f} |")
    for k, v in p["stages"].items():
        print(f"| per frame: {k} | {v:.1f} | {v / p['remap']:.1f} |")
    staged = sum(v for k, v in p["stages"].items() if not k.startswith("  "))
    print(f"| per frame: sum of the stages | {staged:.1f} | {staged / p['remap']:.1f} |")
    print(f"| per frame, measured whole | {p['frame']:.1f} | {p['frame'] / p['remap']:.1f} |")
    for k, v in p["notes"].items():
        print(f"\n{k}: {v}", end="")
    print()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--s", type=float, default=35.0, help="largest displacement of the pair, px")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sample", metavar="DIR", help="profile the Monkaa pair of this `blurgen sample` folder (made "
                    "with --size 960x540) whose s is closest to --s instead of a synthetic pair")
    ap.add_argument("--against", metavar="REF", help="also profile the kernels of this git revision (before the rewrite)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        import cv2

        cv2.setNumThreads(1)
        try:
            import blurgen.synth._splat_numba  # noqa: F401
            prof = profile_new
        except ImportError:
            prof = profile_today
        print(json.dumps(prof(spec["s"], spec["repeat"], spec.get("sample"))))
        return 0
    sample = str(Path(args.sample).resolve()) if args.sample else None
    load = os.getloadavg()
    print(f"Monkaa synthesis profile, {'the pair of ' + sample + ' closest to s, ' if sample else ''}960x540, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPU cores, "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; one thread, CPU time")
    if args.against:
        with tempfile.TemporaryDirectory() as tmp:
            print_profile(f"today (blurgen at {args.against})", run_worker(export_tree(args.against, Path(tmp)),
                                                                           args.s, args.repeat, sample))
    print_profile("new (this working tree)", run_worker(ROOT, args.s, args.repeat, sample))
    return 0


if __name__ == "__main__":
    sys.exit(main())
