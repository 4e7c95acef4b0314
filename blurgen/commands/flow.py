"""`blurgen flow`: one flow field between two images with any estimator
(``blurgen.flow.pair.flow_between_files``)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("flow")
@click.argument("img1", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("img2", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--model",
    "-m",
    default="dis",
    show_default=True,
    help="Estimator: dis, dis-fast, dis-ultrafast, farneback, zero, or a ptlflow model "
    "(pwcnet, flownet2, fastflownet, ...).",
)
@click.option(
    "--ckpt",
    default=None,
    help="ptlflow models: a checkpoint name (things, sintel, ...) found offline in "
    "model_zoo/weights/ or $TORCH_HOME/hub/checkpoints/, or a file. Default: things. Refused with the "
    "classical estimators (no weights).",
)
@click.option("--device", default=None,
              help="ptlflow models: cpu, cuda or cuda:N (default: GPU when present); refused with the classical "
                   "estimators, which run on the CPU.")
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output .flo file; the colour image is written beside it with the suffix .png.",
)
@click.option("--max-mag", type=float, default=None, help="Flow magnitude (px) of full colour saturation in the PNG.")
@click.option(
    "--backward/--no-backward",
    default=False,
    show_default=True,
    help="Also estimate IMG2 -> IMG1: writes OUT.bwd.flo and OUT.valid.png "
    "(white where the two directions agree).",
)
def flow(img1: Path, img2: Path, model: str, ckpt: str | None, device: str | None, out: Path,
         max_mag: float | None, backward: bool) -> None:
    """Estimate the flow IMG1 -> IMG2 and write it as OUT (.flo) and OUT with .png.

    Example: blurgen flow frame1.png frame7.png --model dis --out flow.flo
    """
    from blurgen.flow.pair import flow_between_files

    r = flow_between_files(img1, img2, out, model=model, ckpt=ckpt, device=device, max_mag=max_mag,
                           backward=backward)
    click.echo(r.summary())
    click.echo("wrote " + ", ".join(str(p) for p in r.written))
