"""Does training on the better labels help? A short B2F-net run with and without them.

Usage: python benchmarks/quality_train.py [--sample S] [--steps 100]
(also run by `python benchmarks/quality.py --train`)

The GoPro and NfS frames of a procedural sample (default: seed 4 at 320x180, written in a
temporary folder; the calibrations were fitted on seeds 0, 2, 3) become one `blurgen real
--source frames --flow-model dis` dataset: DIS pseudo labels with their uncertainty and
label_epe_est, one 7-frame window per sample. Three runs of `blurgen train` (TrainConfig)
with the same seed, steps and held-out windows (--val-fraction 0.3 by key: the holdout
does not depend on the filters): no quality option; --max-label-epe at the 75th
percentile of label_epe_est (about a quarter of the windows left out); --uncertainty-weight
1 px. Each last.pt is scored on the held-out windows against their exact flow (full frames,
EPE = min over the two directions, as the paper; `blurgen.train.evaluate.infer_flow`), beside
the EPE of the DIS labels themselves. A CPU-sized check: 100 steps of a quarter-width network
on a few dozen windows say whether the options run and what they change, not what they do
over a real training.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def frames_root(sample: Path, dest: Path) -> dict[str, tuple[str, str]]:
    """Copy the sample's GoPro and NfS frame folders into ``dest/<layout>__<sequence>``;
    return {folder name: (layout, sequence)}."""
    from blurgen.sources.sample_truth import truth_items

    names = {}
    for it in truth_items(sample, ("gopro", "nfs")):
        name = f"{it['layout']}__{it['sequence']}"
        if name not in names:
            src = (sample / it["frames"][0]).parent
            shutil.copytree(src, dest / name)
            names[name] = (it["layout"], it["sequence"])
    return names


def truth_by_key(sample: Path, names: dict[str, tuple[str, str]]) -> dict[str, dict]:
    """Real-job key (``frames/<folder>/<first>``) -> truth item."""
    from blurgen.sources.sample_truth import truth_items

    back = {v: k for k, v in names.items()}
    out = {}
    for it in truth_items(sample, ("gopro", "nfs")):
        folder = back[(it["layout"], it["sequence"])]
        digits = len(Path(it["frames"][0]).stem)
        out[f"frames/{folder}/{it['first']:0{digits}d}"] = it
    return out


def score(run: Path, shards: Path, keys: list[str], truth: dict[str, dict], sample: Path) -> tuple[float, float]:
    """(EPE of the run's last.pt, EPE of the stored DIS labels) on ``keys`` against the exact
    flow; min over the two directions, mean over the windows."""
    import torch

    from blurgen.shards.dataset import ShardDataset
    from blurgen.sources.sample_truth import truth_flows
    from blurgen.train.checkpoint import load_model
    from blurgen.train.evaluate import infer_flow

    model, _ = load_model(run / "last.pt", torch.device("cpu"))
    ds = ShardDataset(shards, crop=None)
    net, lab = [], []
    for k in keys:
        item = ds[ds.index_of(k)]
        f, b = truth_flows(sample, truth[k])
        with torch.no_grad():
            pred = infer_flow(model, item["blur"][None])[0].permute(1, 2, 0).numpy()
        net.append(min(np.linalg.norm(pred - f, axis=2).mean(), np.linalg.norm(pred - b, axis=2).mean()))
        lab.append(np.linalg.norm(item["flow"].permute(1, 2, 0).numpy() - f, axis=2).mean())
    return float(np.mean(net)), float(np.mean(lab))


def train_comparison(sample: Path, steps: int = 100) -> None:
    import torch

    from blurgen.jobs import prepare_job
    from blurgen.models.b2fnet.config import B2FNetConfig
    from blurgen.pipeline import run
    from blurgen.report import read_records
    from blurgen.train.config import TrainConfig
    from blurgen.train.trainer import train

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="blurgen-quality-train-") as tmp:
        tmp = Path(tmp)
        names = frames_root(sample, tmp / "frames")
        job, recipe = prepare_job("real", tmp / "frames", None, {"source": "frames", "flow_model": "dis"})
        run(job, tmp / "shards", recipe=recipe, quiet=True)
        est = [r["meta"]["label_epe_est"] for r in read_records(tmp / "shards")]
        cut = float(np.percentile(est, 75))
        truth = truth_by_key(sample, names)
        runs = {"no quality option": {}, f"--max-label-epe {cut:.3f}": {"max_label_epe": cut},
                "--uncertainty-weight 1": {"uncertainty_weight": 1.0}}
        print(f"\n### Training with and without the quality options ({len(est)} DIS-labelled windows of sample "
              f"seed {__import__('json').loads((sample / 'sample.json').read_text())['seed']}, {steps} steps, "
              "held-out windows scored against the exact flow)\n")
        print("| run | training windows | held out | steps | s | EPE held-out (network) px | EPE of their DIS labels px |")
        print("|---|---|---|---|---|---|---|")
        for i, (name, extra) in enumerate(runs.items()):
            cfg = TrainConfig(shards=str(tmp / "shards"), out=str(tmp / f"run{i}"), preset=None, epochs=1000,
                              lr=1e-4, milestones=(), max_steps=steps, batch_size=4, crop=128, val_fraction=0.3,
                              val_every=1000, device="cpu", quiet=True, model=B2FNetConfig(width=0.25), **extra)
            t0 = time.perf_counter()
            summary = train(cfg)
            seconds = time.perf_counter() - t0
            man = __import__("json").loads((Path(cfg.out) / "run.json").read_text())
            held = man["selection"]["keys"]
            net, lab = score(Path(cfg.out), tmp / "shards", held, truth, sample)
            print(f"| {name} | {man['train']['n']} | {len(held)} | {summary['steps']} | {seconds:.0f} | {net:.3f} "
                  f"| {lab:.3f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", default=None, help="a `blurgen sample` folder (default: write seed 4, 320x180)")
    ap.add_argument("--steps", type=int, default=100)
    a = ap.parse_args()
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(a.sample) if a.sample else Path(tmp) / "sample"
        if not a.sample:
            from blurgen.sources.sample import SampleConfig, write_sample

            write_sample(sample, SampleConfig(seed=4, only=("gopro", "nfs"), workers=2))
        train_comparison(sample, a.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
