"""`blurgen rerun` and `blurgen verify`; heavy imports happen inside the function bodies."""

from __future__ import annotations

from pathlib import Path

import click

from blurgen.commands._common import BACKEND_CHOICES, BACKEND_HELP, SCHEDULER_HELP, WORKERS_HELP


@click.command("rerun")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=True, path_type=Path))
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Input root [default: the root recorded in the manifest].")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder for the rebuilt shards.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help=WORKERS_HELP)
@click.option("--backend", type=click.Choice(BACKEND_CHOICES), default=None, help=BACKEND_HELP)
@click.option("--scheduler", default=None, help=SCHEDULER_HELP)
@click.option("--resume", is_flag=True, help="Finish an interrupted rerun in OUT.")
@click.option("--quiet", is_flag=True, help="No progress bar or summary line.")
def rerun(manifest, root, out, workers, backend, scheduler, resume, quiet) -> None:
    """Rebuild a dataset from MANIFEST (a manifest.json or its folder) and the input root.

    Refuses when the inputs' sizes or sha256 differ from the manifest (naming the files),
    and manifests whose paths escape the root or the output folder. Exit 0 only when every
    sample's content digest matches the manifest.
    """
    import sys

    from blurgen.pipeline import rerun as do_rerun

    new = do_rerun(manifest, root, out, workers=workers, backend=backend, scheduler=scheduler, resume=resume,
                   quiet=quiet, command=["blurgen", *sys.argv[1:]])
    click.echo(f"rerun OK: {len(new['samples'])} samples in {len(new['shards'])} shards match the manifest's digests")


@click.command("verify")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--quiet", is_flag=True, help="Print only the problems.")
def verify(out: Path, quiet: bool) -> None:
    """Check the shards in OUT against OUT/manifest.json.

    Recomputes every shard's sha256 and every sample's content digest; prints one line per
    missing, extra, truncated or altered shard or sample. Exit 0 only when all match.
    """
    from blurgen.manifest import verify as do_verify

    report = do_verify(out)
    for line in report.problems:
        click.echo(line)
    if report.problems:
        click.echo(f"verify FAILED: {len(report.problems)} problem(s) in {out}", err=True)
        raise SystemExit(1)  # (ctx.exit's code is dropped by a non-standalone click main)
    if not quiet:
        click.echo(f"verify OK: {report.shards} shards, {report.samples} samples match {out}/manifest.json")
