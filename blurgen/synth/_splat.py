"""Forward splatting of two frames to time t, in layers: the numpy reference.

:func:`splat_frame_numpy` is the readable statement of the rules below and the fallback
when numba is missing; :mod:`blurgen.synth._splat_numba` makes the same frames (up to
float32 rounding) in compiled kernels, with the work that does not depend on ``t`` done
once per pair, and is what the interpolator uses.

Inputs (all C-contiguous): ``img0``, ``img1`` ``(H, W, 3)`` float32; ``flow01``,
``flow10`` ``(H, W, 2)`` float32 pixels; ``layer0``, ``layer1`` ``(H, W)`` int8, the layer
of each source pixel (0 = occluder, 1 = seen in both frames, 2 = hidden in the other
frame; :data:`N_LAYERS` layers, drawn front to back). At time ``t`` frame 0's pixel ``p``
lands at ``p + t F01(p)`` with weight ``1 - t`` and frame 1's pixel ``q`` at
``q + (1 - t) F10(q)`` with weight ``t``, spread over the 4 nearest pixels (bilinear);
optional accelerations bend these paths into parabolas (:func:`curve_weight`).

What each layer holds at an output pixel: the weighted sum of the colours that landed
(``w, w r, w g, w b``) and, per source frame, the weighted sum of the source positions
relative to the pixel and of their squared length. Colour of a layer: when the source
positions of every frame that reached it are coherent (spread at most
:data:`COHERENT` px^2, i.e. they come from one smooth piece of that frame), the frames
are read at the mean source position with a bicubic kernel (Keys, a = -0.5) and mixed
by weight: the splat only inverts the motion, and the picture keeps its sharpness.
Elsewhere (outlines where two surfaces meet) the splatted colour is used. Layers are
drawn front to back, each covering what is behind it by its weight (at most 1); the
back-most layer present is opaque. A pixel no source reaches takes the weighted mean of
the colours splatted in its ``hole x hole`` neighbourhood, else the cross-fade.
"""

from __future__ import annotations

import importlib.util

import numpy as np

N_LAYERS = 3
EPS = 1e-6
HOLE = 1e-3
COHERENT = 1.0  # px^2: largest spread of source positions read with the bicubic kernel (a smooth map: <= 0.5)

# the compiled path (blurgen.synth._splat_numba); without numba the numpy reference is used
HAVE_NUMBA = importlib.util.find_spec("numba") is not None


def curve_weight(t: float) -> float:
    """``(t^2 - t) / 2``: the weight of the acceleration in the position at time ``t``.

    A point at ``p`` in frame 0 with flows ``F01`` (to frame 1) and ``F0m`` (to frame -1)
    moves on the parabola through the three positions: ``p + t F01 + (t^2 - t)/2 A0`` with
    ``A0 = F01 + F0m``. From frame 1 (flows ``F10``, ``F12``) the same curve is
    ``q + (1 - t) F10 + (t^2 - t)/2 A1`` with ``A1 = F12 + F10``.
    """
    return 0.5 * (t * t - t)


