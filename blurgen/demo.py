"""The demo chain, through the library: the bundled sample -> synth-monkaa (flow-guided) ->
real for gopro, nfs and the video (dis) -> a short B2F-net training -> eval -> preview.

Each stage calls the function its command calls (``write_sample``, ``prepare_job`` +
``pipeline.run``, ``train``, ``evaluate_checkpoint``) and prints the equivalent command
line, which the datasets' manifests also record.

Layout of OUT: ``sample/`` (the procedural sample, ground truth in ``sample/truth``),
``monkaa/``, ``gopro/``, ``nfs/``, ``video/`` (shards, manifest.json, README.md each),
``run/`` (the training run: last.pt, best.pt, run.json, tb/, curve.png), ``preview.png``
(contact sheet of every dataset), ``results.png`` (what the model learned: each Monkaa test
image's blur | label | prediction | error with its EPE, then the training curve; see
``blurgen.train.results``), ``demo.json`` (the headline numbers; ``status`` is "running"
until the chain completes).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from blurgen import pipeline
from blurgen.errors import ConfigError
from blurgen.io.frames import write_image
from blurgen.jobs import prepare_job
from blurgen.models.b2fnet import B2FNetConfig
from blurgen.report import contact_sheet
from blurgen.sources.sample import SampleConfig, parse_size, write_sample
from blurgen.train.config import TrainConfig
from blurgen.train.curve import write_curve
from blurgen.train.evaluate import evaluate_checkpoint
from blurgen.train.results import write_results
from blurgen.train.trainer import train

# The dataset stages, in order: OUT/<name> made by job kind from the sample's layout <name>
# with these flags (command-line settings; they draw nothing at random: no seed).
DATASET_STAGES = {
    "monkaa": ("synth-monkaa", {"interpolator": "flow-guided", "store_ends": True}),
    "gopro": ("real", {"source": "gopro", "flow_model": "dis"}),
    "nfs": ("real", {"source": "nfs", "flow_model": "dis"}),
    "video": ("real", {"source": "video", "flow_model": "dis"}),
}
EVAL_KEYS = ("epe_min", "epe_fwd", "epe_bwd", "zero_epe_min", "n")


class _Stages:
    """Times the stages; shows each one's equivalent ``blurgen`` command line unless quiet."""

    def __init__(self, echo: Callable[[str], None], quiet: bool):
        self.echo, self.quiet = echo, quiet
        self.times: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str, argv: list[str]) -> Iterator[list[str]]:
        """``with stages(name, argv) as command:`` times the block; command = ["blurgen", *argv]."""
        if not self.quiet:
            self.echo("$ blurgen " + " ".join(argv))
        t0 = time.perf_counter()
        yield ["blurgen", *argv]
        self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - t0


def combined_preview(folders: list[Path], png: Path, per_folder: int = 2, seed: int = 0) -> Path:
    """One contact sheet with a few samples of each dataset folder, stacked (white padding
    on the right of narrower sheets); written to ``png``."""
    sheets = [contact_sheet(f, n=per_folder, seed=seed) for f in folders]
    w = max(s.shape[1] for s in sheets)
    sheets = [np.hstack([s, np.full((s.shape[0], w - s.shape[1], 3), 255, np.uint8)]) for s in sheets]
    write_image(png, np.vstack(sheets))
    return png


