"""Bilinear sampling of flow fields and the forward-backward consistency check.

Flows are ``(H, W, 2) float32``, pixels, ``[..., 0]`` = x (right), ``[..., 1]`` = y (down);
flow ``a -> b`` maps pixel ``p`` of frame ``a`` to ``p + flow[p]`` in frame ``b``.
"""

from __future__ import annotations

import numpy as np


def pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates ``(xs, ys)``, each ``(H, W) float32``."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs, ys


def sample_bilinear(field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Values of ``field`` (H, W, C) at real coordinates ``(x, y)`` (any shape, pixels).

    Bilinear; points outside the image take the value of the nearest border point
    (coordinates clamped). Returns ``x.shape + (C,)`` float32.
    """
    h, w = field.shape[:2]
    field = np.asarray(field, dtype=np.float32)
    x = np.clip(np.asarray(x, dtype=np.float32), 0, w - 1)
    y = np.clip(np.asarray(y, dtype=np.float32), 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(np.intp), w - 2) if w > 1 else np.zeros(x.shape, np.intp)
    y0 = np.minimum(np.floor(y).astype(np.intp), h - 2) if h > 1 else np.zeros(y.shape, np.intp)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    wx = (x - x0)[..., None]
    wy = (y - y0)[..., None]
    top = field[y0, x0] * (1 - wx) + field[y0, x1] * wx
    bottom = field[y1, x0] * (1 - wx) + field[y1, x1] * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32, copy=False)


def flow_at_targets(flow_b: np.ndarray, flow_a: np.ndarray) -> np.ndarray:
    """``flow_b`` sampled where ``flow_a`` sends each pixel: ``flow_b(p + flow_a(p))``.

    With ``flow_a`` = a -> b and ``flow_b`` = b -> c this is the second leg of the
    composed flow a -> c; with ``flow_b`` = b -> a it is the backward flow seen from a.
    Returns ``(H, W, 2) float32``.
    """
    xs, ys = pixel_grid(*flow_a.shape[:2])
    return sample_bilinear(flow_b, xs + flow_a[..., 0], ys + flow_a[..., 1])


def inside_frame(flow: np.ndarray) -> np.ndarray:
    """``(H, W) bool``: True where ``p + flow(p)`` lies inside the image (pixel centres 0..W-1)."""
    h, w = flow.shape[:2]
    xs, ys = pixel_grid(h, w)
    tx = xs + flow[..., 0]
    ty = ys + flow[..., 1]
    return (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)


def fb_consistency(
    flow_fwd: np.ndarray, flow_bwd: np.ndarray, alpha: float = 0.01, beta: float = 0.5
) -> np.ndarray:
    """Mask of pixels whose forward flow is confirmed by the backward flow.

    The usual occlusion criterion (Sundaram et al. 2010; UnFlow, Meister et al. 2018): with
    ``b = flow_bwd(p + flow_fwd(p))`` (bilinear), a pixel is consistent when
    ``|f + b|^2 < alpha * (|f|^2 + |b|^2) + beta``.
    Pixels whose target ``p + f`` falls outside the frame, or whose flows are not finite,
    cannot be checked and are marked 0.

    Args:
        flow_fwd: ``(H, W, 2) float32`` flow first -> last, pixels.
        flow_bwd: ``(H, W, 2) float32`` flow last -> first, pixels.
        alpha: relative tolerance (unitless). beta: absolute tolerance in squared pixels.

    Returns:
        ``(H, W) uint8``: 1 consistent (label trusted), 0 otherwise.

    Computed in one compiled pass (``blurgen.flow._fb_kernel``, numba) that gives the same
    bytes as :func:`fb_consistency_reference`, the numpy statement of the rule (used where
    numba is missing).
    """
    flow_fwd, flow_bwd = _check_pair(flow_fwd, flow_bwd)
    try:
        from blurgen.flow._fb_kernel import fb_mask
    except ImportError:  # pragma: no cover - numba is a dependency
        return fb_consistency_reference(flow_fwd, flow_bwd, alpha, beta)
    out = np.empty(flow_fwd.shape[:2], np.uint8)
    fb_mask(np.ascontiguousarray(flow_fwd), np.ascontiguousarray(flow_bwd), np.float32(alpha), np.float32(beta), out)
    return out


def _check_pair(flow_fwd: np.ndarray, flow_bwd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flow_fwd = np.asarray(flow_fwd, dtype=np.float32)
    flow_bwd = np.asarray(flow_bwd, dtype=np.float32)
    if flow_fwd.shape != flow_bwd.shape or flow_fwd.ndim != 3 or flow_fwd.shape[2] != 2:
        raise ValueError(f"flows must both be (H, W, 2); got {flow_fwd.shape} and {flow_bwd.shape}")
    return flow_fwd, flow_bwd


def fb_consistency_reference(
    flow_fwd: np.ndarray, flow_bwd: np.ndarray, alpha: float = 0.01, beta: float = 0.5
) -> np.ndarray:
    """:func:`fb_consistency` in numpy: the rule as array expressions (slow: float64
    temporaries and four gathers per channel); the compiled pass must give its bytes."""
    flow_fwd, flow_bwd = _check_pair(flow_fwd, flow_bwd)
    finite_f = np.isfinite(flow_fwd).all(axis=2)
    f = np.where(finite_f[..., None], flow_fwd, 0)
    with np.errstate(invalid="ignore", over="ignore"):
        # a non-finite backward flow anywhere near the target makes that pixel fail
        b = flow_at_targets(np.where(np.isfinite(flow_bwd), flow_bwd, np.nan), f)
        diff = np.sum((f + b) ** 2, axis=2)
        bound = alpha * (np.sum(f**2, axis=2) + np.sum(b**2, axis=2)) + beta
        ok = (diff < bound) & finite_f & inside_frame(f)
    return ok.astype(np.uint8)
