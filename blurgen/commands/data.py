"""`blurgen rerun` and `blurgen verify`; heavy imports happen inside the function bodies."""

from __future__ import annotations

from pathlib import Path

import click

from blurgen.commands._common import command_line, shared_options


@click.command("rerun")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=True, path_type=Path))
@click.option("--root", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Input root [default: the root recorded in the manifest].")
@shared_options("out", "workers", "backend", "scheduler", "resume", "quiet")
def rerun(manifest, root, out, workers, backend, scheduler, resume, quiet) -> None:
    """Rebuild a dataset from MANIFEST (a manifest.json or its folder) and the input root.

    Refuses when the inputs' sizes or sha256 differ from the manifest (naming the files),
    and manifests whose paths escape the root or the output folder. Exit 0 only when every
    sample's content digest matches the manifest.
    """
    from blurgen.pipeline import rerun as do_rerun

    new = do_rerun(manifest, root, out, workers=workers, backend=backend, scheduler=scheduler, resume=resume,
                   quiet=quiet, command=command_line())
    click.echo(f"rerun OK: {len(new['samples'])} samples in {len(new['shards'])} shards match the manifest's digests")


@click.command("verify")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--quiet", is_flag=True, help="Print only the problems.")
def verify(out: Path, quiet: bool) -> None:
    """Check the shards in OUT against OUT/manifest.json (OUT a folder of datasets: each one).

    Recomputes every shard's sha256 and every sample's content digest; prints one line per
    missing, extra, truncated or altered shard or sample. Exit 0 only when all match.
    """
    from blurgen.manifest import MANIFEST_NAME
    from blurgen.manifest import verify as do_verify
    from blurgen.utils import dataset_folders

    folders = [out] if (out / MANIFEST_NAME).exists() else dataset_folders(out) or [out]
    failed = 0
    for folder in folders:
        report = do_verify(folder)
        for line in report.problems:
            click.echo(line)
        if report.problems:
            failed += 1
            click.echo(f"verify FAILED: {len(report.problems)} problem(s) in {folder}", err=True)
        elif not quiet:
            click.echo(f"verify OK: {report.shards} shards, {report.samples} samples match {folder}/manifest.json")
    if failed:
        raise SystemExit(1)  # (ctx.exit's code is dropped by a non-standalone click main)
