"""What every dataset command shares: the pipeline flags and the call into the pipeline.

    @click.command("real")
    @click.option("--root", ...)
    @pipeline_options
    def real(root, **opts):
        recipe = load_recipe(opts["recipe"] or "gopro")   # blurgen.recipe
        job = build(params_from(recipe), root)
        run_from_cli(job, **opts)                          # or recipe=recipe to record it

Only click is imported at module level (``blurgen --help`` stays fast).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from blurgen.errors import ConfigError

BACKEND_CHOICES = ("loky", "sequential", "dask", "ray")
WORKERS_HELP = "Worker processes (the shards are the same for any number; with --scheduler the cluster's size counts)."
BACKEND_HELP = ("Where samples are made: sequential, loky (local processes), dask or ray (their extras: "
                "pip install 'blurgen[ray]') [default: sequential for 1 worker, else loky].")
SCHEDULER_HELP = ("Cluster to run on: a dask.distributed scheduler (--backend dask, tcp://HOST:8786) or a Ray "
                  "cluster (--backend ray: ray://HOST:10001, auto, or HOST:PORT); refused for loky and sequential.")


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
    options = [
        click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
                     help="Output folder for the shards and manifest.json."),
        click.option("--recipe", default=None, help="Recipe name (pipelines/NAME.toml) or a .toml path."),
        click.option("--limit", type=click.IntRange(min=0), default=None,
                     help="Keep only the first N samples in hash order (a deterministic subset)."),
        click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help=WORKERS_HELP),
        click.option("--backend", type=click.Choice(BACKEND_CHOICES), default=None, help=BACKEND_HELP),
        click.option("--scheduler", default=None, help=SCHEDULER_HELP),
        click.option("--seed", type=int, default=0, show_default=True, help=seed_help),
        click.option("--resume", is_flag=True, help="Finish an interrupted run in OUT (skips complete shards)."),
        click.option("--on-error", "on_error", type=click.Choice(["skip", "fail"]), default="skip", show_default=True,
                     help="Bad input: record it and go on, or stop at the first one."),
        click.option("--samples-per-shard", type=click.IntRange(min=1), default=None,
                     help="Samples per shard [default: recipe, else ~512 MiB of raw arrays]."),
        click.option("--compression", default=None,
                     help="none, lzf, gzip-1..9 or blosc-zstd (needs hdf5plugin) [default: recipe, else gzip-1]"),
        click.option("--quiet", is_flag=True, help="No progress bar or summary line."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def _refuse_seed(f: Callable, unseeded: str) -> Callable:
    @functools.wraps(f)
    def checked(*args, **kwargs):
        seed = kwargs.get("seed")
        if seed:
            raise ConfigError(f"--seed {seed}: {unseeded}, so --seed has no effect; leave it out")
        return f(*args, **kwargs)

    return checked


def run_from_cli(
    job: Any,
    *,
    out: Path,
    recipe: str | dict | None = None,
    limit: int | None = None,
    workers: int = 1,
    backend: str | None = None,
    scheduler: str | None = None,
    seed: int = 0,
    resume: bool = False,
    on_error: str = "skip",
    samples_per_shard: int | None = None,
    compression: str | None = None,
    quiet: bool = False,
    command: list[str] | None = None,
) -> dict:
    """Run ``job`` through ``blurgen.pipeline.run`` with the flags of ``pipeline_options``.

    recipe: the resolved recipe dict (recorded in the manifest), or a name/path to load,
    or None. Returns the manifest dict.
    """
    from blurgen.pipeline import run
    from blurgen.recipe import load_recipe

    if not isinstance(recipe, dict):
        recipe = load_recipe(recipe)
    manifest = run(
        job,
        out,
        seed=seed,
        workers=workers,
        backend=backend,
        scheduler=scheduler,
        resume=resume,
        on_error=on_error,
        limit=limit,
        samples_per_shard=samples_per_shard,
        compression=compression,
        quiet=quiet,
        command=command if command is not None else ["blurgen", *sys.argv[1:]],
        recipe=recipe,
    )
    return manifest
