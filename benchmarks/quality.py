"""How good are the quality estimates, on a sample the calibrations never saw.

Usage: python benchmarks/quality.py [--sample S] [--size 640x360] [--seed 1] [--train]

The shipped calibrations (blurgen/resources/calibration, refitted by
benchmarks/calibrations.py) were fitted on `blurgen sample` at 320x180 with seeds 0, 2, 3.
This evaluates them on another sample (default: seed 1 at 640x360, written in a temporary
folder unless --sample names one), with the same code a dataset run uses:

1. labels (real blur): per estimator, every 7-frame window of the gopro, nfs and video
   layouts is labelled (`blurgen.flow.estimate_window`) and its `uncertainty` map and
   `label_epe_est` made (`blurgen.quality.label`); against the exact flow: Spearman and
   mean absolute error of `label_epe_est` vs the true EPE over all pixels (forward label),
   and the per-pixel sparsification: remove the most uncertain pixels first and take the
   EPE of the rest, per window, averaged over windows, against the oracle that removes the
   truly worst first; AUSE = the area between the two curves (fractions 0..0.95, px);
   "EPE -20%" = EPE after removing the 20% most uncertain pixels;
2. fusion of two estimators (`--flow-model dis,farneback`): EPE of the label as blurgen
   stores it (the first model's) against the second model's, their mean, and a per-pixel
   choice of the model with the lower uncertainty;
3. fidelity (Monkaa): `fidelity_db_est` vs the PSNR of the job's uint8 blur against the
   continuous-time blur, pairs with s <= 100 (the ones a dataset keeps), for every shipped
   fidelity calibration with its interpolator (the default first, its pairs listed);
4. cost: seconds per sample of the label (`RealJob.make_timed` "flow": estimator and
   masks) and of the estimates ("quality"), and the same for the Monkaa synthesis;
5. with --ablation: label calibrations fitted on one calibration sample (seed 0, 320x180)
   with a subset of the signals each, evaluated on the evaluation sample as in 1;
6. with --train: a short B2F-net training on real-blur shards of a third sample (seed 4,
   320x180, DIS labels) without and with `--max-label-epe` / `--uncertainty-weight`, on
   the same held-out windows, scored against their exact flow.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from blurgen.jobs import build_job
from blurgen.jobs.calibrate import fidelity_job, fidelity_pairs, label_job, label_windows
from blurgen.jobs.monkaa import params_from as monkaa_params
from blurgen.quality import calibration as calib
from blurgen.quality.label import direction_signals, uncertainty
from blurgen.sources.sample import SampleConfig, parse_size, write_sample
from calibrations import FIDELITY

FRACTIONS = np.round(np.arange(0.0, 0.96, 0.05), 2)
CONFIGS = ("dis", "farneback", "dis,farneback")


def sparsification(err: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(EPE of the pixels left after removing the FRACTIONS most uncertain, the same for
    the oracle ordering by the true error) for one window; both ``(len(FRACTIONS),)``."""
    e = err.reshape(-1).astype(np.float64)
    n = e.size
    by_u = e[np.argsort(-u.reshape(-1), kind="stable")]
    by_e = np.sort(e)[::-1]
    cu, ce = np.cumsum(by_u[::-1])[::-1], np.cumsum(by_e[::-1])[::-1]  # suffix sums: what is kept
    keep = [int(round(f * n)) for f in FRACTIONS]
    return (np.array([cu[k] / (n - k) for k in keep]), np.array([ce[k] / (n - k) for k in keep]))


def label_rows(sample: Path, flow_model: str) -> dict:
    """Per-window truth and estimates of one estimator configuration (direct mode, the
    shipped calibration a run would apply)."""
    job = label_job(sample, flow_model, None, "direct", None)
    labels = [e.label for e in job.estimators]
    cal = calib.find("label", calib.label_key("direct", labels), calib.GENERIC_LABEL)
    singles = [calib.find("label", calib.label_key("direct", [lb]), calib.GENERIC_LABEL) for lb in labels]
    out = {"config": flow_model, "cal": cal["key"], "true": [], "est": [], "curves": [], "oracle": [], "fusion": []}
    for w in label_windows(sample, job):
        err = w.errors()[0]
        u = uncertainty(w.signals[0], cal)
        out["true"].append(float(err.mean(dtype=np.float64)))
        out["est"].append(float(u.mean(dtype=np.float64)))
        c, o = sparsification(err, u)
        out["curves"].append(c)
        out["oracle"].append(o)
        if w.others:
            out["fusion"].append(fusion(w, singles))
    return out


