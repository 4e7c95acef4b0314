"""``blurgen synth-monkaa``: Monkaa synthetic blur (interpolate + average) to HDF5 shards.

The settings are resolved by ``blurgen.jobs.prepare_job`` (``blurgen.jobs.monkaa.params_from``).
Heavy imports (numpy, OpenCV, torch) happen inside the function body.
"""

from __future__ import annotations

from pathlib import Path

import click

from blurgen.commands._common import pipeline_options


@click.command("synth-monkaa")
@click.option("--root", required=True, type=click.Path(path_type=Path),
              help="The Monkaa folder holding frames_cleanpass/ (or frames_cleanpass_webp/) and optical_flow/.")
@click.option("--interpolator", type=click.Choice(["flow-guided", "superslomo", "linear"]), default=None,
              help="flow-guided: the GT flows, no weights (offline default); superslomo: the paper's network "
                   "(--slomo-ckpt); linear: cross-fade baseline [recipe: flow-guided].")
@click.option("--method", type=click.Choice(["splat", "slomo"]), default=None,
              help="How flow-guided forms frames: splat (forward splatting of the exact flows) or slomo "
                   "(Super-SloMo's intermediate-flow equations, backward warps); see docs/monkaa.md. "
                   "flow-guided only [splat].")
@click.option("--motion", type=click.Choice(["quadratic", "linear"]), default=None,
              help="Flow-guided paths: quadratic bends them with the flows to frames t-1 and t+2 "
                   "(into_past of t, into_future of t+1); linear keeps them straight. flow-guided --method splat "
                   "only [quadratic].")
@click.option("--slomo-ckpt", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Super-SloMo checkpoint of the public port (state_dictFC, state_dictAT); --interpolator "
                   "superslomo only.")
@click.option("--trust-checkpoint", is_flag=True, default=None,
              help="Unpickle --slomo-ckpt in full (the public file holds a datetime, which the safe loader "
                   "refuses); only for files from a trusted source. --interpolator superslomo only.")
@click.option("--camera", type=click.Choice(["left", "right", "both"]), default=None, help="Camera(s) [left].")
@click.option("--pass", "render_pass", type=click.Choice(["clean", "final"]), default=None,
              help="Render pass of the frames; final already has rendered motion blur [clean].")
@click.option("--store-ends/--no-store-ends", default=None, help="Also store the sharp first and last frames.")
@click.option("--max-s", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Skip pairs whose largest GT displacement s exceeds this many pixels [100].")
@click.option("--min-n", type=click.IntRange(min=0), default=None,
              help="Fewest interpolated frames: n = max(ceil(s), MIN_N) [5].")
@click.option("--n-train", type=click.IntRange(min=0), default=None, help="Training pairs to select [10000].")
@click.option("--n-test", type=click.IntRange(min=0), default=None, help="Test pairs to select [1200].")
@click.option("--split-seed", type=int, default=None, help="Seed of the pair split (not the run --seed) [0].")
@click.option("--device", default=None,
              help="Device for Super-SloMo: cpu, cuda, cuda:N [GPU when present]; --interpolator superslomo only "
                   "(the other interpolators run on the CPU).")
@click.option("--slomo-batch", type=click.IntRange(min=1), default=None,
              help="Interpolated times per Super-SloMo pass; --interpolator superslomo only [as memory allows].")
@click.option("--quality/--no-quality", default=None,
              help="Store fidelity_db_est, the expected PSNR of the blur against a continuous-time blur, and its "
                   "signals (docs/quality.md) [on].")
@click.option("--calibration", "calibration_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Fidelity calibration JSON from `blurgen calibrate --kind fidelity` [the shipped one for the "
                   "interpolator].")
@pipeline_options(unseeded="synth-monkaa draws nothing at random (the pair split's seed is --split-seed)")
def synth_monkaa(root, interpolator, method, motion, slomo_ckpt, trust_checkpoint, camera, render_pass, store_ends,
                 max_s, min_n, n_train, n_test, split_seed, device, slomo_batch, quality, calibration_file,
                 **opts) -> None:
    """Synthetic blur from Monkaa: for each frame pair (t, t+1), s = the largest GT flow
    displacement; pairs with s > 100 are skipped (and recorded); otherwise n = max(ceil(s), 5)
    frames are interpolated and averaged with the two end frames. Labels: the GT flow both ways.

    Example: `blurgen synth-monkaa --root SAMPLE/monkaa --out O` (flow-guided, offline).
    """
    from blurgen.commands._common import run_from_cli
    from blurgen.jobs import prepare_job

    flags = dict(interpolator=interpolator, method=method, motion=motion,
                 slomo_ckpt=None if slomo_ckpt is None else str(slomo_ckpt),
                 trust_checkpoint=trust_checkpoint, camera=camera, render_pass=render_pass, max_s=max_s,
                 min_n=min_n, n_train=n_train, n_test=n_test, split_seed=split_seed, store_ends=store_ends,
                 device=device, slomo_batch=slomo_batch, quality=quality,
                 calibration_file=None if calibration_file is None else str(calibration_file))
    job, recipe = prepare_job("synth-monkaa", root, opts.pop("recipe") or None, flags)
    run_from_cli(job, recipe=recipe, **opts)
