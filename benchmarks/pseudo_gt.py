"""Label quality of the pseudo-ground-truth flow estimators, where the truth is known.

The bundled sample (``blurgen sample``) holds 240 fps sequences in the GoPro (PNG), NfS
(JPEG) and video (H.264) layouts with the exact flow of every 7-frame window
(``truth/index.json``; non-overlapping windows as ``blurgen real`` cuts them, none across
a missing frame). For up to ``--per-seq`` windows per sequence, each estimator and window
mode computes the flow first -> last and last -> first from the frames as stored
(``blurgen.flow.estimate_window``) and the forward-backward valid mask; the table gives
the end-point error (EPE, px) against the exact flow.

Columns: EPE fwd / bwd over all pixels; valid % (forward-backward consistent pixels);
EPE on the valid and on the invalid pixels (a useful mask makes the first small and the
second large); invalid/valid, the ratio of those two columns (how much worse the pixels
the mask drops are than the ones it keeps); s/window and CPU s/window (wall and process CPU time of estimate_window,
all passes; CPU time sums the threads and is steadier on a shared machine).

ptlflow models are timed with random weights (``ckpt="random"``) on ``--timing-windows``
windows, after one untimed window of the same mode (loading, first-call set-up): their
EPE is meaningless and is not printed. Pass ``--ckpt NAME_OR_FILE`` with real weights (offline,
in model_zoo/weights/) to measure their quality too.

Also printed: EPE on the real Sintel alley_1 pair (``../shared/realdata``) when present.

    python benchmarks/pseudo_gt.py                       # writes a 320x180 sample first
    python benchmarks/pseudo_gt.py --sample S --ptlflow pwcnet,fastflownet,flownet2
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from blurgen.flow import WINDOW_MODES, estimate_window, fb_consistency, get_estimator

REALDATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata"


def epe(flow: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> float:
    err = np.linalg.norm(flow - gt, axis=-1)
    if mask is not None:
        err = err[mask]
    return float(err.mean()) if err.size else float("nan")


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def sample_windows(sample: Path, per_seq: int):
    """Yield (key, frames, gt_fwd, gt_bwd) for the 240 fps windows of a written sample.

    Frames are read from the files as ``blurgen real`` reads them (GoPro PNG, NfS JPEG,
    H.264 video); the exact flows are the sample's ``truth/`` files
    (``blurgen.sources.sample_truth``).
    """
    from blurgen.sources.sample_truth import windows

    for item, frames, fwd, bwd in windows(sample, per_seq):
        yield f"{item['layout']}/{item['sequence']}/{item['first']}", frames, fwd, bwd


def run(args, sample: Path) -> None:
    meta = json.loads((sample / "sample.json").read_text())
    windows = list(sample_windows(sample, args.per_seq))
    h, w = windows[0][2].shape[:2]
    mags = [float(np.linalg.norm(g, axis=-1).mean()) for _, _, g, _ in windows]
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")
    print(f"sample {sample} (seed {meta.get('seed')}): {len(windows)} windows of {len(windows[0][1])} frames "
          f"at {w}x{h}, mean |flow| first->last {np.mean(mags):.2f} px (per window {min(mags):.1f} .. {max(mags):.1f})")

    configs = []
    for name in args.estimators.split(","):
        est = get_estimator(name)
        modes = ["direct"] if name == "zero" else [m for m in args.modes.split(",") if m in WINDOW_MODES]
        configs += [(est, m, True) for m in modes]
    for name in filter(None, args.ptlflow.split(",")):
        est = get_estimator(name, ckpt=args.ckpt or "random", device=args.device)
        quality = args.ckpt is not None
        configs += [(est, m, quality) for m in ("direct", "chained")]

    sintel = None
    d = REALDATA / "sintel_alley_1"
    if (d / "flow_0002_0003.flo").is_file():
        from blurgen.io.flo import read_flo
        from blurgen.io.frames import read_image

        sintel = (read_image(d / "frame_0002.png"), read_image(d / "frame_0003.png"), read_flo(d / "flow_0002_0003.flo"))

    rows = []
    for est, mode, quality in configs:
        if not quality:  # load the network and let torch set up this mode's shapes, untimed
            estimate_window(est, windows[0][1], mode)
        n = len(windows) if quality else min(len(windows), args.timing_windows)
        stats = {k: [] for k in ("fwd", "bwd", "valid", "on_valid", "on_invalid", "sec", "cpu")}
        for _, frames, gt_f, gt_b in windows[:n]:
            t, c = time.perf_counter(), time.process_time()
            fwd, bwd = estimate_window(est, frames, mode)
            stats["sec"].append(time.perf_counter() - t)
            stats["cpu"].append(time.process_time() - c)
            valid = fb_consistency(fwd, bwd).astype(bool)
            stats["fwd"].append(epe(fwd, gt_f))
            stats["bwd"].append(epe(bwd, gt_b))
            stats["valid"].append(100 * valid.mean())
            stats["on_valid"].append(epe(fwd, gt_f, valid))
            stats["on_invalid"].append(epe(fwd, gt_f, ~valid))
        sintel_epe = float("nan")
        if sintel is not None and quality and mode == "direct":
            sintel_epe = epe(est.estimate_pair(sintel[0], sintel[1]), sintel[2])
        means = {k: _mean(v) for k, v in stats.items()}
        rows.append((est.label, mode, quality, n, means, sintel_epe))

    def f(v, ok=True):
        return "-" if not ok or np.isnan(v) else f"{v:.3f}"

    def ratio(s, ok):
        r = s["on_invalid"] / s["on_valid"] if ok and s["on_valid"] > 0 else float("nan")
        return "-" if np.isnan(r) else f"{r:.1f}x"

    print()
    print("| estimator | mode | windows | EPE fwd | EPE bwd | valid % | EPE valid | EPE invalid "
          "| invalid/valid | s/window | CPU s/window | Sintel EPE |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, mode, q, n, s, sin in rows:
        print(f"| {label} | {mode} | {n} | {f(s['fwd'], q)} | {f(s['bwd'], q)} | {f(s['valid'], q)} | "
              f"{f(s['on_valid'], q)} | {f(s['on_invalid'], q)} | {ratio(s, q)} | {s['sec']:.3f} | {s['cpu']:.3f} | {f(sin, q)} |")
    if any(not r[2] for r in rows):
        print("\n'-': ptlflow models with random weights, timed only (their flow is meaningless).")
    import torch

    print(f"threads: torch {torch.get_num_threads()}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sample", default=None, help="a folder written by `blurgen sample` (default: write one)")
    p.add_argument("--size", default="320x180", help="size WxH of the sample written when --sample is absent")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample written when --sample is absent")
    p.add_argument("--per-seq", type=int, default=3, help="windows per sequence (default 3)")
    p.add_argument("--estimators", default="zero,dis,dis-fast,farneback")
    p.add_argument("--modes", default="direct,chained,chained-init")
    p.add_argument("--ptlflow", default="", help="comma-separated ptlflow models (timing with random weights)")
    p.add_argument("--ckpt", default=None, help="checkpoint for the ptlflow models (then EPE is printed)")
    p.add_argument("--device", default=None)
    p.add_argument("--timing-windows", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="torch and OpenCV threads")
    args = p.parse_args()
    if args.threads:
        import cv2
        import torch

        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    if args.sample:
        run(args, Path(args.sample))
        return
    from blurgen.sources.sample import SampleConfig, parse_size, write_sample

    w, h = parse_size(args.size)
    with tempfile.TemporaryDirectory(prefix="blurgen-pseudo-gt-") as tmp:
        write_sample(Path(tmp) / "sample", SampleConfig(width=w, height=h, seed=args.seed, only=("gopro", "nfs", "video")))
        run(args, Path(tmp) / "sample")


if __name__ == "__main__":
    main()
