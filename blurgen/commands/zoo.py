"""`blurgen zoo`: list, register and (on request) download checkpoints."""

from __future__ import annotations

import click


@click.group("zoo")
def zoo() -> None:
    """Checkpoints the pipeline can use (model_zoo/registry.toml).

    Nothing downloads weights during a run; `blurgen zoo fetch NAME` downloads on request.
    """


@zoo.command("list")
@click.option("--no-check", is_flag=True, help="Don't hash present files against the registry.")
def list_cmd(no_check: bool) -> None:
    """What the registry knows, and which files are present in model_zoo/weights/."""
    from blurgen import zoo as z

    rows = z.status(check=not no_check)
    click.echo(f"zoo: {z.zoo_dir()}")
    width = max([len(r.entry.name) for r in rows] + [4])
    click.echo(f"{'name':<{width}}  {'kind':<10}  {'state':<8}  file")
    for r in rows:
        state = "present" if r.present and not r.problem else ("ALTERED" if r.problem else "missing")
        click.echo(f"{r.entry.name:<{width}}  {r.entry.kind:<10}  {state:<8}  {r.entry.file}")
        if r.problem:
            click.echo(f"{'':<{width}}  {r.problem}")
    missing = [r for r in rows if not r.present]
    if missing:
        click.echo("\nto add a missing one: `blurgen zoo fetch NAME` (entries with a url), or get the "
                   "file from its source (`blurgen zoo show NAME`), then `blurgen zoo add FILE --name NAME`")


@zoo.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Everything the registry says about one checkpoint."""
    from blurgen import zoo as z
    from blurgen.errors import ConfigError

    reg = z.load_registry()
    if name not in reg:
        raise ConfigError(f"no checkpoint named {name!r}; known: {', '.join(sorted(reg))}")
    e = reg[name]
    for k in ("name", "kind", "model", "ptlflow_ckpt", "file", "sha256", "sha256_prefix",
              "source", "url", "licence", "used_by", "notes"):
        v = getattr(e, k)
        if v:
            pinned = " (pinned on first use in weights/local.toml)" if k == "sha256" and e.pinned else ""
            click.echo(f"{k}: {v}{pinned}")
    p = z.weights_dir() / e.file
    click.echo(f"path: {p} ({'present' if p.is_file() else 'missing'})")


@zoo.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", required=True, help="Registry name (e.g. pwcnet-things) or a new name.")
@click.option("--kind", type=click.Choice(["ptlflow", "superslomo", "b2fnet", "other"]),
              help="Needed for a name the registry does not know.")
@click.option("--link", is_flag=True, help="Symlink instead of copying.")
@click.option("--source", default="", help="Where the file came from (recorded for new names).")
@click.option("--licence", default="", help="Its licence (recorded for new names).")
def add(file: str, name: str, kind: str | None, link: bool, source: str, licence: str) -> None:
    """Check FILE (digest, safe loading) and register it under NAME."""
    from pathlib import Path

    from blurgen import zoo as z

    e, dest = z.add(Path(file), name, kind=kind, link=link, source=source, licence=licence)
    click.echo(f"added {e.name} ({e.kind}) -> {dest}")
    if e.pinned:
        click.echo(_tofu_line(e))


def _tofu_line(e) -> str:
    """Say plainly that a full digest was pinned on first use, and where."""
    from blurgen import zoo as z

    return (f"{e.name}: sha256 {e.sha256} pinned in {z.weights_dir() / 'local.toml'} (trust on first use: "
            f"the registry knows only the prefix {e.sha256_prefix}); from now on the file must match "
            "this full digest")


@zoo.command("fetch")
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every registry entry that has a download address.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Seconds without an answer from the server before giving up (the partial file is "
                   "kept; run again to resume).")
@click.option("--quiet", is_flag=True, help="No progress bar and no progress lines; results still print.")
@click.option("--force", is_flag=True, help="Download again even when a present file is intact.")
@click.pass_context
def fetch(ctx: click.Context, names: tuple[str, ...], all_: bool, timeout: float, quiet: bool,
          force: bool) -> None:
    """Download checkpoints by name from the registry's url into the zoo.

    Resumes a partial download (NAME's file + .part), checks the sha256 the registry holds
    and deletes a file that does not match. Where the registry knows only the sha256 prefix
    in the file name, the first download's full sha256 is pinned in weights/local.toml
    (trust on first use) and checked from then on. Honours http_proxy, https_proxy, no_proxy.
    Nothing else in blurgen downloads.
    """
    from blurgen import zoo as z
    from blurgen.errors import BlurgenError

    if all_ == bool(names):
        raise click.UsageError("give checkpoint names or --all (not both)")
    if all_:
        entries = list(z.load_registry().values())
        for e in entries:
            if not e.url:
                click.echo(f"{e.name}: skipped, no download address (`blurgen zoo show {e.name}` says where "
                           "to get it)")
        names = tuple(e.name for e in entries if e.url)
    failed = 0
    for name in names:
        try:
            r = z.fetch(name, timeout=timeout, quiet=quiet, force=force,
                        say=(lambda line: None) if quiet else click.echo)
        except BlurgenError as err:
            click.echo(f"Error: {err}", err=True)
            failed += 1
            continue
        if not r.downloaded:
            click.echo(f"{name}: already present and intact: {r.path}")
            continue
        click.echo(f"{name}: downloaded {r.path} (sha256 {r.sha256})")
        if r.pinned_now:
            click.echo(_tofu_line(r.entry))
    if failed:
        ctx.exit(1)