def ablation(sample: Path, calib_sample: Path) -> None:
    """Which label signals matter: a calibration per subset, fitted on ``calib_sample``."""
    from blurgen.jobs.calibrate import fit_label

    print(f"\n### Label signals (fitted on {calib_sample.name}, evaluated here; forward labels, direct mode)\n")
    print("| --flow-model | signals | Spearman | MAE px | EPE -20% px | reduction |")
    print("|---|---|---|---|---|---|")
    i20 = list(FRACTIONS).index(0.2)
    for model, subsets in (("dis", (("fb",), ("photo",), ("fb", "photo"))),
                           ("dis,farneback", (("disagree",), ("fb", "photo", "disagree")))):
        job = label_job(sample, model, None, "direct", None)
        windows = list(label_windows(sample, job))
        for feats in subsets:
            cal = fit_label([calib_sample], model, features=feats)
            t, e, c = [], [], []
            for w in windows:
                err, u = w.errors()[0], uncertainty(w.signals[0], cal)
                t.append(float(err.mean(dtype=np.float64)))
                e.append(float(u.mean(dtype=np.float64)))
                c.append(sparsification(err, u)[0])
            t, e, curve = np.array(t), np.array(e), np.mean(c, axis=0)
            print(f"| {model} | {' + '.join(feats)} | {spearmanr(e, t)[0]:.3f} | {np.abs(e - t).mean():.3f} "
                  f"| {curve[i20]:.3f} | {1 - curve[i20] / curve[0]:.0%} |")


def fusion(w, singles: list[dict]) -> dict[str, float]:
    """Forward EPE over all pixels of: the first model's label (what blurgen stores), the
    second's, their mean, and per pixel the one whose own (single-model) uncertainty is lower."""
    other_f, other_b = w.others[0]
    u1 = uncertainty(direction_signals(*w.ends, w.fwd, w.bwd), singles[0])
    u2 = uncertainty(direction_signals(*w.ends, other_f, other_b), singles[1])
    pick = np.where((u2 < u1)[..., None], other_f, w.fwd)

    def epe(f):
        return float(np.linalg.norm(f - w.truth[0], axis=2).mean(dtype=np.float64))

    return {"first": epe(w.fwd), "second": epe(other_f), "mean": epe((w.fwd + other_f) / 2), "select": epe(pick)}


