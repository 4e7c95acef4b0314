"""`blurgen train`, `blurgen eval`, `blurgen predict`: B2F-net on shards and on images.

At the top only click and the torch-free config (the options' defaults come from
``TrainConfig``, ``B2FNetConfig`` and ``PRESETS``); torch and the training modules load
inside the commands.
"""

from __future__ import annotations

import click

from blurgen.errors import ConfigError
from blurgen.models.b2fnet.config import CORR_IMPLS, B2FNetConfig
from blurgen.train.tiling import DEFAULT_OVERLAP, parse_tile
from blurgen.train.config import (
    AMP_MODES, CROP_MODES, CUDA_WORKERS, DEFAULT_CROP, LOSS_DIRECTIONS, PRESETS, TrainConfig, apply_preset, defaults,
)

D = defaults(TrainConfig)  # the options' defaults
M = defaults(B2FNetConfig)


def _per_preset(attr: str, fmt=str) -> str:
    """A preset field for help texts: "preset: V" when every preset has V, else "monkaa: V, ..."."""
    values = {name: fmt(getattr(p, attr)) for name, p in PRESETS.items()}
    if len(set(values.values())) == 1:
        return f"preset: {next(iter(values.values()))}"
    return ", ".join(f"{name}: {v}" for name, v in values.items())


PRESET_HELP = "Paper schedule: " + "; ".join(
    f"{name} = {p.epochs} epochs, lr {p.lr:g} halved at {'/'.join(map(str, p.milestones))}"
    for name, p in PRESETS.items()) + "."


def _milestones(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"--milestones {text!r}: give comma-separated epochs, e.g. 100,150,200") from None


def config_from_options(o: dict) -> TrainConfig:
    """The ``TrainConfig`` of ``blurgen train``'s parsed options ``o`` (preset, then overrides)."""
    if not o["shards"] and not o["resume"]:
        raise ConfigError("--shards is required (except with --resume)")
    if o["val_fraction"] is not None and (o["val_shards"] or o["val_split"] != "holdout"):
        raise ConfigError("--val-fraction sets the size of --val-split holdout; it does nothing with "
                          "--val-shards or another --val-split")
    same = ("batch_size", "crop", "crop_mode", "weight_decay", "seed", "max_steps", "train_split", "val_split",
            "val_shards", "init_from", "loss_direction", "max_label_epe", "min_fidelity_db", "uncertainty_weight",
            "workers", "amp", "channels_last", "device", "threads", "log_every", "val_every", "ckpt_every",
            "sync_report", "quiet")
    kw = {k: o[k] for k in same}
    if o["val_fraction"] is not None:
        kw["val_fraction"] = o["val_fraction"]
    model = B2FNetConfig(width=o["width"], stn=not o["no_stn"], refine=not o["no_refine"], corr_impl=o["corr_impl"])
    cfg = apply_preset(TrainConfig(shards=o["shards"] or "", out=o["out"], model=model, **kw), o["preset"])
    overrides = {"epochs": o["epochs"], "lr": o["lr"], "milestones": _milestones(o["milestones"])}
    for name, value in overrides.items():
        if value is not None:
            setattr(cfg, name, value)
    return cfg


@click.command("train")
@click.option("--shards", type=click.Path(exists=True),
              help="Dataset folder (the --out of a run), a folder of such folders (each one's shards), or one shard "
                   "file, to train on.")
@click.option("--out", required=True, type=click.Path(), help="Run folder: last.pt, best.pt, tb/ (TensorBoard).")
@click.option("--preset", type=click.Choice([*PRESETS, "none"]), default=D["preset"], show_default=True,
              help=PRESET_HELP)
@click.option("--epochs", type=int, help=f"Override the preset's number of epochs ({_per_preset('epochs')}).")
@click.option("--lr", type=float, help=f"Override the initial learning rate ({_per_preset('lr', '{:g}'.format)}).")
@click.option("--milestones", help="Override the epochs at which the lr is halved, e.g. 100,150.")
@click.option("--batch-size", type=int, default=D["batch_size"], show_default=True,
              help="Samples per step (per process under torchrun).")
@click.option("--crop", type=int, default=D["crop"],
              help=f"Square crop in pixels (multiple of 64) [default: {DEFAULT_CROP}, or the largest multiple of 64 "
                   f"that fits every shard when {DEFAULT_CROP} does not].")
@click.option("--crop-mode", type=click.Choice(CROP_MODES), default=D["crop_mode"], show_default=True)
@click.option("--weight-decay", type=float, default=D["weight_decay"], show_default=True)
@click.option("--seed", type=int, default=D["seed"], show_default=True)
@click.option("--max-steps", type=int, default=D["max_steps"],
              help="Stop after this many optimiser steps in total (short runs).")
@click.option("--train-split", default=D["train_split"], show_default=True,
              help="Split of --shards to train on ('' = every shard but test and the validation split).")
