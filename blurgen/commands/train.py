"""CLI command(s); heavy imports happen inside the function bodies."""

from __future__ import annotations

import click

from blurgen.errors import NotBuiltError


@click.command("train", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def train() -> None:
    """Not built yet."""
    raise NotBuiltError("`blurgen train` is not built in this version yet")


@click.command("eval", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def eval_cmd() -> None:
    """Not built yet."""
    raise NotBuiltError("`blurgen eval` is not built in this version yet")


@click.command("predict", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def predict() -> None:
    """Not built yet."""
    raise NotBuiltError("`blurgen predict` is not built in this version yet")
