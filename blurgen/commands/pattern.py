"""``python -m blurgen.commands.pattern``: the ``pattern`` test job through the dataset loop.

Not a ``blurgen`` subcommand: the tests and benchmarks run it to exercise the loop (kills,
signals, full disks, cluster backends) without models or datasets. See
``blurgen.jobs.pattern`` for the job.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from blurgen.commands._common import pipeline_options


@click.command("pattern")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None, help="Input files to hash and mix in.")
@click.option("--n", "n", type=int, default=24, show_default=True, help="Samples in split 'train'.")
@click.option("--size", default="24x32", show_default=True, help="Frame size HxW.")
@click.option("--arrays", default="blur,flow", show_default=True, help="Comma-separated array names.")
@click.option("--content", type=click.Choice(["noise", "smooth"]), default="noise", show_default=True)
@click.option("--delay", type=float, default=0.0, help="Seconds each sample takes (sleep).")
@click.option("--bad-key", "bad_keys", multiple=True, help="Key whose input is corrupt.")
@pipeline_options
def pattern(root, n, size, arrays, content, delay, bad_keys, **opts):
    """Run the pattern job through the shared pipeline."""
    from blurgen.commands._common import run_from_cli
    from blurgen.jobs.pattern import build

    h, w = (int(v) for v in size.lower().split("x"))
    params = {
        "splits": {"train": n},
        "sizes": [[h, w]],
        "arrays": arrays.split(","),
        "content": content,
        "delay_s": delay,
        "bad_keys": list(bad_keys),
    }
    run_from_cli(build(params, root), command=["python", "-m", "blurgen.commands.pattern", *sys.argv[1:]], **opts)


if __name__ == "__main__":
    from blurgen.cli import main

    main(command=pattern)
