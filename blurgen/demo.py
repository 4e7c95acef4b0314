"""The demo chain: every stage through the same command-line entry points a user types."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

from blurgen.errors import ConfigError


def _blurgen(args: list[str], quiet: bool, echo: Callable[[str], None]) -> str:
    """Run one `blurgen ...` command in this process; return what it printed."""
    from blurgen.cli import cli

    echo("$ blurgen " + " ".join(args))
    argv, sys.argv = sys.argv, ["blurgen", *args]
    buf = StringIO()
    try:
        with redirect_stdout(buf):
            cli.main(args=args, prog_name="blurgen", standalone_mode=False)
    finally:
        sys.argv = argv
    text = buf.getvalue()
    if not quiet and text.strip():
        echo(text.rstrip())
    return text


def combined_preview(folders: list[Path], png: Path, per_folder: int = 2, seed: int = 0) -> Path:
    """One contact sheet with a few samples of each dataset folder, stacked."""
    import numpy as np

    from blurgen.io.frames import write_image
    from blurgen.report import contact_sheet

    sheets = [contact_sheet(f, n=per_folder, seed=seed) for f in folders]
    w = max(s.shape[1] for s in sheets)
    sheets = [np.hstack([s, np.full((s.shape[0], w - s.shape[1], 3), 255, np.uint8)]) for s in sheets]
    write_image(png, np.vstack(sheets))
    return png


def run_demo(out: Path, *, size: str = "320x180", seed: int = 0, workers: int = 2, train_steps: int = 100,
             crop: int | None = None, width: float = 0.125, overwrite: bool = False, quiet: bool = False,
             echo: Callable[[str], None] = print) -> dict:
    """Run the chain into ``out``; returns the headline numbers (also printed).

    Training uses ``blurgen train``'s defaults for the crop (None: the largest that fits,
    128 at 320x180) and for validation (a holdout of the training samples selects
    ``best.pt``); the test split is read only by ``blurgen eval`` at the end.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"{out} is not empty: give an empty folder or --overwrite")
        if not (out / "demo.json").is_file():
            raise ConfigError(f"{out} is not a blurgen demo folder (no demo.json): refusing to delete it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    q = ["--quiet"] if quiet else []
    times: dict[str, float] = {}
    t_all = time.perf_counter()

    def stage(name: str, args: list[str], show_output: bool = True) -> str:
        t0 = time.perf_counter()
        text = _blurgen(args, quiet or not show_output, echo if not quiet else (lambda s: None))
        times[name] = time.perf_counter() - t0
        return text

    (out / "demo.json").write_text(json.dumps({"status": "running", "size": size, "seed": seed}))
    s = out / "sample"
    stage("sample", ["sample", str(s), "--size", size, "--seed", str(seed), "--workers", str(workers), *q])
    common = ["--workers", str(workers), *q]  # the dataset stages draw nothing at random: no --seed
    stage("synth-monkaa", ["synth-monkaa", "--root", str(s / "monkaa"), "--out", str(out / "monkaa"),
                           "--interpolator", "flow-guided", "--store-ends", *common])
    for src in ("gopro", "nfs", "video"):
        stage(f"real {src}", ["real", "--source", src, "--root", str(s / src), "--out", str(out / src),
                              "--flow-model", "dis", *common])
    run = out / "run"
    crop_args = [] if crop is None else ["--crop", str(crop)]
    stage("train", ["train", "--shards", str(out / "monkaa"), "--out", str(run), "--max-steps", str(train_steps),
                    *crop_args, "--width", str(width), "--crop-mode", "random", "--lr", "1e-3",
                    "--seed", str(seed), *q])
    ckpt = run / "best.pt" if (run / "best.pt").is_file() else run / "last.pt"
    run_info = json.loads((run / "run.json").read_text())
    sel = run_info["selection"]
    selected = (f"selected on a holdout of {sel['n']} of the {sel['n'] + run_info['train']['n']} training samples"
                if sel["on"] == "holdout" else f"selected on {sel['on']}")
    if ckpt.name == "last.pt":
        selected = "no validation: the last checkpoint"
    ev = json.loads(stage("eval", ["eval", "--ckpt", str(ckpt), "--shards", str(out / "monkaa"), "--split", "test",
                                   "--json"], show_output=False))
    datasets = [out / d for d in ("monkaa", "gopro", "nfs", "video")]
    t0 = time.perf_counter()
    combined_preview(datasets, out / "preview.png")
    times["preview"] = time.perf_counter() - t0
    total = time.perf_counter() - t_all

    counts = {}
    for d in datasets:
        man = json.loads((d / "manifest.json").read_text())
        counts[d.name] = {"samples": len(man["samples"]), "skipped": len(man["skipped"])}
    head = {"seconds": round(total, 1), "stage_seconds": {k: round(v, 1) for k, v in times.items()},
            "datasets": counts, "eval": {k: ev.get(k) for k in ("epe_min", "epe_fwd", "epe_bwd", "zero_epe_min", "n")},
            "selection": {"on": sel["on"], "n": sel.get("n", 0), "checkpoint": ckpt.name, "crop": run_info["crop"]["size"]},
            "reported_on": f"monkaa {ev.get('split')} split", "status": "complete"}
    (out / "demo.json").write_text(json.dumps(head, indent=1))

    echo("")
    echo(f"blurgen demo: done in {total:.0f} s  ({', '.join(f'{k} {v:.0f}s' for k, v in times.items())})")
    echo(f"  sample          {s}  (ground truth in {s / 'truth'})")
    for d in datasets:
        c = counts[d.name]
        echo(f"  {d.name:<14}  {d}  {c['samples']} samples, {c['skipped']} skipped  (card: {d / 'README.md'})")
    echo(f"  training run    {run}  (checkpoint {ckpt.name}, crop {run_info['crop']['size']}, what it read: "
         f"{run / 'run.json'}; TensorBoard logs in {run / 'tb'})")
    zero = ev.get("zero_epe_min")
    echo(f"  eval: {ckpt.name} {selected}, reported on the monkaa {ev.get('split')} split (full frames, "
         f"{ev.get('n', '?')} images, never seen in training): EPE min {ev['epe_min']:.3f} px"
         + (f"  vs zero flow {zero:.3f} px" if zero is not None else "")
         + f"  (fwd {ev['epe_fwd']:.3f}, bwd {ev['epe_bwd']:.3f})")
    echo(f"  contact sheet   {out / 'preview.png'}")
    return head


__all__ = ["run_demo", "combined_preview"]