@click.option("--val-split", default=D["val_split"], show_default=True,
              help="What selects best.pt: holdout (a --val-fraction of the training samples, by key hash, "
                   "left out of training), none, or another split of --shards (never test).")
@click.option("--val-fraction", type=float, default=None,
              help="Share of the training samples held out by --val-split holdout (at least one sample) "
                   f"[default: {D['val_fraction']}].")
@click.option("--val-shards", type=click.Path(exists=True), default=D["val_shards"],
              help="Validate on these shards instead (a separate set; its test shards are never read).")
@click.option("--init-from", type=click.Path(exists=True, dir_okay=False), default=D["init_from"],
              help="Start from this checkpoint's weights.")
@click.option("--loss-direction", type=click.Choice(LOSS_DIRECTIONS), default=D["loss_direction"], show_default=True,
              help="fwd: against flow first->last (paper); min: the smaller loss of both directions.")
@click.option("--max-label-epe", type=float, default=D["max_label_epe"],
              help="Leave out of training the samples whose estimated label EPE (meta label_epe_est, px) is larger; "
                   "samples without the estimate are kept, validation is not filtered (docs/quality.md).")
@click.option("--min-fidelity-db", type=float, default=D["min_fidelity_db"],
              help="Leave out of training the Monkaa samples whose estimated blur PSNR (meta fidelity_db_est, dB) is "
                   "smaller; samples without the estimate are kept.")
@click.option("--uncertainty-weight", type=float, default=D["uncertainty_weight"],
              help="Weight each label pixel in the loss by 1 / (1 + u / THIS), u its stored uncertainty in px "
                   "(0 where none is stored) [off].")
@click.option("--width", type=float, default=M["width"], show_default=True, help="Channel width multiplier.")
@click.option("--no-stn", is_flag=True, default=not M["stn"], help="Ablation: decoders without spatial transformers.")
@click.option("--no-refine", is_flag=True, default=not M["refine"], help="Ablation: decoders without refining blocks.")
@click.option("--corr", "corr_impl", type=click.Choice(CORR_IMPLS), default=M["corr_impl"], show_default=True,
              help="Correlation implementation.")
@click.option("--workers", type=int, default=D["workers"],
              help=f"DataLoader workers [default: {CUDA_WORKERS} on CUDA, 0 on CPU].")
