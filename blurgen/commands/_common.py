"""What every dataset command shares: its options, declared once, and the call into the pipeline.

    @click.command("real")
    @click.option("--root", ...)
    @pipeline_options
    def real(root, **opts):
        job, recipe = prepare_job("real", root, opts.pop("recipe"), flags)  # blurgen.jobs
        run_from_cli(job, recipe=recipe, **opts)

``pipeline_options`` adds all of ``OPTIONS`` (and ``--seed``); a command that takes only
some of them (``rerun``) uses ``shared_options("workers", "backend", ...)``. Only click
and light modules are imported at module level (``blurgen --help`` stays fast).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from blurgen.errors import ConfigError
from blurgen.parallel import BACKENDS

WORKERS_HELP = "Worker processes (the shards are the same for any number; with --scheduler the cluster's size counts)."
BACKEND_HELP = ("Where samples are made: sequential, loky (local processes), dask or ray (their extras: "
                "pip install 'blurgen[ray]') [default: sequential for 1 worker, else loky].")
SCHEDULER_HELP = ("Cluster to run on: a dask.distributed scheduler (--backend dask, tcp://HOST:8786) or a Ray "
                  "cluster (--backend ray: ray://HOST:10001, auto, or HOST:PORT); refused for loky and sequential.")

# The options of the dataset commands, in the order their help shows them (``--seed`` goes
# after ``--scheduler``; its help depends on the job). name -> click.option decorator.
OPTIONS: dict[str, Callable] = {
    "out": click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
                        help="Output folder for the shards and manifest.json."),
    "recipe": click.option("--recipe", default=None, help="Recipe name (pipelines/NAME.toml) or a .toml path."),
    "limit": click.option("--limit", type=click.IntRange(min=0), default=None,
                          help="Keep only the first N samples in hash order (a deterministic subset)."),
    "workers": click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                            help=WORKERS_HELP),
    "backend": click.option("--backend", type=click.Choice(BACKENDS), default=None, help=BACKEND_HELP),
    "scheduler": click.option("--scheduler", default=None, help=SCHEDULER_HELP),
    "resume": click.option("--resume", is_flag=True,
                           help="Finish an interrupted run in OUT (skips complete shards)."),
    "on_error": click.option("--on-error", "on_error", type=click.Choice(["skip", "fail"]), default="skip",
                             show_default=True, help="Bad input: record it and go on, or stop at the first one."),
    "samples_per_shard": click.option("--samples-per-shard", type=click.IntRange(min=1), default=None,
                                      help="Samples per shard [default: recipe, else ~512 MiB of raw arrays]."),
    "compression": click.option("--compression", default=None,
                                help="none, lzf, gzip-1..9 or blosc-zstd (needs hdf5plugin) "
                                     "[default: recipe, else gzip-1]"),
    "quiet": click.option("--quiet", is_flag=True, help="No progress bar or summary line."),
}
SEED_AFTER = "scheduler"


def shared_options(*names: str) -> Callable[[Callable], Callable]:
    """A decorator adding the ``OPTIONS`` named (in the order given) to a click command."""
    unknown = [n for n in names if n not in OPTIONS]
    if unknown:
        raise ValueError(f"no shared option(s) {unknown}; known: {', '.join(OPTIONS)}")

    def add(f: Callable) -> Callable:
        for name in reversed(names):
            f = OPTIONS[name](f)
        return f

    return add


def pipeline_options(f: Callable | None = None, *, unseeded: str | None = None) -> Callable:
    """Add the common dataset flags to a click command; they arrive as keyword arguments
    ``out, recipe, limit, workers, backend, scheduler, seed, resume, on_error,
    samples_per_shard, compression, quiet``.

    unseeded: for a job that draws nothing at random, why (``"real draws nothing at
    random"``): ``--seed``'s help says it has no effect, and a non-zero ``--seed`` is
    refused with one line. Use as ``@pipeline_options`` or ``@pipeline_options(unseeded=...)``.
    """
    if f is None:
        return functools.partial(pipeline_options, unseeded=unseeded)
    if unseeded is None:
        seed_help = "Run seed; each sample's rng is (seed, key)."
    else:
        seed_help = f"Has no effect: {unseeded}; only 0 is accepted."
        f = _refuse_seed(f, unseeded)
    names = list(OPTIONS)
    cut = names.index(SEED_AFTER) + 1
    f = shared_options(*names[cut:])(f)
    f = click.option("--seed", type=int, default=0, show_default=True, help=seed_help)(f)
    return shared_options(*names[:cut])(f)


def _refuse_seed(f: Callable, unseeded: str) -> Callable:
    @functools.wraps(f)
    def checked(*args, **kwargs):
        seed = kwargs.get("seed")
        if seed:
            raise ConfigError(f"--seed {seed}: {unseeded}, so --seed has no effect; leave it out")
        return f(*args, **kwargs)

    return checked


def command_line() -> list[str]:
    """The command line as typed, recorded in manifests: ``blurgen`` and its arguments."""
    return ["blurgen", *sys.argv[1:]]


def run_from_cli(job: Any, *, out: Path, recipe: str | dict | None = None, command: list[str] | None = None,
                 **settings: Any) -> dict:
    """Run ``job`` into ``out`` through ``blurgen.pipeline.run`` with the flags of
    ``pipeline_options`` (``limit, workers, backend, scheduler, seed, resume, on_error,
    samples_per_shard, compression, quiet`` as keyword arguments).

    recipe: the resolved recipe dict (recorded in the manifest), or a name/path to load,
    or None. command: recorded in the manifest [the command line as typed]. Returns the
    manifest dict.
    """
    from blurgen.pipeline import run
    from blurgen.recipe import load_recipe

    if not isinstance(recipe, dict):
        recipe = load_recipe(recipe)
    return run(job, out, command=command if command is not None else command_line(), recipe=recipe, **settings)
