"""Forward splatting of two frames to time t, in layers: compiled (numba) and reference (numpy).

Both functions make the same frame (up to float rounding); the numpy one is the
readable reference and the fallback when numba is missing, the numba one makes each
frame in a few image warps' time and can add it straight into a running sum.

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

import numpy as np

N_LAYERS = 3
N_CH = 12  # per layer: w, w*rgb | per frame s in (0, 1): w_s, w_s*dx, w_s*dy, w_s*(dx^2 + dy^2)
EPS = 1e-6
HOLE = 1e-3
COHERENT = 1.0  # px^2: largest spread of source positions read with the bicubic kernel (a smooth map: <= 0.5)

try:  # the compiled path; without numba the numpy reference is used
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is absent
    HAVE_NUMBA = False


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


# ----------------------------------------------------------------------------- numba kernels
if HAVE_NUMBA:

    @numba.njit(cache=True, nogil=True)
    def _splat_side(img, flow, accel, curve, layer, step, weight, side, canvas):  # pragma: no cover - compiled
        """Splat every pixel ``p`` of ``img`` at ``p + step * flow[p] + curve * accel[p]``."""
        h, w = img.shape[0], img.shape[1]
        one = np.float32(1.0)
        o = 4 + 4 * side
        for y in range(h):
            yf = np.float32(y)
            for x in range(w):
                xf = np.float32(x)
                px = xf + step * flow[y, x, 0] + curve * accel[y, x, 0]
                py = yf + step * flow[y, x, 1] + curve * accel[y, x, 1]
                if not (px > -1.0 and px < w and py > -1.0 and py < h):
                    continue
                x0 = int(px + one) - 1  # floor, as px > -1
                y0 = int(py + one) - 1
                fx = px - np.float32(x0)
                fy = py - np.float32(y0)
                k = layer[y, x]
                r = img[y, x, 0]
                g = img[y, x, 1]
                b = img[y, x, 2]
                for dy in range(2):
                    yy = y0 + dy
                    if yy < 0 or yy >= h:
                        continue
                    wy = fy if dy == 1 else one - fy
                    ry = yf - np.float32(yy)
                    for dx in range(2):
                        xx = x0 + dx
                        if xx < 0 or xx >= w:
                            continue
                        ww = weight * wy * (fx if dx == 1 else one - fx)
                        rx = xf - np.float32(xx)
                        c = canvas[k, yy, xx]
                        c[0] += ww
                        c[1] += ww * r
                        c[2] += ww * g
                        c[3] += ww * b
                        c[o] += ww
                        c[o + 1] += ww * rx
                        c[o + 2] += ww * ry
                        c[o + 3] += ww * (rx * rx + ry * ry)

    @numba.njit(cache=True, nogil=True)
    def _cubic(img, x, y, res):  # pragma: no cover - compiled
        """``img`` read at ``(x, y)`` with Keys' kernel (edges replicated) into ``res[0:3]``."""
        h, w = img.shape[0], img.shape[1]
        x0 = int(np.floor(x))
        y0 = int(np.floor(y))
        fx = x - x0
        fy = y - y0
        # Keys (a = -0.5) weights of the taps at -1, 0, 1, 2 for a fraction f in [0, 1)
        wx0 = ((-0.5 * fx + 1.0) * fx - 0.5) * fx
        wx1 = (1.5 * fx - 2.5) * fx * fx + 1.0
        wx2 = ((-1.5 * fx + 2.0) * fx + 0.5) * fx
        wx3 = (0.5 * fx - 0.5) * fx * fx
        wy0 = ((-0.5 * fy + 1.0) * fy - 0.5) * fy
        wy1 = (1.5 * fy - 2.5) * fy * fy + 1.0
        wy2 = ((-1.5 * fy + 2.0) * fy + 0.5) * fy
        wy3 = (0.5 * fy - 0.5) * fy * fy
        if x0 >= 1 and x0 + 2 < w:
            xa = x0 - 1
            xb = x0
            xc = x0 + 1
            xd = x0 + 2
        else:
            xa = min(max(x0 - 1, 0), w - 1)
            xb = min(max(x0, 0), w - 1)
            xc = min(max(x0 + 1, 0), w - 1)
            xd = min(max(x0 + 2, 0), w - 1)
        r = 0.0
        g = 0.0
        b = 0.0
        for j in range(4):
            wy = wy0 if j == 0 else (wy1 if j == 1 else (wy2 if j == 2 else wy3))
            row = img[min(max(y0 + j - 1, 0), h - 1)]
            r += wy * (wx0 * row[xa, 0] + wx1 * row[xb, 0] + wx2 * row[xc, 0] + wx3 * row[xd, 0])
            g += wy * (wx0 * row[xa, 1] + wx1 * row[xb, 1] + wx2 * row[xc, 1] + wx3 * row[xd, 1])
            b += wy * (wx0 * row[xa, 2] + wx1 * row[xb, 2] + wx2 * row[xc, 2] + wx3 * row[xd, 2])
        res[0] = r
        res[1] = g
        res[2] = b

    @numba.njit(cache=True, nogil=True)
    def _compose(canvas, img0, img1, t, out, accumulate, hole):  # pragma: no cover - compiled
        """Composite the layers into ``out`` (or add them to it) and zero ``canvas`` for the next frame."""
        h, w = img0.shape[0], img0.shape[1]
        nl = canvas.shape[0]
        r0 = hole // 2
        n_holes = 0
        smp = np.empty(3)
        for y in range(h):
            for x in range(w):
                total = 0.0
                for k in range(nl):
                    total += canvas[k, y, x, 0]
                if total < HOLE:
                    n_holes += 1
                    # normalised convolution over the hole x hole neighbourhood
                    sw = 0.0
                    s0 = 0.0
                    s1 = 0.0
                    s2 = 0.0
                    for yy in range(max(0, y - r0), min(h, y + r0 + 1)):
                        for xx in range(max(0, x - r0), min(w, x + r0 + 1)):
                            for k in range(nl):
                                sw += canvas[k, yy, xx, 0]
                                s0 += canvas[k, yy, xx, 1]
                                s1 += canvas[k, yy, xx, 2]
                                s2 += canvas[k, yy, xx, 3]
                    if sw > HOLE:
                        c0 = s0 / sw
                        c1 = s1 / sw
                        c2 = s2 / sw
                    else:
                        c0 = (1.0 - t) * img0[y, x, 0] + t * img1[y, x, 0]
                        c1 = (1.0 - t) * img0[y, x, 1] + t * img1[y, x, 1]
                        c2 = (1.0 - t) * img0[y, x, 2] + t * img1[y, x, 2]
                else:
                    # back to front: each present layer over what is behind it
                    c0 = 0.0
                    c1 = 0.0
                    c2 = 0.0
                    seen = False
                    for k in range(nl - 1, -1, -1):
                        cv = canvas[k, y, x]
                        d = float(cv[0])
                        if d <= EPS:
                            continue
                        coherent = True
                        m0 = 0.0
                        m1 = 0.0
                        m2 = 0.0
                        for s in range(2):
                            o = 4 + 4 * s
                            ws = float(cv[o])
                            if ws <= EPS:
                                continue
                            mx = cv[o + 1] / ws
                            my = cv[o + 2] / ws
                            if cv[o + 3] / ws - mx * mx - my * my > COHERENT:
                                coherent = False
                                break
                            if s == 0:
                                _cubic(img0, x + mx, y + my, smp)
                            else:
                                _cubic(img1, x + mx, y + my, smp)
                            m0 += ws * smp[0]
                            m1 += ws * smp[1]
                            m2 += ws * smp[2]
                        if coherent:
                            r = m0 / d
                            g = m1 / d
                            b = m2 / d
                        else:
                            r = cv[1] / d
                            g = cv[2] / d
                            b = cv[3] / d
                        cover = min(d, 1.0) if seen else 1.0
                        keep = 1.0 - cover
                        c0 = cover * r + keep * c0
                        c1 = cover * g + keep * c1
                        c2 = cover * b + keep * c2
                        seen = True
                if accumulate:
                    out[y, x, 0] += c0
                    out[y, x, 1] += c1
                    out[y, x, 2] += c2
                else:
                    out[y, x, 0] = c0
                    out[y, x, 1] = c1
                    out[y, x, 2] = c2
            # rows above y - r0 are read by no later hole: clear them for the next frame
            done = y - r0 - 1
            if done >= 0:
                canvas[:, done] = 0.0
        for y in range(max(0, h - r0 - 1), h):
            canvas[:, y] = 0.0
        return n_holes