@click.option("--amp", type=click.Choice(AMP_MODES), default=D["amp"], show_default=True, help="bf16 autocast (CUDA).")
@click.option("--channels-last", is_flag=True, default=D["channels_last"], help="channels-last memory format (CUDA).")
@click.option("--device", default=D["device"], show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--threads", type=int, default=D["threads"], help="torch CPU threads.")
@click.option("--log-every", type=int, default=D["log_every"], show_default=True,
              help="TensorBoard scalars every N steps.")
@click.option("--val-every", type=int, default=D["val_every"], show_default=True,
              help="Validate and write last.pt every N epochs.")
@click.option("--ckpt-every", type=int, default=D["ckpt_every"], show_default=True,
              help="Also write last.pt every N steps (0: per epoch).")
@click.option("--sync-report", is_flag=True, default=D["sync_report"],
              help="Each rank writes RUN/sync/rank-R.json with its parameter hash at the end.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last.pt exactly.")
@click.option("--quiet", is_flag=True, default=D["quiet"], help="No progress bar or messages.")
def train(**o) -> None:
    """Train B2F-net on HDF5 shards (the paper's optimiser and schedule by default).

    best.pt is selected on a holdout of the training samples; the test split is never read
    (measure it afterwards with blurgen eval). RUN/run.json names the holdout.

    Multi-GPU or multi-process: torchrun --nproc_per_node N -m blurgen train ...
    """
    import json
    import os

    from blurgen.train.trainer import train as run_train

    summary = run_train(config_from_options(o), resume=o["resume"])
    if not o["quiet"] and int(os.environ.get("RANK", "0")) == 0:
        best = summary["best_epe"]
        click.echo(json.dumps({"steps": summary["steps"], "best_epe": None if best != best else best,
                               "selected_on": summary["selected_on"], "last": summary["last"],
                               "best": summary["best"]}))


def tile_options(what: str):
    """``--tile`` and ``--tile-overlap`` (``blurgen.train.tiling``) for a command that runs
    the network on ``what`` (frames, images)."""
    def decorate(f):
        f = click.option("--tile-overlap", type=click.IntRange(min=0), default=DEFAULT_OVERLAP, show_default=True,
                         help="Pixels shared by neighbouring tiles (with --tile).")(f)
        return click.option("--tile", default="0", show_default=True,
                            help="Run the network on tiles of this many pixels, blended; auto = the crop it was "
                                 f"trained on; 0 = whole {what}.")(f)
    return decorate


@click.command("eval")
@click.option("--ckpt", required=True, type=click.Path(exists=True, dir_okay=False), help="Checkpoint (last.pt / best.pt).")
@click.option("--shards", required=True, type=click.Path(exists=True),
              help="Dataset folder, a folder of such folders, or one shard file.")
@click.option("--split", default="auto", show_default=True,
              help="Shard split to evaluate; auto = 'test' when the folder has it, else every shard; 'all'.")
@click.option("--crop", type=int, default=0, show_default=True, help="Centre crop in pixels; 0 = full frames.")
@tile_options("frames")
@click.option("--batch-size", type=int, default=1, show_default=True)
@click.option("--limit", type=int, help="Evaluate only the first N samples.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--amp", type=click.Choice(AMP_MODES), default="none", show_default=True)
@click.option("--workers", type=int, default=0, show_default=True)
@click.option("--threads", type=int, help="torch CPU threads.")
@click.option("--per-sample", is_flag=True, help="Also each sample's EPE, by key (JSON: \"samples\").")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (epe_min, epe_fwd, epe_bwd, per_source, ...).")
def eval_cmd(ckpt, shards, split, crop, tile, tile_overlap, batch_size, limit, device, amp, workers, threads, per_sample,
             as_json) -> None:
    """EPE of a B2F-net checkpoint on shards: min of both directions and each direction,
    overall and per source, with the zero-flow baseline."""
    import json

    import torch

    from blurgen.train.evaluate import evaluate_checkpoint, format_table

    if threads:
        torch.set_num_threads(threads)
    res = evaluate_checkpoint(ckpt, shards, split=split, crop=crop, batch_size=batch_size, limit=limit,
                              device=device, amp=amp, workers=workers, progress=not as_json, per_sample=per_sample,
                              tile=parse_tile(tile), tile_overlap=tile_overlap)
    if as_json:
        click.echo(json.dumps(res, sort_keys=True))
        return
    click.echo(f"{ckpt} on {shards} (split {res['split']}, {res['n']} samples, "
               f"{'full frames' if not crop else f'{crop}x{crop} centre crops'}"
               + (f", in tiles of {res['tile']} px" if res.get("tile") else "") + ")")
    click.echo(format_table(res))
    click.echo("EPE in pixels; epe_min = per-sample min over flow first->last and last->first; "
               "zero_* = EPE of predicting zero flow.")
    trained = res.get("train_crop")
    if trained and any(size != [trained, trained] for size in res.get("input_sizes", [])):
        click.echo(f"The network was trained on {trained}x{trained} crops; its output depends on the input size "
                   f"(--tile auto runs it on tiles of that size, --crop {trained} evaluates centre crops of it; "
                   "docs/training.md, 'Input size').")


@click.command("predict")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--ckpt", required=True, type=click.Path(exists=True, dir_okay=False), help="Checkpoint (last.pt / best.pt).")
@click.option("--out", required=True, type=click.Path(), help="Output folder (<name>.flo + <name>.png), or F.flo for one image.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--amp", type=click.Choice(AMP_MODES), default="none", show_default=True)
@click.option("--max-mag", type=float, help="Flow magnitude of full colour saturation in the PNG (default: per image).")
@click.option("--label", "labels", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Ground-truth flow (.flo, first -> last) of each image, one --label per image in their order: "
                   "also <name>-vs-label.png (blur | label | prediction | error) and the EPE.")
@tile_options("images")
@click.option("--threads", type=int, help="torch CPU threads.")
def predict(images, ckpt, out, device, amp, max_mag, labels, tile, tile_overlap, threads) -> None:
    """Flow from single blurred images (any size): a .flo and a colour PNG per image
    (a folder given stands for the image files in it, by name).

    An image (or its --label) that cannot be read is one line on stderr and the others are
    still predicted; the exit status is 1 when any image failed."""
    import torch

    from blurgen.train.predict import expand_folders, predict_files

    if threads:
        torch.set_num_threads(threads)
    recs = predict_files(expand_folders(images), ckpt, out, device=device, amp=amp, max_mag=max_mag,
                         labels=list(labels), tile=parse_tile(tile), tile_overlap=tile_overlap)
    for r in recs:
        if "error" in r:  # that image's bad input: one line; the others are done
            click.echo(f"Error: {r['error']}", err=True)
            continue
        click.echo(f"{r['image']} -> {r['flo']}, {r['png']} ({r['size'][0]}x{r['size'][1]}"
                   + (f" in tiles of {r['tile']} px" if r["tile"] else "") + ", "
                   f"mean |flow| {r['mean_mag']:.2f} px, max {r['max_mag']:.2f} px)"
                   + (f"; EPE {r['epe']:.3f} px against the label: {r['compare']}" if "compare" in r else ""))
    done = [r for r in recs if "error" not in r]
    trained = done[0]["train_crop"] if done else None
    if trained and not done[0]["tile"] and any(r["size"] != [trained, trained] for r in done):
        click.echo(f"Note: the network was trained on {trained}x{trained} crops and its output depends on the input "
                   f"size; --tile auto runs it on tiles of that size (docs/training.md, 'Input size').", err=True)
    if any("error" in r for r in recs):
        raise SystemExit(1)  # (ctx.exit's code is dropped by a non-standalone click main)
