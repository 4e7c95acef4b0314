"""``blurgen real``: real blur from high-speed frames or videos, with pseudo-GT flow, to shards.

Heavy imports (numpy, OpenCV, torch, ptlflow) happen inside the function body.
"""

from __future__ import annotations

from pathlib import Path

import click

from blurgen.commands._common import pipeline_options

SOURCES = ("gopro", "nfs", "video", "frames")
# --recipe default per source: the paper's settings for its datasets, generic ones for yours.
DEFAULT_RECIPE = {"gopro": "gopro", "nfs": "nfs", "video": "video", "frames": "video"}
# recipe [real] keys the flags override
FLAG_KEYS = ("window", "stride", "averaging", "flow_model", "flow_ckpt", "flow_mode", "fps", "store_ends", "device")


def real_params(source: str, recipe: dict, flags: dict) -> dict:
    """The job params from the recipe's ``[real]`` section and the command-line flags.

    ``flags`` holds the options as given (None = not given). Giving ``--flow-model``
    without ``--flow-ckpt`` drops the recipe's checkpoint (it belongs to the recipe's model);
    ``--window`` without ``--stride`` likewise drops the recipe's stride.
    Reads ``--split-file`` and ``--crf-file`` (their contents go into the params, so a
    rerun needs only the manifest).
    """
    from blurgen.errors import ConfigError
    from blurgen.sources.splits import find_split_file, read_split_file
    from blurgen.synth.average import load_crf

    section = dict(recipe.get("real", {}))
    known = set(FLAG_KEYS) | {"source", "split_file", "crf_file"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"recipe [real] has unknown key(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    section.pop("source", None)
    if flags.get("flow_model") is not None and flags.get("flow_ckpt") is None:
        section.pop("flow_ckpt", None)
    if flags.get("window") is not None and flags.get("stride") is None:
        section.pop("stride", None)  # the stride defaults to the window given
    for k in FLAG_KEYS:
        if flags.get(k) is not None:
            section[k] = flags[k]
    params = {k: section[k] for k in FLAG_KEYS if section.get(k) is not None}
    params["source"] = source
    params["valid_bwd"] = True  # absent only in manifests from before the backward mask
    split_file = flags.get("split_file") or section.get("split_file")
    if split_file:
        params["splits"] = read_split_file(split_file)
        params["split_file"] = find_split_file(split_file).name
    crf_file = flags.get("crf_file") or section.get("crf_file")
    if crf_file:
        if params.get("averaging", "srgb") != "crf":
            raise ConfigError("--crf-file needs --averaging crf")
        params["crf"] = load_crf(crf_file).tolist()
        params["crf_name"] = Path(crf_file).name
    _check_device(params, flags)
    if params.get("flow_model") == "none":
        raise ConfigError(
            "--flow-model none makes no flow labels, and shards need them "
            "(use --flow-model dis for fast offline labels; benchmarks/real.py times blur-only making)"
        )
    return params


def _check_device(params: dict, flags: dict) -> None:
    """A device only matters to learned flow models: refuse one given for a classical
    estimator (by the flag, or by a recipe naming that estimator itself); drop the recipe's
    device when ``--flow-model`` replaced the recipe's model."""
    from blurgen.errors import ConfigError
    from blurgen.flow.registry import is_classical

    model = params.get("flow_model", "pwcnet")
    if params.get("device") is None or not (model == "none" or is_classical(model)):
        return
    if flags.get("device") is not None:
        raise ConfigError(f"--device has no effect here: it applies to learned flow models; {model} runs on the CPU")
    if flags.get("flow_model") is None:
        raise ConfigError(f"recipe [real] device = {params['device']!r} has no effect: {model} "
                          "runs on the CPU; remove it from the recipe")
    del params["device"]


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
                   "(offline) [recipe: pwcnet].")
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
@pipeline_options(unseeded="real draws nothing at random")
def real(source, root, window, stride, averaging, crf_file, flow_model, flow_ckpt, flow_mode, fps,
         split_file, store_ends, device, **opts) -> None:
    """Real blur: average WINDOW consecutive frames of 240 fps footage, label each sample with the
    flow between its first and last frame (both directions, with a consistency mask).

    Examples: `blurgen real --source gopro --root GOPRO_Large_all --out O`;
    `blurgen real --source video --root clip.mp4 --fps 240 --flow-model dis --out O`.
    """
    from blurgen.commands._common import run_from_cli
    from blurgen.jobs.real import build
    from blurgen.recipe import load_recipe

    recipe = load_recipe(opts.pop("recipe") or DEFAULT_RECIPE[source])
    flags = dict(window=window, stride=stride, averaging=averaging, flow_model=flow_model, flow_ckpt=flow_ckpt,
                 flow_mode=flow_mode, fps=fps, store_ends=store_ends, device=device,
                 split_file=split_file, crf_file=None if crf_file is None else str(crf_file))
    params = real_params(source, recipe, flags)
    # The manifest records the recipe as resolved: the [real] section as the job ran it.
    recipe = {**recipe, "real": {k: v for k, v in params.items() if k not in ("splits", "crf")}}
    job = build(params, root)
    run_from_cli(job, recipe=recipe, **opts)
