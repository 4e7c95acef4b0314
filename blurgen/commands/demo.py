"""CLI command(s); heavy imports happen inside the function bodies."""

from __future__ import annotations

import click

from blurgen.errors import NotBuiltError


@click.command("demo", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def demo() -> None:
    """Not built yet."""
    raise NotBuiltError("`blurgen demo` is not built in this version yet")
