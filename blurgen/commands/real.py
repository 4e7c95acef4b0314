"""``blurgen real``: real blur from high-speed frames or videos, with pseudo-GT flow, to shards.

The settings are resolved by ``blurgen.jobs.prepare_job`` (``blurgen.jobs.real.params_from``).
Heavy imports (numpy, OpenCV, torch, ptlflow) happen inside the function body.
"""

from __future__ import annotations

from pathlib import Path

import click

from blurgen.commands._common import pipeline_options

# = blurgen.jobs.real.SOURCES (that module loads numpy; tests/test_cli.py checks they agree)
SOURCES = ("gopro", "nfs", "video", "frames")


@click.command("real")
@click.option("--source", type=click.Choice(SOURCES), required=True,
              help="Input layout: gopro (GOPRO_Large_all), nfs (<seq>/240/<seq>/), video (files), "
                   "frames (folders of numbered images).")
@click.option("--root", required=True, type=click.Path(path_type=Path),
              help="The dataset folder, a video file or a folder of videos / frame folders.")
@click.option("--window", type=click.IntRange(min=2), default=None, help="Frames averaged per sample [recipe: 7].")
@click.option("--stride", type=click.IntRange(min=1), default=None,
              help="Frames between window starts [default: --window, non-overlapping].")
@click.option("--averaging", type=click.Choice(["srgb", "gamma", "crf"]), default=None,
              help="srgb: plain mean (paper); gamma: GoPro's 2.2 gamma; crf: inverse camera response [recipe: srgb].")
@click.option("--crf-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Inverse camera response table (256 x 3, .npy or text) for --averaging crf "
                   "[default: the sRGB transfer function].")
@click.option("--flow-model", default=None,
              help="Pseudo-GT flow estimator: a ptlflow model (pwcnet, flownet2, ...) or dis, farneback "
                   "(offline) [recipe: pwcnet]. Several, comma-separated (dis,farneback): the label is the "
                   "first one's, the others add their disagreement to the quality estimate.")
@click.option("--flow-ckpt", default=None,
              help="Checkpoint of a learned flow model: things, sintel, ... or a file [recipe: things].")
@click.option("--flow-mode", type=click.Choice(["direct", "chained", "chained-init"]), default=None,
              help="direct: flow between the end frames; chained: composed from frame-to-frame flows [recipe: direct].")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Frame rate recorded in the samples [240 for gopro/nfs, the container's for videos].")
@click.option("--split-file", default=None,
              help="Sequence splits: '<sequence> <split>' lines; a file or a name in manifests/splits "
                   "[gopro_standard, nfs_standard; else train].")
@click.option("--store-ends/--no-store-ends", default=None, help="Also store the sharp first and last frames.")
@click.option("--device", default=None,
              help="Device of learned flow models: cpu, cuda, cuda:N [GPU when present]; refused with dis, "
                   "farneback and zero, which run on the CPU.")
@click.option("--quality/--no-quality", default=None,
              help="Store the label's per-pixel uncertainty (px) and label_epe_est, its expected EPE "
                   "(docs/quality.md) [on].")
@click.option("--calibration", "calibration_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Label calibration JSON from `blurgen calibrate` [the shipped one for --flow-model and --flow-mode].")
@pipeline_options(unseeded="real draws nothing at random")
def real(source, root, window, stride, averaging, crf_file, flow_model, flow_ckpt, flow_mode, fps,
         split_file, store_ends, device, quality, calibration_file, **opts) -> None:
    """Real blur: average WINDOW consecutive frames of 240 fps footage, label each sample with the
    flow between its first and last frame (both directions, with a consistency mask).

    Examples: `blurgen real --source gopro --root GOPRO_Large_all --out O`;
    `blurgen real --source video --root clip.mp4 --fps 240 --flow-model dis --out O`.
    """
    from blurgen.commands._common import run_from_cli
    from blurgen.jobs import prepare_job

    flags = dict(source=source, window=window, stride=stride, averaging=averaging, flow_model=flow_model,
                 flow_ckpt=flow_ckpt, flow_mode=flow_mode, fps=fps, store_ends=store_ends, device=device,
                 split_file=split_file, crf_file=None if crf_file is None else str(crf_file), quality=quality,
                 calibration_file=None if calibration_file is None else str(calibration_file))
    # The manifest records the recipe as resolved: the [real] section as the job runs it.
    job, recipe = prepare_job("real", root, opts.pop("recipe") or None, flags)
    run_from_cli(job, recipe=recipe, **opts)
