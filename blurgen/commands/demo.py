"""`blurgen demo OUT`: the whole chain on the bundled sample, offline, on the CPU."""

from __future__ import annotations

import click


@click.command("demo")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--size", default="320x180", show_default=True, help="Frame size of the sample (WxH).")
@click.option("--seed", default=0, show_default=True,
              help="Seed of the sample and of the training (the dataset stages draw nothing at random).")
@click.option("--workers", default=2, show_default=True, help="Worker processes for the dataset stages.")
@click.option("--train-steps", default=100, show_default=True, help="Optimiser steps of the short training.")
@click.option("--crop", type=int, default=None,
              help="Training crop (multiple of 64) [default: the largest that fits, at most 256; 128 at 320x180].")
@click.option("--width", default=0.125, show_default=True, help="B2F-net channel width multiplier for the demo.")
@click.option("--overwrite", is_flag=True, help="Start again in a non-empty OUT.")
@click.option("--quiet", is_flag=True, help="Only the final summary.")
def demo(out: str, size: str, seed: int, workers: int, train_steps: int, crop: int, width: float,
         overwrite: bool, quiet: bool) -> None:
    """Run sample -> synth-monkaa (flow-guided) -> real for gopro, nfs and the video (dis) ->
    a short B2F-net training (narrow network, lr 1e-3: a smoke test of learning, not
    the paper's schedule) -> eval -> preview, and print where everything is.

    Needs no weights and no network. OUT/preview.png is the contact sheet; each dataset
    folder has its card (README.md) and manifest.json.
    """
    from pathlib import Path

    from blurgen.demo import run_demo

    run_demo(Path(out), size=size, seed=seed, workers=workers, train_steps=train_steps, crop=crop,
             width=width, overwrite=overwrite, quiet=quiet, echo=click.echo)
