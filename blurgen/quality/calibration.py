"""Calibrations: small monotone models from quality signals to expected error, as JSON data.

A calibration is a dict (stored as a JSON file; ``format`` 1)::

    {"format": 1, "kind": "label" | "fidelity", "key": "direct:dis",
     "form": "epe-linear-v1" | "blur-mse-v2", "intercept": c0, "coef": {feature: c, ...},
     "params": {...}, "fitted_on": {...}, "fit": {...}, "blurgen": "0.x"}

Every coefficient is >= 0 (fitted by non-negative least squares), so the estimate never
decreases when a signal grows. ``label`` calibrations map per-pixel signals of a flow label
to its expected end-point error in pixels (``blurgen.quality.label``); ``fidelity``
calibrations map per-sample signals of a Monkaa synthesis to the expected mean squared
error of the blur against the continuous-time blur (``blurgen.quality.fidelity``).

The shipped ones live in ``blurgen/resources/calibration/{label,fidelity}/*.json`` (read
through ``blurgen.resources``); ``blurgen calibrate`` fits new ones on a procedural sample.
A run embeds the calibration it used in its job params, so a rerun of its manifest applies
the same numbers whatever the installed files say.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from blurgen.errors import ConfigError, InputError
from blurgen.resources import listing, resource

FORMAT = 1
KINDS = ("label", "fidelity")
# kind -> the forms read (the last is what a fit makes; fidelity's v1 from blurgen before
# the ``hole`` signal, see blurgen.quality.fidelity)
FORMS = {"label": ("epe-linear-v1",), "fidelity": ("blur-mse-v1", "blur-mse-v2")}
# form -> the features its coefficients may name
FEATURES = {"epe-linear-v1": ("fb", "photo", "disagree"), "blur-mse-v1": ("oof_s", "occ", "rest_phi"),
            "blur-mse-v2": ("oof_s", "occ", "rest_phi", "hole_s")}
# A label calibration for a key with no file of its own falls back to the one fitted on
# every shipped classical estimator together (learned models ship no calibration: no
# weights exist offline); see docs/quality.md.
GENERIC_LABEL = "direct:generic"


def label_key(flow_mode: str, labels: list[str]) -> str:
    """Key of a label calibration: the window mode and the estimators' labels, the label's
    own first (``direct:dis``, ``direct:dis,farneback``, ``chained:pwcnet/things``)."""
    return f"{flow_mode}:{','.join(labels)}"


def file_stem(key: str) -> str:
    """The file name (without ``.json``) of a calibration key: ``direct:dis,farneback`` ->
    ``direct__dis+farneback``; ``flow-guided/splat/quadratic`` -> ``flow-guided-splat-quadratic``."""
    return key.replace(":", "__").replace(",", "+").replace("/", "-")


def check(cal: Any, where: str, kind: str | None = None) -> dict[str, Any]:
    """``cal`` if it is a calibration dict of ``kind`` (any when None), else ``ConfigError``
    naming ``where`` (a file, or "the manifest")."""
    ok = (isinstance(cal, dict) and cal.get("format") == FORMAT and cal.get("kind") in KINDS
          and cal.get("form") in FORMS.get(cal.get("kind"), ()) and isinstance(cal.get("coef"), dict)
          and isinstance(cal.get("key"), str))
    if ok:
        values = [cal.get("intercept", 0.0), *cal["coef"].values()]
        ok = all(isinstance(v, (int, float)) and np.isfinite(v) and v >= 0 for v in values)
        ok = ok and set(cal["coef"]) <= set(FEATURES[cal["form"]])
    if ok and cal["kind"] == "fidelity":
        a = (cal.get("params") or {}).get("phi_scale")
        ok = isinstance(a, (int, float)) and np.isfinite(a) and a > 0
    if not ok:
        raise ConfigError(f"{where}: not a blurgen calibration (format {FORMAT}: kind, key, form, "
                          "non-negative intercept and coef of the form's features); make one with `blurgen calibrate`")
    if kind is not None and cal["kind"] != kind:
        raise ConfigError(f"{where}: a {cal['kind']} calibration, but a {kind} calibration is needed here")
    return cal


def load(path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """Read a calibration JSON file (``blurgen calibrate --out``)."""
    path = Path(path)
    try:
        cal = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(path, "calibration file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(path, f"not a readable JSON calibration ({e})", "make one with `blurgen calibrate`") from None
    return check(cal, str(path), kind)


def shipped(kind: str) -> dict[str, dict[str, Any]]:
    """``{key: calibration}`` of the calibrations shipped with blurgen for ``kind``."""
    out = {}
    for stem, f in sorted(listing(f"calibration/{kind}", ".json").items()):
        cal = check(json.loads(f.read_text()), f"shipped calibration {kind}/{stem}.json", kind)
        out[cal["key"]] = cal
    return out


def resource_path(kind: str, key: str):
    """The shipped file of calibration ``key`` (a ``Traversable``; it may not exist)."""

    return resource("calibration", kind, f"{file_stem(key)}.json")


def find(kind: str, key: str, fallback: str | None = None) -> dict[str, Any] | None:
    """The shipped calibration of ``key``, else of ``fallback``, else None."""
    cals = shipped(kind)
    if key in cals:
        return cals[key]
    return cals.get(fallback) if fallback else None


def fit_nonnegative(x: np.ndarray, y: np.ndarray, names: list[str], weights: np.ndarray | None = None
                    ) -> tuple[float, dict[str, float]]:
    """Least squares ``y ~ c0 + sum_i c_i x[:, i]`` with every ``c >= 0`` (scipy's NNLS).

    x: ``(N, F)`` features, y: ``(N,)`` targets, weights: optional ``(N,)`` per-row weights
    (each residual is multiplied by its weight). Returns ``(c0, {name: c_i})``, floats
    rounded to 6 significant digits (so a calibration file reads back to the same numbers).
    """
    from scipy.optimize import nnls

    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    a = np.column_stack([np.ones(len(y)), x])
    if weights is not None:
        w = np.asarray(weights, np.float64)
        a, y = a * w[:, None], y * w
    c, _ = nnls(a, y, maxiter=50 * a.shape[1])
    c = [float(f"{v:.6g}") for v in c]
    return c[0], dict(zip(names, c[1:]))


def apply_linear(cal: dict[str, Any], features: dict[str, np.ndarray | float]) -> np.ndarray | float:
    """``intercept + sum coef[name] * features[name]`` (arrays or floats); a feature the
    calibration names but ``features`` lacks is an error of the caller (KeyError)."""
    out = cal.get("intercept", 0.0)
    for name, c in cal["coef"].items():
        if c:
            out = out + c * features[name]
    return out
