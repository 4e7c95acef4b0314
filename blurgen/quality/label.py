"""How good is a pseudo-ground-truth flow label: per-pixel uncertainty and a per-sample estimate.

Signals, per direction, on that direction's source grid (``flow_ab`` maps pixel ``p`` of
frame a to ``p + flow_ab(p)`` in frame b; images ``(H, W, 3) uint8`` RGB; each signal
``(H, W) float32``):

- ``fb`` (px): forward-backward residual ``|flow_ab(p) + flow_ba(p + flow_ab(p))|`` (flow_ba
  sampled bilinearly, border replicated; inf where a flow is not finite); what the
  consistency mask thresholds;
- ``photo`` (grey levels, 0-255): ``|gray_b(p + flow_ab(p)) - gray_a(p)|``, the
  photometric residual of warping the other end frame onto this one (BT.601 luma);
- ``disagree`` (px), only with several estimators: the mean of ``|flow_ab - other_ab|``
  over the other estimators' flows of the same direction.

A calibration of form ``epe-linear-v1`` (``blurgen.quality.calibration``) maps them to the
expected end-point error of the label at each pixel: ``u = c0 + c_fb fb + c_photo photo
[+ c_disagree disagree]``, all ``c >= 0``. ``label_epe_est`` (meta) is the mean of ``u``
over the frame: the expected EPE of ``flow`` over all pixels, as ``benchmarks/pseudo_gt.py``
measures it; ``label_epe_est_bwd`` the same for ``flow_bwd``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from blurgen.quality.calibration import apply_linear

FEATURES = ("fb", "photo")
MULTI_FEATURES = ("fb", "photo", "disagree")
MAX_UNCERTAINTY = 60000.0  # float16 holds up to 65504


def _gray(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32)


def direction_signals(img_a: np.ndarray, img_b: np.ndarray, flow_ab: np.ndarray, flow_ba: np.ndarray,
                      others_ab: Sequence[np.ndarray] = ()) -> dict[str, np.ndarray]:
    """Signals of the label ``flow_ab`` (module doc): ``{"fb", "photo"[, "disagree"]}``; the
    first two in one compiled pass (``blurgen.quality._label_kernel``)."""
    from blurgen.quality._label_kernel import residuals

    flow_ab = np.ascontiguousarray(flow_ab, np.float32)
    h, w = flow_ab.shape[:2]
    out = {"fb": np.empty((h, w), np.float32), "photo": np.empty((h, w), np.float32)}
    residuals(flow_ab, np.ascontiguousarray(flow_ba, np.float32), _gray(img_a), _gray(img_b), out["fb"], out["photo"])
    if len(others_ab):
        d = sum(np.hypot(*(flow_ab - np.asarray(o, np.float32)).transpose(2, 0, 1)) for o in others_ab)
        out["disagree"] = (d / len(others_ab)).astype(np.float32)
    return out


def signals(first: np.ndarray, last: np.ndarray, fwd: np.ndarray, bwd: np.ndarray,
            others: Sequence[tuple[np.ndarray, np.ndarray]] = ()) -> tuple[dict, dict]:
    """``(forward signals on the first frame's grid, backward signals on the last frame's)``;
    ``others``: ``(fwd, bwd)`` of the other estimators."""
    return (direction_signals(first, last, fwd, bwd, [o[0] for o in others]),
            direction_signals(last, first, bwd, fwd, [o[1] for o in others]))


def uncertainty(sig: dict[str, np.ndarray], cal: dict[str, Any]) -> np.ndarray:
    """Expected EPE per pixel, ``(H, W) float32`` px, from one direction's signals."""
    shape = next(iter(sig.values())).shape
    u = apply_linear(cal, sig)
    return np.clip(np.broadcast_to(np.asarray(u, np.float32), shape), 0.0, MAX_UNCERTAINTY).astype(np.float32)


def label_quality(first: np.ndarray, last: np.ndarray, fwd: np.ndarray, bwd: np.ndarray, cal: dict[str, Any],
                  others: Sequence[tuple[np.ndarray, np.ndarray]] = ()) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The quality part of a real-blur sample: ``(arrays, meta)``.

    arrays: ``uncertainty`` (first frame's grid) and ``uncertainty_bwd`` (last frame's),
    ``(H, W) float16`` px; meta: ``label_epe_est``, ``label_epe_est_bwd`` (px, 4 decimals)
    and ``quality_calibration`` (the calibration's key).
    """
    sig_f, sig_b = signals(first, last, fwd, bwd, others)
    u_f, u_b = uncertainty(sig_f, cal), uncertainty(sig_b, cal)
    meta = {"label_epe_est": round(float(u_f.mean(dtype=np.float64)), 4),
            "label_epe_est_bwd": round(float(u_b.mean(dtype=np.float64)), 4),
            "quality_calibration": cal["key"]}
    return {"uncertainty": u_f.astype(np.float16), "uncertainty_bwd": u_b.astype(np.float16)}, meta
