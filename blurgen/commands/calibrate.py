"""``blurgen calibrate``: fit a quality calibration on procedural samples (docs/quality.md)."""

from __future__ import annotations

from pathlib import Path

import click

LABEL_ONLY = ("flow_model", "flow_ckpt", "flow_mode", "device", "generic")
FIDELITY_ONLY = ("interpolator", "method", "motion")


@click.command("calibrate")
@click.argument("samples", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["label", "fidelity"]), default="label", show_default=True,
              help="label: uncertainty of pseudo-GT flow (blurgen real); fidelity: PSNR of the Monkaa blur "
                   "(blurgen synth-monkaa).")
@click.option("--flow-model", default="dis", show_default=True,
              help="label: the estimator(s) as `blurgen real --flow-model` takes them (dis,farneback: label first).")
@click.option("--flow-ckpt", default=None, help="label: checkpoint of the learned flow models.")
@click.option("--flow-mode", type=click.Choice(["direct", "chained", "chained-init"]), default="direct",
              show_default=True, help="label: the window mode of the run to calibrate.")
@click.option("--device", default=None, help="label: device of learned flow models.")
@click.option("--generic", is_flag=True,
              help="label: fit the generic calibration (each --flow-model estimator labels on its own, pooled).")
@click.option("--interpolator", type=click.Choice(["flow-guided", "linear"]), default="flow-guided",
              show_default=True, help="fidelity: the interpolator of the run to calibrate.")
@click.option("--method", type=click.Choice(["splat", "slomo"]), default=None, help="fidelity: flow-guided method [splat].")
@click.option("--motion", type=click.Choice(["quadratic", "linear"]), default=None,
              help="fidelity: flow-guided splat paths [quadratic].")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the calibration JSON here (use it with --calibration) [print it].")
def calibrate(samples, kind, out, **o) -> None:
    """Fit a quality calibration on SAMPLES (folders written by `blurgen sample`; several pool
    their items): the expected label error of --flow-model, or the expected blur PSNR of
    --interpolator, from the signals blurgen stores, against the samples' exact truth.

    Example: `blurgen calibrate S --flow-model dis --out cal.json`, then
    `blurgen real ... --flow-model dis --calibration cal.json`.
    """
    import json

    from blurgen.errors import ConfigError
    from blurgen.jobs import calibrate as fit
    from blurgen.utils import atomic_write_text

    defaults = {"flow_model": "dis", "flow_mode": "direct", "interpolator": "flow-guided", "generic": False}
    other = FIDELITY_ONLY if kind == "label" else LABEL_ONLY
    for name in other:
        if o[name] not in (None, defaults.get(name)):
            raise ConfigError(f"--{name.replace('_', '-')} has no effect here: it belongs to --kind "
                              f"{'fidelity' if kind == 'label' else 'label'}")
    if kind == "label":
        cal = fit.fit_label(list(samples), o["flow_model"], o["flow_ckpt"], o["flow_mode"], o["device"], o["generic"])
    else:
        from blurgen.jobs.monkaa import params_from

        # the synth-monkaa command's refusals: a --method or --motion the interpolator does not use
        params = params_from({}, {k: o[k] for k in FIDELITY_ONLY})
        cal = fit.fit_fidelity(list(samples), params)
    text = json.dumps(cal, indent=1, sort_keys=True) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    atomic_write_text(out, text)
    click.echo(f"wrote {out} ({cal['key']}: {cal['fit']})")