def _fresh(out: Path, overwrite: bool) -> None:
    """Make ``out`` empty: refuse a non-empty folder without ``overwrite``, and one that is
    not an earlier demo's (no demo.json) in any case."""
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"{out} is not empty: give an empty folder or --overwrite")
        if not (out / "demo.json").is_file():
            raise ConfigError(f"{out} is not a blurgen demo folder (no demo.json): refusing to delete it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _make_sample(stages: _Stages, s: Path, size: str, seed: int, workers: int, quiet: bool) -> None:
    width, height = parse_size(size)
    argv = ["sample", str(s), "--size", size, "--seed", str(seed), "--workers", str(workers), *_quiet(quiet)]
    with stages("sample", argv):
        write_sample(s, SampleConfig(width=width, height=height, seed=seed, workers=workers))


def _make_datasets(stages: _Stages, s: Path, out: Path, workers: int, quiet: bool) -> None:
    """Each of ``DATASET_STAGES`` from the sample ``s`` into ``out/<name>``."""
    for name, (kind, flags) in DATASET_STAGES.items():
        source = {k: v for k, v in flags.items() if k == "source"}
        others = {k: v for k, v in flags.items() if k != "source"}
        argv = [kind, *_flag_words(source), "--root", str(s / name), "--out", str(out / name),
                *_flag_words(others), "--workers", str(workers), *_quiet(quiet)]
        stage = f"real {flags['source']}" if source else kind
        with stages(stage, argv) as command:
            job, recipe = prepare_job(kind, s / name, None, flags)
            pipeline.run(job, out / name, workers=workers, quiet=quiet, command=command, recipe=recipe)


def _flag_words(flags: dict) -> list[str]:
    """``{"flow_model": "dis", "store_ends": True}`` -> ``["--flow-model", "dis", "--store-ends"]``."""
    words: list[str] = []
    for k, v in flags.items():
        words += ["--" + k.replace("_", "-")] + ([] if v is True else [str(v)])
    return words


def _quiet(quiet: bool) -> list[str]:
    return ["--quiet"] if quiet else []


def _train(stages: _Stages, shards: Path, run: Path, *, steps: int, crop: int | None, width: float, seed: int,
           quiet: bool) -> dict:
    """A short B2F-net training on ``shards`` into ``run`` with the defaults of ``TrainConfig``
    (= ``blurgen train``'s: the monkaa preset, holdout validation, the crop that fits, 4
    DataLoader workers on CUDA) but a narrow network, lr 1e-3 and random crops; returns
    RUN/run.json."""
    argv = ["train", "--shards", str(shards), "--out", str(run), "--max-steps", str(steps),
            *([] if crop is None else ["--crop", str(crop)]), "--width", str(width), "--crop-mode", "random",
            "--lr", "1e-3", "--seed", str(seed), *_quiet(quiet)]
    cfg = TrainConfig(shards=str(shards), out=str(run), crop=crop, crop_mode="random", seed=seed, max_steps=steps,
                      lr=1e-3, quiet=quiet, model=B2FNetConfig(width=width))  # the rest: TrainConfig's defaults
    with stages("train", argv):
        train(cfg)
    return json.loads((run / "run.json").read_text())


def _evaluate(stages: _Stages, ckpt: Path, shards: Path, crop: int) -> dict[str, dict]:
    """EPE of ``ckpt`` on the test split of ``shards``: ``"whole"`` full frames given whole;
    ``"crop"`` centre crops of the training crop ``crop`` (what validation selected the
    checkpoint on; ``--crop``); ``"tiled"`` full frames in tiles of the training crop
    (``--tile auto``), per image too (what ``blurgen eval --json --per-sample`` prints: the
    numbers ``results.png`` draws)."""
    runs = {"whole": ([], {}), "crop": (["--crop", str(crop)], dict(crop=crop)),
            "tiled": (["--tile", "auto", "--per-sample"], dict(tile="auto", per_sample=True))}
    out = {}
    for name, (flags, kw) in runs.items():
        argv = ["eval", "--ckpt", str(ckpt), "--shards", str(shards), "--split", "test", *flags, "--json"]
        with stages("eval", argv):
            out[name] = evaluate_checkpoint(ckpt, shards, split="test", **kw)
    return out


def _results(ckpt: Path, shards: Path, run: Path, out: Path, n_test: int, tile: int) -> dict:
    """OUT/results.png (the test images' predictions in tiles of ``tile`` px, then the
    training curve) and RUN/curve.png; returns what demo.json records of them."""
    title = (f"{ckpt.name} on the monkaa test split ({n_test} frames, in {tile}x{tile} tiles; never seen in "
             "training): blur | label | prediction | error")
    res = write_results(ckpt, shards, out / "results.png", run=run, split="test", device="auto", title=title,
                        tile=tile)
    write_curve(run, run / "curve.png")
    return {"png": "results.png", "curve": "run/curve.png",
            "images": [{"key": r["key"], "epe_min": r["epe_min"], "label": r["direction"]} for r in res["rows"]]}


def run_demo(out: Path, *, size: str = "320x180", seed: int = 0, workers: int = 2, train_steps: int = 100,
             crop: int | None = None, width: float = 0.125, overwrite: bool = False, quiet: bool = False,
             echo: Callable[[str], None] = print) -> dict:
    """Run the chain into ``out``; returns the headline numbers (also in OUT/demo.json and printed).

    Training uses ``blurgen train``'s defaults for the crop (None: the largest that fits,
    128 at 320x180) and for validation (a holdout of the training samples selects
    ``best.pt``); the test split is read only by the evaluation at the end.
    """
    out = Path(out)
    _fresh(out, overwrite)
    stages = _Stages(echo, quiet)
    t_all = time.perf_counter()
    (out / "demo.json").write_text(json.dumps({"status": "running", "size": size, "seed": seed}))
    s, run = out / "sample", out / "run"
    _make_sample(stages, s, size, seed, workers, quiet)
    _make_datasets(stages, s, out, workers, quiet)
    run_info = _train(stages, out / "monkaa", run, steps=train_steps, crop=crop, width=width, seed=seed, quiet=quiet)
    ckpt = run / "best.pt" if (run / "best.pt").is_file() else run / "last.pt"
    evals = _evaluate(stages, ckpt, out / "monkaa", run_info["crop"]["size"])
    ev = evals["whole"]
    datasets = [out / d for d in DATASET_STAGES]
    t0 = time.perf_counter()
    combined_preview(datasets, out / "preview.png")
    t1 = time.perf_counter()
    results = _results(ckpt, out / "monkaa", run, out, ev["n"], evals["tiled"]["tile"])
    stages.times["preview"], stages.times["results"] = t1 - t0, time.perf_counter() - t1
    total = time.perf_counter() - t_all

    head = _headline(datasets, stages.times, total, ev, run_info, ckpt)
    head["eval_crop"] = {"crop": run_info["crop"]["size"], **{k: evals["crop"].get(k) for k in EVAL_KEYS}}
    head["eval_tiled"] = {"tile": evals["tiled"]["tile"], **{k: evals["tiled"].get(k) for k in EVAL_KEYS}}
    head["results"] = results
    (out / "demo.json").write_text(json.dumps(head, indent=1))
    for line in _summary(out, head, stages.times, total, ev, run_info, ckpt):
        echo(line)
    return head


def _headline(datasets: list[Path], times: dict[str, float], total: float, ev: dict, run_info: dict,
              ckpt: Path) -> dict:
    """The content of demo.json: timings, per-dataset counts, the evaluation and what selected
    the checkpoint."""
    counts = {}
    for d in datasets:
        man = json.loads((d / "manifest.json").read_text())
        counts[d.name] = {"samples": len(man["samples"]), "skipped": len(man["skipped"])}
    sel = run_info["selection"]
    return {"seconds": round(total, 1), "stage_seconds": {k: round(v, 1) for k, v in times.items()},
            "datasets": counts, "eval": {k: ev.get(k) for k in EVAL_KEYS},
            "selection": {"on": sel["on"], "n": sel.get("n", 0), "checkpoint": ckpt.name,
                          "crop": run_info["crop"]["size"]},
            "reported_on": f"monkaa {ev.get('split')} split", "status": "complete"}


def _summary(out: Path, head: dict, times: dict[str, float], total: float, ev: dict, run_info: dict,
             ckpt: Path) -> list[str]:
    """The lines printed at the end: where everything is, and the evaluation."""
    run, s = out / "run", out / "sample"
    sel = run_info["selection"]
    selected = (f"selected on a holdout of {sel['n']} of the {sel['n'] + run_info['train']['n']} training samples"
                if sel["on"] == "holdout" else f"selected on {sel['on']}")
    if ckpt.name == "last.pt":
        selected = "no validation: the last checkpoint"
    stage_times = ", ".join(f"{k} {v:.0f}s" for k, v in times.items())
    lines = ["", f"blurgen demo: done in {total:.0f} s  ({stage_times})",
             f"  sample          {s}  (ground truth in {s / 'truth'})"]
    for name, c in head["datasets"].items():
        d = out / name
        lines.append(f"  {name:<14}  {d}  {c['samples']} samples, {c['skipped']} skipped  (card: {d / 'README.md'})")
    lines.append(f"  training run    {run}  (checkpoint {ckpt.name}, crop {run_info['crop']['size']}, what it read: "
                 f"{run / 'run.json'}; TensorBoard logs in {run / 'tb'})")
    lines.append(f"  eval: {ckpt.name} {selected}, reported on the monkaa {ev.get('split')} split "
                 f"({ev.get('n', '?')} images, never seen in training):")
    c = head["eval_crop"]["crop"]
    lines.append(f"    centre crops {c}x{c} (the size it was trained and selected on): " + _epe_line(head["eval_crop"]))
    lines.append(f"    full frames in {c}x{c} tiles (blurgen eval --tile auto): " + _epe_line(head["eval_tiled"]))
    lines.append(f"    full frames given whole: {_epe_line(ev)}  (a network's output depends on the size of its "
                 "input: docs/training.md, 'Input size')")
    lines.append(f"  contact sheet   {out / 'preview.png'}")
    n = len(head["results"]["images"])
    lines.append(f"  results         {out / 'results.png'}  ({n} test image(s) in {c}x{c} tiles: blur | label | "
                 f"prediction | error, EPE on each; the training curve below it, also in {run / 'curve.png'})")
    return lines


def _epe_line(ev: dict) -> str:
    zero = ev.get("zero_epe_min")
    return (f"EPE min {ev['epe_min']:.3f} px" + (f" vs zero flow {zero:.3f} px" if zero is not None else "")
            + f" (fwd {ev['epe_fwd']:.3f}, bwd {ev['epe_bwd']:.3f})")


__all__ = ["combined_preview", "run_demo"]