def _keys(d: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel (a = -0.5) at distances ``d``."""
    d = np.abs(d)
    return np.where(d < 1.0, (1.5 * d - 2.5) * d * d + 1.0,
                    np.where(d < 2.0, ((-0.5 * d + 2.5) * d - 4.0) * d + 2.0, 0.0))


def cubic_sample(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``img`` ``(H, W, 3)`` read at float positions ``x``, ``y`` (any equal shapes) with
    Keys' bicubic kernel; positions outside read the nearest edge. Returns ``(..., 3)``."""
    h, w = img.shape[:2]
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx = x - x0
    fy = y - y0
    x0 = x0.astype(np.int64)
    y0 = y0.astype(np.int64)
    out = np.zeros(x.shape + (3,), np.float64)
    for j in range(-1, 3):
        wy = _keys(fy - j)
        yy = np.clip(y0 + j, 0, h - 1)
        for i in range(-1, 3):
            wgt = wy * _keys(fx - i)
            xx = np.clip(x0 + i, 0, w - 1)
            out += wgt[..., None] * img[yy, xx]
    return out


# ----------------------------------------------------------------------------- numpy reference
def splat_frame_numpy(img0, img1, flow01, flow10, layer0, layer1, t: float, hole: int = 5, *,
                      accel0: np.ndarray | None = None, accel1: np.ndarray | None = None) -> np.ndarray:
    """Frame at time ``t``: ``(H, W, 3)`` float32 (the readable reference implementation).

    accel0, accel1: optional ``(H, W, 2)`` accelerations (see :func:`curve_weight`).
    """
    h, w = img0.shape[:2]
    sx, sy, px, py, side_w = _paths(flow01, flow10, t, accel0, accel1)
    layer = np.concatenate([layer0.ravel(), layer1.ravel()]).astype(np.int64)
    acc, sw = _splat_sums(img0, img1, sx, sy, px, py, side_w, layer, h, w)
    out = _composite(acc, sw, img0, img1)
    return np.ascontiguousarray(_fill_holes(out, acc, img0, img1, t, hole), dtype=np.float32)


def _paths(flow01, flow10, t: float, accel0, accel1):
    """Source pixel coordinates of both frames (``sx``, ``sy``, float64), where they are at
    time ``t`` (``px``, ``py``, float32) and each side's blend weight (``1 - t`` / ``t``)."""
    h, w = flow01.shape[:2]
    hw = h * w
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    sx = np.concatenate([gx.ravel(), gx.ravel()])
    sy = np.concatenate([gy.ravel(), gy.ravel()])
    step = np.concatenate([np.full(hw, t), np.full(hw, 1.0 - t)]).astype(np.float32)
    side_w = np.concatenate([np.full(hw, 1.0 - t), np.full(hw, t)]).astype(np.float32)
    px = sx.astype(np.float32) + step * np.concatenate([flow01[..., 0].ravel(), flow10[..., 0].ravel()])
    py = sy.astype(np.float32) + step * np.concatenate([flow01[..., 1].ravel(), flow10[..., 1].ravel()])
    curve = np.float32(curve_weight(t))
    for k, acc in ((0, accel0), (1, accel1)):
        if acc is not None:
            px[k * hw:(k + 1) * hw] += curve * acc[..., 0].ravel()
            py[k * hw:(k + 1) * hw] += curve * acc[..., 1].ravel()
    return sx, sy, px, py, side_w


def _splat_sums(img0, img1, sx, sy, px, py, side_w, layer, h: int, w: int):
    """Bilinear splats of both frames' pixels into per-layer sums: ``acc`` (L, H, W, 10) of
    weight, weighted colour and, per side, weighted source x, y and x^2 + y^2; ``sw`` (L, H,
    W, 2) the weight from each side."""
    import scipy.sparse as sparse

    hw, n_src = h * w, 2 * h * w
    keep = (px > -1) & (px < w) & (py > -1) & (py < h)
    x0 = np.floor(px).astype(np.int64)
    y0 = np.floor(py).astype(np.int64)
    fx = (px - x0).astype(np.float64)
    fy = (py - y0).astype(np.float64)
    # The splatting matrix: rows (layer, y, x) plus one dump row, columns = source pixels.
    dump = N_LAYERS * hw
    rows, vals = [], []
    for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
        xx, yy = x0 + dx, y0 + dy
        ok = keep & (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
        rows.append(np.where(ok, layer * hw + yy * w + xx, dump))
        wx = fx if dx else 1.0 - fx
        wy = fy if dy else 1.0 - fy
        vals.append(np.where(ok, side_w * wx * wy, 0.0))
    idx = np.stack(rows, axis=1).ravel()
    wgt = np.stack(vals, axis=1).ravel()
    m = sparse.csc_matrix((wgt, idx, np.arange(0, 4 * n_src + 1, 4)), shape=(dump + 1, n_src))
    side = np.concatenate([np.zeros(hw, bool), np.ones(hw, bool)])
    values = np.zeros((n_src, 10), np.float64)
    values[:, 0] = 1.0
    values[:hw, 1:4] = img0.reshape(-1, 3)
    values[hw:, 1:4] = img1.reshape(-1, 3)
    for s in (0, 1):
        on = side == bool(s)
        values[on, 4 + 3 * s] = sx[on]
        values[on, 5 + 3 * s] = sy[on]
        values[on, 6 + 3 * s] = sx[on] ** 2 + sy[on] ** 2
    per_side_w = m @ np.stack([~side, side], axis=1).astype(np.float64)  # (rows, 2)
    acc = (m @ values)[:dump].reshape(N_LAYERS, h, w, 10)
    return acc, per_side_w[:dump].reshape(N_LAYERS, h, w, 2)


def _composite(acc, sw, img0, img1) -> np.ndarray:
    """Layers front to back over each other; where a layer's splats come from one coherent
    neighbourhood of a source frame, its colour is a bicubic read there instead."""
    h, w = img0.shape[:2]
    den, num = acc[..., 0], acc[..., 1:4]
    out = np.zeros((h, w, 3), np.float64)
    seen = np.zeros((h, w), bool)
    for k in range(N_LAYERS - 1, -1, -1):
        d = den[k]
        present = d > EPS
        colour = num[k] / np.maximum(d, EPS)[..., None]
        coherent = present.copy()
        mixed = np.zeros((h, w, 3))
        for s, img in ((0, img0), (1, img1)):
            ws = sw[k, ..., s]
            has = ws > EPS
            wsafe = np.maximum(ws, EPS)
            mx = acc[k, ..., 4 + 3 * s] / wsafe
            my = acc[k, ..., 5 + 3 * s] / wsafe
            spread = acc[k, ..., 6 + 3 * s] / wsafe - mx * mx - my * my
            coherent &= ~has | (spread <= COHERENT)
            mixed += np.where(has[..., None], ws[..., None] * cubic_sample(img, mx, my), 0.0)
        colour = np.where(coherent[..., None], mixed / np.maximum(d, EPS)[..., None], colour)
        cover = np.where(seen, np.minimum(d, 1.0), 1.0) * present
        out = cover[..., None] * colour + (1.0 - cover[..., None]) * out
        seen |= present
    return out


def _fill_holes(out, acc, img0, img1, t: float, hole: int) -> np.ndarray:
    """Pixels no splat reached: the mean of the splats in a ``hole`` x ``hole`` box, else the
    cross-fade of the two frames."""
    import cv2

    den, num = acc[..., 0], acc[..., 1:4]
    total = den.sum(0)
    holes = total < HOLE
    if not holes.any():
        return out
    num_all = np.ascontiguousarray(num.sum(0))
    num_b = cv2.boxFilter(num_all, -1, (hole, hole), normalize=False, borderType=cv2.BORDER_CONSTANT)
    den_b = cv2.boxFilter(np.ascontiguousarray(total), -1, (hole, hole), normalize=False,
                          borderType=cv2.BORDER_CONSTANT)
    filled = num_b / np.maximum(den_b, EPS)[..., None]
    fade = (1.0 - t) * img0 + t * img1
    return np.where(holes[..., None], np.where((den_b > HOLE)[..., None], filled, fade), out)