def label_table(rows: list[dict]) -> None:
    print("\n### Labels: label_epe_est and the uncertainty maps (forward label, direct mode)\n")
    print("| --flow-model | calibration | windows | true EPE | label_epe_est | Spearman | MAE px "
          "| AUSE px | EPE all px | EPE -20% px | reduction | oracle -20% |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    i20 = list(FRACTIONS).index(0.2)
    for r in rows:
        t, e = np.array(r["true"]), np.array(r["est"])
        curve, oracle = np.mean(r["curves"], axis=0), np.mean(r["oracle"], axis=0)
        ause = float(np.trapezoid(curve - oracle, FRACTIONS))
        print(f"| {r['config']} | {r['cal']} | {len(t)} | {t.mean():.3f} | {e.mean():.3f} | {spearmanr(e, t)[0]:.3f} "
              f"| {np.abs(e - t).mean():.3f} | {ause:.3f} | {curve[0]:.3f} | {curve[i20]:.3f} "
              f"| {1 - curve[i20] / curve[0]:.0%} | {1 - oracle[i20] / oracle[0]:.0%} |")
    print("\nSparsification (mean over windows of the EPE of the pixels kept, px), first configuration and oracle:\n")
    print("| removed | " + " | ".join(f"{f:.0%}" for f in FRACTIONS[::2]) + " |")
    print("|---|" + "---|" * len(FRACTIONS[::2]))
    for r in rows:
        print(f"| {r['config']} | " + " | ".join(f"{v:.3f}" for v in np.mean(r["curves"], axis=0)[::2]) + " |")
    print(f"| oracle ({rows[0]['config']}) | "
          + " | ".join(f"{v:.3f}" for v in np.mean(rows[0]["oracle"], axis=0)[::2]) + " |")


def fusion_table(rows: list[dict]) -> None:
    for r in rows:
        if not r["fusion"]:
            continue
        first, second = r["config"].split(",")[:2]
        m = {k: np.mean([f[k] for f in r["fusion"]]) for k in r["fusion"][0]}
        print(f"\n### Fusion of {first} and {second} (forward EPE over all pixels, {len(r['fusion'])} windows)\n")
        print(f"| label | {first} (stored) | {second} | mean of both | per pixel, lower uncertainty |")
        print("|---|---|---|---|---|")
        print(f"| EPE px | {m['first']:.3f} | {m['second']:.3f} | {m['mean']:.3f} | {m['select']:.3f} |")


def fidelity_rows(sample: Path, params: dict) -> tuple[str, list[dict]]:
    job = fidelity_job(sample, monkaa_params({}, params))
    return job.config.quality_key, [{"s": smp.meta["s"], "est": smp.meta["fidelity_db_est"], "true": db, "times": t}
                                    for _, smp, db, t in fidelity_pairs(sample, job)]


def fidelity_table(sample: Path) -> list[dict]:
    """Every shipped fidelity calibration (benchmarks/calibrations.py) with its interpolator;
    returns the default's rows (the first)."""
    print("\n### Monkaa blur: fidelity_db_est, pairs with s <= 100\n")
    print("| calibration | model | pairs | true PSNR dB | fidelity_db_est dB | Spearman | MAE dB | bias dB |")
    print("|---|---|---|---|---|---|---|---|")
    first = None
    for params in FIDELITY.values():
        key, rows = fidelity_rows(sample, params)
        first = first or rows
        model = " + ".join(f for f, c in calib.find("fidelity", key)["coef"].items() if c)
        t, e = np.array([r["true"] for r in rows]), np.array([r["est"] for r in rows])
        print(f"| {key} | {model} | {len(t)} | {t.mean():.2f} | {e.mean():.2f} | {spearmanr(e, t)[0]:.3f} "
              f"| {np.abs(e - t).mean():.2f} | {(e - t).mean():+.2f} |")
    print(f"\nper pair of {next(iter(FIDELITY))} (s px: true / estimated dB): "
          + ", ".join(f"{r['s']:.1f}: {r['true']:.1f}/{r['est']:.1f}" for r in sorted(first, key=lambda r: r["s"])))
    return first


def cost_table(sample: Path, monkaa: list[dict]) -> None:
    print("\n### Cost per sample (seconds, this machine)\n")
    print("| dataset | samples | label or blur s | quality s | quality / label |")
    print("|---|---|---|---|---|")
    for flow_model in ("dis", "farneback", "dis,farneback"):
        flow_s = qual_s = 0.0
        n = 0
        for layout in ("gopro", "nfs", "video"):
            job = build_job("real", {"source": layout, "flow_model": flow_model, "quality": True}, sample / layout)
            for task in job.tasks():
                _, t = job.make_timed(task)
                flow_s, qual_s, n = flow_s + t["flow"], qual_s + t["quality"], n + 1
        print(f"| real, --flow-model {flow_model} (flow: estimators + masks) | {n} | {flow_s / n:.4f} "
              f"| {qual_s / n:.4f} | {qual_s / flow_s:.1%} |")
    syn = sum(r["times"]["synth"] for r in monkaa)
    q = sum(r["times"]["quality"] for r in monkaa)
    print(f"| synth-monkaa, flow-guided (interpolation + averaging) | {len(monkaa)} | {syn / len(monkaa):.4f} "
          f"| {q / len(monkaa):.4f} | {q / syn:.1%} |")


def ensure_sample(path: str | None, size: str, seed: int, tmp: Path, name: str) -> Path:
    if path:
        return Path(path)
    w, h = parse_size(size)
    out = tmp / name
    write_sample(out, SampleConfig(width=w, height=h, seed=seed, workers=2))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", default=None, help="the evaluation sample (default: write one)")
    ap.add_argument("--size", default="640x360", help="size of the evaluation sample written")
    ap.add_argument("--seed", type=int, default=1, help="seed of the evaluation sample written")
    ap.add_argument("--ablation", action="store_true", help="also compare label calibrations on subsets of the signals")
    ap.add_argument("--train", action="store_true", help="also run the short training comparison")
    ap.add_argument("--train-sample", default=None, help="sample for --train (default: write seed 4, 320x180)")
    ap.add_argument("--steps", type=int, default=100, help="training steps per run with --train")
    a = ap.parse_args()
    import cv2

    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="blurgen-quality-") as tmp:
        sample = ensure_sample(a.sample, a.size, a.seed, Path(tmp), "eval")
        info = __import__("json").loads((sample / "sample.json").read_text())
        cal = calib.find("label", "direct:dis")
        print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")
        print(f"evaluation sample: seed {info['seed']}, {info['size'][0]}x{info['size'][1]}; calibrations fitted on "
              + ", ".join(f"seed {s['seed']} {s['size'][0]}x{s['size'][1]}" for s in cal["fitted_on"]["samples"]))
        t0 = time.perf_counter()
        rows = [label_rows(sample, c) for c in CONFIGS]
        if not rows[0]["true"]:
            sys.exit(f"{sample}: no GoPro, NfS or video windows with truth to evaluate the labels on; give a sample "
                     "with every layout (`blurgen sample S --size 640x360 --seed N`, without --only)")
        label_table(rows)
        fusion_table(rows)
        monkaa = fidelity_table(sample)
        cost_table(sample, monkaa)
        print(f"\n({time.perf_counter() - t0:.0f} s)")
        if a.ablation:
            ablation(sample, ensure_sample(None, "320x180", 0, Path(tmp), "sample-320x180-seed0"))
        if a.train:
            from quality_train import train_comparison

            train_comparison(ensure_sample(a.train_sample, "320x180", 4, Path(tmp), "train"), a.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
