"""The forward-backward consistency mask, compiled (numba): one pass over the pixels.

Bit-for-bit the arithmetic of the numpy reference (``consistency.fb_consistency_reference``):
target coordinates ``p + f`` in float32; bilinear weights and the weighted sums of the four
corner values in float64 (numpy promotes ``float32 - intp`` to float64), each sampled
backward component rounded to float32; the test ``|f + b|^2 < alpha (|f|^2 + |b|^2) + beta``
in float32 with alpha and beta as float32. A non-finite backward value at any of the four
corners makes the sampled value NaN or infinite (``inf * 0`` is NaN), so the test fails, as
in the reference. Importing this module imports numba.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def _backward_at(bwd, tx, ty):  # pragma: no cover - compiled
    """``bwd`` (H, W, 2) float32 sampled bilinearly at the float32 point (tx, ty), which lies
    inside the frame: float64 weights and sums, each component rounded to float32."""
    h, w = bwd.shape[0], bwd.shape[1]
    x0 = min(int(tx), w - 2) if w > 1 else 0  # tx >= 0: int() is floor()
    y0 = min(int(ty), h - 2) if h > 1 else 0
    x1 = min(x0 + 1, w - 1)
    y1 = min(y0 + 1, h - 1)
    wx = np.float64(tx) - np.float64(x0)
    wy = np.float64(ty) - np.float64(y0)
    return (_lerp(bwd[y0, x0, 0], bwd[y0, x1, 0], bwd[y1, x0, 0], bwd[y1, x1, 0], wx, wy),
            _lerp(bwd[y0, x0, 1], bwd[y0, x1, 1], bwd[y1, x0, 1], bwd[y1, x1, 1], wx, wy))


@numba.njit(cache=True, nogil=True, inline="always")
def _lerp(v00, v01, v10, v11, wx, wy):  # pragma: no cover - compiled
    """Bilinear mix of four float32 values with float64 weights, rounded to float32."""
    top = np.float64(v00) * (1.0 - wx) + np.float64(v01) * wx
    bottom = np.float64(v10) * (1.0 - wx) + np.float64(v11) * wx
    return np.float32(top * (1.0 - wy) + bottom * wy)


@numba.njit(cache=True, nogil=True)
def _target(x, y, f0, f1, w, h):  # pragma: no cover - compiled
    """(tx, ty, inside): ``p + f`` in float32 and whether it lies in the frame (pixel
    centres 0..W-1, 0..H-1). NaN fails every comparison, +-inf the bounds."""
    tx = np.float32(x) + f0
    ty = np.float32(y) + f1
    inside = tx >= np.float32(0.0) and tx <= np.float32(w - 1) and ty >= np.float32(0.0) and ty <= np.float32(h - 1)
    return tx, ty, inside


@numba.njit(cache=True, nogil=True)
def fb_mask(fwd, bwd, alpha, beta, out):  # pragma: no cover - compiled
    """``out[y, x] = 1`` where the forward flow is confirmed by the backward flow, else 0.

    fwd, bwd: (H, W, 2) float32 C-contiguous, pixels, [..., 0] = x; alpha, beta: float32;
    out: (H, W) uint8. A target outside the frame or a non-finite forward flow gives 0.
    """
    h, w = fwd.shape[0], fwd.shape[1]
    for y in range(h):
        for x in range(w):
            f0 = fwd[y, x, 0]
            f1 = fwd[y, x, 1]
            tx, ty, inside = _target(x, y, f0, f1, w, h)
            if not inside:
                out[y, x] = 0
                continue
            b0, b1 = _backward_at(bwd, tx, ty)
            d0 = f0 + b0
            d1 = f1 + b1
            bound = alpha * ((f0 * f0 + f1 * f1) + (b0 * b0 + b1 * b1)) + beta
            out[y, x] = 1 if d0 * d0 + d1 * d1 < bound else 0


@numba.njit(cache=True, nogil=True)
def backward_at_targets(fwd, bwd, out):  # pragma: no cover - compiled
    """``out[y, x] = bwd(p + fwd(p))`` as :func:`fb_mask` samples it, NaN where the target
    is outside the frame: for tests against ``consistency.flow_at_targets``."""
    h, w = fwd.shape[0], fwd.shape[1]
    for y in range(h):
        for x in range(w):
            tx, ty, inside = _target(x, y, fwd[y, x, 0], fwd[y, x, 1], w, h)
            if inside:
                out[y, x, 0], out[y, x, 1] = _backward_at(bwd, tx, ty)
            else:
                out[y, x, 0] = out[y, x, 1] = np.float32(np.nan)
