"""`blurgen flow`: one flow field between two images with any estimator."""

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
    import time

    import numpy as np

    from blurgen.errors import ConfigError
    from blurgen.flow import fb_consistency, get_estimator
    from blurgen.io.flo import write_flo
    from blurgen.io.flowviz import write_flow_png
    from blurgen.io.frames import read_image, write_image

    if out.suffix.lower() != ".flo":
        raise ConfigError(f"--out {out}: the flow file must end in .flo (the PNG goes beside it)")
    if max_mag is not None and not max_mag > 0:
        raise ConfigError(f"--max-mag must be > 0, got {max_mag}")
    est = get_estimator(model, ckpt=ckpt, device=device)
    a, b = read_image(img1), read_image(img2)
    t0 = time.perf_counter()
    if backward:
        fwd, bwd = est.estimate([a, b], [b, a], names1=[str(img1), str(img2)], names2=[str(img2), str(img1)])
    else:
        fwd = est.estimate([a], [b], names1=[str(img1)], names2=[str(img2)])[0]
    seconds = time.perf_counter() - t0

    out.parent.mkdir(parents=True, exist_ok=True)
    png = out.with_suffix(".png")
    write_flo(out, fwd)
    write_flow_png(png, fwd, max_mag)
    written = [str(out), str(png)]
    if backward:
        bwd_path = out.with_suffix(".bwd.flo")
        valid_path = out.with_suffix(".valid.png")
        valid = fb_consistency(fwd, bwd)
        write_flo(bwd_path, bwd)
        write_image(valid_path, np.repeat(valid[..., None] * 255, 3, axis=2))
        written += [str(bwd_path), str(valid_path)]
    mag = np.linalg.norm(fwd, axis=2)
    h, w = fwd.shape[:2]
    line = (
        f"{est.label}: {w}x{h}, mean |flow| {mag.mean():.2f} px, max {mag.max():.2f} px, "
        f"{seconds:.2f} s"
    )
    if backward:
        line += f", consistent {100 * valid.mean():.1f} %"
    click.echo(line)
    click.echo("wrote " + ", ".join(written))
