"""``blurgen synth-monkaa``: Monkaa synthetic blur (interpolate + average) to HDF5 shards.

Heavy imports (numpy, OpenCV, torch) happen inside the function body.
"""

from __future__ import annotations

from pathlib import Path

import click

from blurgen.commands._common import pipeline_options

DEFAULT_RECIPE = "monkaa"
# recipe [monkaa] keys that flags override
FLAG_KEYS = ("interpolator", "method", "motion", "slomo_ckpt", "trust_checkpoint", "camera", "render_pass", "max_s",
             "min_n", "n_train", "n_test", "split_seed", "store_ends", "device", "slomo_batch")


# Settings one interpolator uses and the others do not: key -> (its flag, the settings that
# decide whether it is used). See _unused_because.
DEPENDENT = {
    "method": ("--method", ("interpolator",)),
    "motion": ("--motion", ("interpolator", "method")),
    "slomo_ckpt": ("--slomo-ckpt", ("interpolator",)),
    "trust_checkpoint": ("--trust-checkpoint", ("interpolator",)),
    "slomo_batch": ("--slomo-batch", ("interpolator",)),
    "device": ("--device", ("interpolator",)),
}


def _unused_because(key: str, p: dict) -> str | None:
    """Why setting ``key`` does nothing under the settings ``p`` (None: it is used)."""
    interp = p.get("interpolator", "flow-guided")
    if key == "method" and interp != "flow-guided":
        return f"only the flow-guided interpolator has methods (this run interpolates with {interp})"
    if key == "motion" and (interp != "flow-guided" or p.get("method", "splat") != "splat"):
        how = f"--method {p.get('method')}" if interp == "flow-guided" else interp
        return f"only flow-guided splatting bends its paths (this run interpolates with {how})"
    if key in ("slomo_ckpt", "trust_checkpoint", "slomo_batch") and interp != "superslomo":
        return f"it belongs to --interpolator superslomo (this run interpolates with {interp})"
    if key == "device" and interp != "superslomo":
        return f"only --interpolator superslomo runs a network ({interp} runs on the CPU)"
    return None


def monkaa_params(recipe: dict, flags: dict) -> dict:
    """The job params from the recipe's ``[monkaa]`` section and the flags (None = not given).

    A setting the chosen interpolator does not use is refused with one line when a flag
    gives it, and when the recipe gives a non-default value for it while the flags left
    the deciding setting (``--interpolator``, ``--method``) to the recipe too; otherwise
    (a default, or the recipe's choice overridden by a flag) it is left out, so the
    manifest records only what the run used.
    """
    from dataclasses import fields

    from blurgen.errors import ConfigError
    from blurgen.jobs.monkaa import MonkaaConfig

    section = dict(recipe.get("monkaa", {}))
    unknown = sorted(set(section) - set(FLAG_KEYS))
    if unknown:
        raise ConfigError(f"recipe [monkaa] has unknown key(s): {', '.join(unknown)} (known: {', '.join(FLAG_KEYS)})")
    given = {k: v for k, v in flags.items() if k in FLAG_KEYS and v is not None}
    params = {k: v for k, v in {**section, **given}.items() if v is not None}
    defaults = {f.name: f.default for f in fields(MonkaaConfig)}
    for key, (flag, deciders) in DEPENDENT.items():  # method before motion: motion depends on it
        why = _unused_because(key, params) if key in params else None
        if why is None:
            continue
        if key in given:
            raise ConfigError(f"{flag} has no effect here: {why}")
        if params[key] != defaults[key] and not any(d in given for d in deciders):
            raise ConfigError(f"recipe [monkaa] {key} = {params[key]!r} has no effect: {why}; "
                              "remove it from the recipe")
        del params[key]
    return {k: params[k] for k in FLAG_KEYS if k in params}


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
@pipeline_options(unseeded="synth-monkaa draws nothing at random (the pair split's seed is --split-seed)")
def synth_monkaa(root, interpolator, method, motion, slomo_ckpt, trust_checkpoint, camera, render_pass, store_ends,
                 max_s, min_n, n_train, n_test, split_seed, device, slomo_batch, **opts) -> None:
    """Synthetic blur from Monkaa: for each frame pair (t, t+1), s = the largest GT flow
    displacement; pairs with s > 100 are skipped (and recorded); otherwise n = max(ceil(s), 5)
    frames are interpolated and averaged with the two end frames. Labels: the GT flow both ways.

    Example: `blurgen synth-monkaa --root SAMPLE/monkaa --out O` (flow-guided, offline).
    """
    from blurgen.commands._common import run_from_cli
    from blurgen.jobs.monkaa import build
    from blurgen.recipe import load_recipe

    recipe = load_recipe(opts.pop("recipe") or DEFAULT_RECIPE)
    flags = dict(interpolator=interpolator, method=method, motion=motion,
                 slomo_ckpt=None if slomo_ckpt is None else str(slomo_ckpt),
                 trust_checkpoint=trust_checkpoint, camera=camera, render_pass=render_pass, max_s=max_s,
                 min_n=min_n, n_train=n_train, n_test=n_test, split_seed=split_seed, store_ends=store_ends,
                 device=device, slomo_batch=slomo_batch)
    params = monkaa_params(recipe, flags)
    recipe = {**recipe, "monkaa": dict(params)}
    job = build(params, root)
    run_from_cli(job, recipe=recipe, **opts)
