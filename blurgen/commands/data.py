"""CLI command(s); heavy imports happen inside the function bodies."""

from __future__ import annotations

import click

from blurgen.errors import NotBuiltError


@click.command("rerun", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def rerun() -> None:
    """Not built yet."""
    raise NotBuiltError("`blurgen rerun` is not built in this version yet")


@click.command("verify", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def verify() -> None:
    """Not built yet."""
    raise NotBuiltError("`blurgen verify` is not built in this version yet")


@click.command("preview", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def preview() -> None:
    """Not built yet."""
    raise NotBuiltError("`blurgen preview` is not built in this version yet")


@click.command("stats", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def stats() -> None:
    """Not built yet."""
    raise NotBuiltError("`blurgen stats` is not built in this version yet")