def splat_frame_numba(img0, img1, flow01, flow10, layer0, layer1, t: float, hole: int = 5, *,
                      accel0: np.ndarray | None = None, accel1: np.ndarray | None = None,
                      out: np.ndarray | None = None, accumulate: bool = False,
                      canvas: np.ndarray | None = None) -> np.ndarray:
    """Frame at time ``t`` (compiled). With ``accumulate`` it is added into ``out``.

    canvas: an optional ``(N_LAYERS, H, W, N_CH)`` float32 scratch buffer of zeros to
    reuse (the call leaves it zeroed again).
    """
    h, w = img0.shape[:2]
    if canvas is None:
        canvas = np.zeros((N_LAYERS, h, w, N_CH), np.float32)
    if out is None:
        out = np.zeros((h, w, 3), np.float32)
        accumulate = False
    curve = np.float32(curve_weight(t))
    a0 = accel0 if accel0 is not None else np.zeros_like(flow01)
    a1 = accel1 if accel1 is not None else np.zeros_like(flow10)
    _splat_side(img0, flow01, a0, curve, layer0, np.float32(t), np.float32(1.0 - t), 0, canvas)
    _splat_side(img1, flow10, a1, curve, layer1, np.float32(1.0 - t), np.float32(t), 1, canvas)
    _compose(canvas, img0, img1, float(t), out, accumulate, int(hole))
    return out
