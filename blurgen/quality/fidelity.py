"""How close is a synthetic Monkaa blur to the continuous-time blur: ``fidelity_db_est``.

Signals of one pair, from what the synthesis has (end frames ``(H, W, 3)`` RGB, flows
``flow01`` / ``flow10`` ``(H, W, 2) float32`` px, ``s`` px). Each end frame's pixels fall in
three classes: ``oof``, whose path leaves the frame (``p + flow`` outside: what enters the
blur from outside the frame is not in either image); ``occ``, hidden at the other end
(``blurgen.synth.scene.consistency`` below 0.5, as the interpolator decides it); ``rest``.
The signal of a class is the mean over the frame of ``kappa`` on that class's pixels, where
``kappa`` is the local variance of the grey image (5 x 5 box, grey levels squared): how
much an error in placing the content there can cost. The three are averaged over both end
frames: ``kappa_oof``, ``kappa_occ``, ``kappa_rest`` (meta ``fidelity_signals``).

A fourth signal, ``hole``, is the share of the frame that neither end frame reaches at
intermediate times: for ``t`` = 1/4, 1/2, 3/4 every pixel of frame 0 is moved to ``p + t
flow01(p)`` and every pixel of frame 1 to ``q + (1 - t) flow10(q)`` (straight paths, nearest
pixel), and the pixels with no mark within one pixel are counted; the mean of the three
shares. What passes there during the exposure is in neither image, so the synthesis has to
fill it in (content entering the frame between the two, a stretched surface). Content that
only leaves the frame is no hole: the other end frame still has it.

A calibration of form ``blur-mse-v2`` (what ``blurgen calibrate`` fits) maps them to the
expected mean squared error of the uint8 blur against the continuous-time blur (grey levels
squared) with one of two models (``MODELS``; the fit keeps the one with the smaller
relative error: holes for the splat interpolators, leaving texture for the ones whose error
is ghosting)::

    holes:            mse = c0 + c_occ * kappa_occ + c_rest * kappa_rest * phi(s) + c_hole * hole * s
    leaving texture:  mse = c0 + c_oof * kappa_oof * s + c_occ * kappa_occ + c_rest * kappa_rest * phi(s)
    phi(s) = s^2 / (a^3 + s^3)

(``a`` = ``params.phi_scale``, px). ``phi`` is the shape of the interior error seen on the
sample: zero without motion, largest where the motion is a few pixels (the texture is
moved but not yet averaged away), falling as a long blur smooths it. ``c0`` holds what the
signals do not see (the rule's time sampling, rounding). ``fidelity_db_est =
10 log10(255^2 / mse)``. Calibrations of the first form, ``blur-mse-v1`` (the leaving-texture
model, without the hole signal), still apply: a run with one stores the three signals it
had, so its manifest reruns to the same bytes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from blurgen.quality import calibration as calib
from blurgen.synth.scene import consistency

# calibration form -> the signals a run with it stores
STORED = {"blur-mse-v1": ("kappa_oof", "kappa_occ", "kappa_rest"),
          "blur-mse-v2": ("kappa_oof", "kappa_occ", "kappa_rest", "hole")}
FORM = calib.FORMS["fidelity"][-1]  # what new calibrations are fitted in
SIGNALS = STORED[FORM]
# the models a fit chooses from (blurgen.jobs.calibrate; module doc)
MODELS = (("occ", "rest_phi", "hole_s"), ("oof_s", "occ", "rest_phi"))
HOLE_TIMES = (0.25, 0.5, 0.75)
MIN_MSE = 1e-3


def _kappa(rgb: np.ndarray) -> np.ndarray:
    import cv2

    g = cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2GRAY)
    m = cv2.blur(g, (5, 5))
    return np.maximum(cv2.blur(g * g, (5, 5)) - m * m, 0.0)


def _outside(flow: np.ndarray) -> np.ndarray:
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    tx, ty = xs + flow[..., 0], ys + flow[..., 1]
    return (tx < 0) | (tx > w - 1) | (ty < 0) | (ty > h - 1)


def hole_share(flow01: np.ndarray, flow10: np.ndarray) -> float:
    """``hole`` (module doc): the mean share of the frame that no end-frame pixel reaches
    within one pixel at the times ``HOLE_TIMES``."""
    import cv2

    from blurgen.quality._fidelity_kernel import coverage

    f01 = np.ascontiguousarray(flow01, np.float32)
    cov = np.zeros((len(HOLE_TIMES), *f01.shape[:2]), np.uint8)
    coverage(f01, np.ascontiguousarray(flow10, np.float32), np.asarray(HOLE_TIMES, np.float32), cov)
    kernel = np.ones((3, 3), np.uint8)
    return float(np.mean([np.mean(cv2.dilate(c, kernel) == 0) for c in cov]))


def stored_signals(cal: dict[str, Any] | None) -> tuple[str, ...]:
    """The signals a run with calibration ``cal`` stores: its form's (None: the newest)."""
    return STORED[cal["form"]] if cal is not None else SIGNALS


def signals(img0: np.ndarray, img1: np.ndarray, flow01: np.ndarray, flow10: np.ndarray,
            names: tuple[str, ...] = SIGNALS) -> dict[str, float]:
    """The signals ``names`` (module doc; default every one), rounded to 4 decimals (``hole``
    to 6: it is a share of the frame)."""

    sums = dict.fromkeys(("kappa_oof", "kappa_occ", "kappa_rest"), 0.0)
    for img, fa, fb in ((img0, flow01, flow10), (img1, flow10, flow01)):
        k = _kappa(img)
        out = _outside(fa)
        occ = (consistency(fa, fb) < 0.5) & ~out
        rest = ~(out | occ)
        for name, mask in (("kappa_oof", out), ("kappa_occ", occ), ("kappa_rest", rest)):
            sums[name] += float(np.mean(k * mask, dtype=np.float64)) / 2
    out = {k: round(v, 4) for k, v in sums.items()}
    if "hole" in names:
        out["hole"] = round(hole_share(flow01, flow10), 6)
    return {k: out[k] for k in names}


def features(sig: dict[str, float], s: float, phi_scale: float, form: str = FORM) -> dict[str, float]:
    """The features of calibration form ``form`` from the signals and ``s`` (px)."""
    out = {"oof_s": sig["kappa_oof"] * s, "occ": sig["kappa_occ"],
           "rest_phi": sig["kappa_rest"] * s * s / (phi_scale ** 3 + s ** 3)}
    if form != "blur-mse-v1":
        out["hole_s"] = sig["hole"] * s
    return out


def expected_mse(sig: dict[str, float], s: float, cal: dict[str, Any]) -> float:
    """The calibration's expected mean squared error (grey levels squared)."""
    feats = features(sig, s, cal["params"]["phi_scale"], cal["form"])
    return max(float(calib.apply_linear(cal, feats)), MIN_MSE)


def psnr_db(mse: float) -> float:
    return 10.0 * math.log10(255.0 ** 2 / max(mse, MIN_MSE))


def fidelity_meta(sig: dict[str, float], s: float, cal: dict[str, Any] | None) -> dict[str, Any]:
    """Meta of a Monkaa sample: ``fidelity_signals`` always; with a calibration also
    ``fidelity_db_est`` (dB, 2 decimals) and ``quality_calibration`` (its key)."""
    meta: dict[str, Any] = {"fidelity_signals": dict(sig)}
    if cal is not None:
        meta["fidelity_db_est"] = round(psnr_db(expected_mse(sig, s, cal)), 2)
        meta["quality_calibration"] = cal["key"]
    return meta
