"""Pseudo-ground-truth optical flow: classical (OpenCV) and learned (ptlflow) estimators.

Main entry points::

    est = get_estimator("pwcnet", ckpt="things")       # or "dis", "farneback", ...
    flows = est.estimate(firsts, seconds)               # (N, H, W, 2) float32
    fwd, bwd = estimate_window(est, frames, mode="chained")
    valid = fb_consistency(fwd, bwd)                    # (H, W) uint8

Importing this package imports numpy only; OpenCV, torch and ptlflow load when used.
"""

from blurgen.flow.base import FlowEstimator
from blurgen.flow.consistency import fb_consistency, flow_at_targets, sample_bilinear
from blurgen.flow.registry import CLASSICAL, get_estimator, is_classical
from blurgen.flow.window import WINDOW_MODES, compose_flows, estimate_window

__all__ = [
    "CLASSICAL",
    "WINDOW_MODES",
    "FlowEstimator",
    "compose_flows",
    "estimate_window",
    "fb_consistency",
    "flow_at_targets",
    "get_estimator",
    "is_classical",
    "sample_bilinear",
]
