"""Fitting the quality calibrations on procedural samples (``blurgen calibrate``).

Both fits run what a dataset run runs, on the windows and pairs of one or more samples
written by ``blurgen sample``, and compare with the samples' exact truth:

- ``fit_label``: the ``real`` job's estimators (``RealJob.estimators``) on every 7-frame
  window (``blurgen.flow.estimate_window``, the job's call), the signals of
  ``blurgen.quality.label``, and the true end-point error of each label pixel; a
  non-negative least-squares fit of the error on the signals, over ``pixels`` pixels drawn
  per window and direction (seeded: the same samples give the same calibration);
- ``fit_fidelity``: the ``synth-monkaa`` job itself (``MonkaaJob.make``) on every pair
  with ``s <= max_s``, the fidelity signals of its end frames and flows (the newest form's,
  ``blurgen.quality.fidelity``), and the mean squared error of its blur
  against the continuous-time blur; a non-negative least-squares fit in relative terms
  (each pair's residual divided by its error, so the model fits dB, not the largest
  errors), with the model (one of ``blurgen.quality.fidelity.MODELS``) and the shape
  ``phi_scale`` (from ``PHI_SCALES``) chosen by the same criterion.

The calibration dicts (``blurgen.quality.calibration``) record what they were fitted on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blurgen import __version__
from blurgen.errors import ConfigError, SkipSample
from blurgen.flow import estimate_window
from blurgen.jobs.monkaa import MonkaaConfig, MonkaaJob
from blurgen.jobs.real import RealJob
from blurgen.jobs.real_config import RealConfig
from blurgen.quality import calibration as calib
from blurgen.quality import fidelity, label
from blurgen.sources.sample_truth import WINDOW_LAYOUTS, FrameReader, sample_info, truth_blur, truth_flows, truth_items
from blurgen.synth.blur import psnr

PHI_SCALES = (2.0, 3.0, 4.0, 6.0, 8.0, 12.0)
LABEL_PIXELS = 4000


@dataclass
class LabelWindow:
    """One window's label and what the quality estimate and the truth say about it."""

    item: dict
    ends: tuple[np.ndarray, np.ndarray]
    fwd: np.ndarray
    bwd: np.ndarray
    others: list
    signals: tuple[dict, dict]
    truth: tuple[np.ndarray, np.ndarray]

    def errors(self) -> tuple[np.ndarray, np.ndarray]:
        """True end-point error of each label pixel, ``(H, W) float32`` per direction."""
        return (np.linalg.norm(self.fwd - self.truth[0], axis=2).astype(np.float32),
                np.linalg.norm(self.bwd - self.truth[1], axis=2).astype(np.float32))


def label_job(sample: Path, flow_model: str, flow_ckpt: str | None, flow_mode: str, device: str | None) -> RealJob:
    """The ``real`` job's estimators as a run with these settings builds them (quality off:
    nothing is calibrated yet)."""
    cfg = RealConfig(source="gopro", flow_model=flow_model, flow_ckpt=flow_ckpt, flow_mode=flow_mode, device=device,
                     quality=False)
    return RealJob(cfg, Path(sample) / "gopro")


def label_windows(sample: str | Path, job: RealJob, per_seq: int | None = None) -> Iterator[LabelWindow]:
    """Every 240 fps window of ``sample`` labelled by ``job``'s estimators."""

    sample = Path(sample)
    reader = FrameReader(sample)
    est, *rest = job.estimators
    mode = job.config.flow_mode
    for it in truth_items(sample, WINDOW_LAYOUTS, per_seq):
        frames = reader.frames(it)
        fwd, bwd = estimate_window(est, frames, mode)
        others = [estimate_window(e, frames, mode) for e in rest]
        sig = label.signals(frames[0], frames[-1], fwd, bwd, others)
        yield LabelWindow(it, (frames[0], frames[-1]), fwd, bwd, others, sig, truth_flows(sample, it))


def _label_features(names: tuple[str, ...], sig: dict, idx: np.ndarray) -> np.ndarray:
    return np.stack([sig[n].reshape(-1)[idx] for n in names], axis=1)


