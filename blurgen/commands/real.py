"""CLI command(s); heavy imports happen inside the function bodies."""

from __future__ import annotations

import click

from blurgen.errors import NotBuiltError


@click.command("real", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def real() -> None:
    """Not built yet."""
    raise NotBuiltError("`blurgen real` is not built in this version yet")
