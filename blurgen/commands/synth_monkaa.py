"""CLI command(s); heavy imports happen inside the function bodies."""

from __future__ import annotations

import click

from blurgen.errors import NotBuiltError


@click.command("synth-monkaa", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def synth_monkaa() -> None:
    """Not built yet."""
    raise NotBuiltError("`blurgen synth-monkaa` is not built in this version yet")