def fit_label(samples: list[str | Path], flow_model: str = "dis", flow_ckpt: str | None = None,
              flow_mode: str = "direct", device: str | None = None, generic: bool = False,
              pixels: int = LABEL_PIXELS, seed: int = 0, features: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A label calibration for ``flow_model`` (comma-separated: the label's estimator first)
    in ``flow_mode``; with ``generic``, each listed estimator labels on its own and the
    pooled fit is the generic calibration (key ``<mode>:generic``). ``features``: a subset
    of the signals to fit on (None: all of ``blurgen.quality.label``'s; benchmarks compare
    subsets)."""
    specs = [m.strip() for m in flow_model.split(",")] if generic else [flow_model]
    rng = np.random.default_rng(seed)
    xs, ys, n_windows, labels = [], [], 0, []
    names: tuple[str, ...] = label.MULTI_FEATURES if (not generic and "," in flow_model) else label.FEATURES
    names = tuple(features) if features is not None else names
    for spec in specs:
        for sample in samples:
            job = label_job(Path(sample), spec, flow_ckpt, flow_mode, device)
            labels = [e.label for e in job.estimators]
            for w in label_windows(sample, job):
                n_windows += 1
                for sig, err in zip(w.signals, w.errors()):
                    idx = rng.choice(err.size, size=min(pixels, err.size), replace=False)
                    xs.append(_label_features(names, sig, idx))
                    ys.append(err.reshape(-1)[idx])
    if not ys:
        raise ConfigError(f"no 240 fps windows in {', '.join(map(str, samples))}: write the samples with "
                          "`blurgen sample` (with the gopro, nfs or video layouts)")
    x, y = np.concatenate(xs), np.concatenate(ys)
    c0, coef = calib.fit_nonnegative(x, y, list(names))
    key = calib.label_key(flow_mode, ["generic"] if generic else labels)
    cal = {"format": calib.FORMAT, "kind": "label", "key": key, "form": calib.FORMS["label"][-1],
           "intercept": c0, "coef": coef, "params": {},
           "fitted_on": {"samples": [sample_info(s) for s in samples], "windows": n_windows,
                         "pixels": int(len(y)), "estimators": specs if generic else labels},
           "fit": {"mean_epe": round(float(y.mean()), 4)}, "blurgen": __version__}
    pred = calib.apply_linear(cal, {n: x[:, i] for i, n in enumerate(names)})
    cal["fit"]["mean_estimate"] = round(float(np.mean(pred)), 4)
    return cal


def fidelity_job(sample: Path, params: dict[str, Any]) -> MonkaaJob:
    """The ``synth-monkaa`` job on a sample's Monkaa folder with the interpolator ``params``
    (every pair selected, fidelity estimates on, the end frames kept: a fit computes the
    signals of the newest form from them, whatever the calibration the job applies)."""
    cfg = MonkaaConfig.from_params({**params, "n_train": 10 ** 9, "n_test": 0, "quality": True, "store_ends": True})
    return MonkaaJob(cfg, Path(sample) / "monkaa")


def fidelity_pairs(sample: str | Path, job: MonkaaJob) -> Iterator[tuple[dict, Any, float, dict]]:
    """``(truth item, Sample, true PSNR dB, make_timed seconds)`` for every pair of ``sample``
    the job keeps (pairs with ``s > max_s`` are skipped, as in a dataset)."""
    sample = Path(sample)
    items = {(it["sequence"], it["first"]): it for it in truth_items(sample, ("monkaa",))}
    for task in job.tasks():
        it = items.get((task.payload["scene"], task.payload["index"]))
        if it is None:
            continue
        try:
            smp, times = job.make_timed(task)
        except SkipSample:
            continue
        yield it, smp, psnr(smp.arrays["blur"], truth_blur(sample, it)), times


def _fit_fidelity_rows(sig: list[dict], s: list[float], mse: np.ndarray) -> tuple[float, float, dict]:
    """``(phi_scale, c0, coef)`` of the model (``fidelity.MODELS``) and scale with the least
    relative squared error; coef names the chosen model's features only."""
    best = None
    for names in fidelity.MODELS:
        for a in PHI_SCALES:
            x = np.array([[fidelity.features(g, v, a)[f] for f in names] for g, v in zip(sig, s)])
            c0, coef = calib.fit_nonnegative(x, mse, list(names), weights=1.0 / mse)
            pred = c0 + x @ np.array([coef[f] for f in names])
            loss = float(np.sum(((pred - mse) / mse) ** 2))
            if best is None or loss < best[0]:
                best = (loss, a, c0, coef)
    return best[1], best[2], best[3]


def fit_fidelity(samples: list[str | Path], params: dict[str, Any] | None = None) -> dict[str, Any]:
    """A fidelity calibration for the interpolator ``params`` (synth-monkaa job params:
    ``interpolator``, ``method``, ``motion``, ...; None = the defaults)."""
    sig, s, mse, key = [], [], [], None
    for sample in samples:
        job = fidelity_job(Path(sample), params or {})
        key = job.config.quality_key
        for _, smp, db, _ in fidelity_pairs(sample, job):
            a = smp.arrays
            sig.append(fidelity.signals(a["first"], a["last"], a["flow"], a["flow_bwd"]))
            s.append(smp.meta["s"])
            mse.append(255.0 ** 2 / 10 ** (db / 10))
    if len(mse) < 4:
        raise ConfigError(f"{len(mse)} Monkaa pair(s) in {', '.join(map(str, samples))}: a fit needs at least 4; "
                          "write the samples with `blurgen sample` (with the monkaa layout)")
    mse_a = np.array(mse)
    a, c0, coef = _fit_fidelity_rows(sig, s, mse_a)
    cal = {"format": calib.FORMAT, "kind": "fidelity", "key": key, "form": fidelity.FORM,
           "intercept": c0, "coef": coef, "params": {"phi_scale": a},
           "fitted_on": {"samples": [sample_info(p) for p in samples], "pairs": len(mse)},
           "fit": {"mean_psnr": round(float(np.mean([fidelity.psnr_db(m) for m in mse])), 3)},
           "blurgen": __version__}
    est = [fidelity.psnr_db(fidelity.expected_mse(g, v, cal)) for g, v in zip(sig, s)]
    cal["fit"]["mean_estimate"] = round(float(np.mean(est)), 3)
    return cal
