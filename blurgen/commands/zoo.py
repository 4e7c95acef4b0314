"""`blurgen zoo`: list and register checkpoints."""

from __future__ import annotations

import click


@click.group("zoo")
def zoo() -> None:
    """Checkpoints the pipeline can use (model_zoo/registry.toml); weights never download."""


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
        click.echo("\nto add a missing one: get the file from its source "
                   "(`blurgen zoo show NAME`), then `blurgen zoo add FILE --name NAME`")


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
              "source", "licence", "used_by", "notes"):
        v = getattr(e, k)
        if v:
            click.echo(f"{k}: {v}")
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
