"""Forward splatting of two frames to time t, in layers: compiled (numba) and reference (numpy).

Both functions make the same frame (up to float rounding); the numpy one is the
readable reference and the fallback when numba is missing, the numba one makes each
frame in about the time of two image warps and can add it straight into a running sum.

Inputs (all C-contiguous): ``img0``, ``img1`` ``(H, W, 3)`` float32; ``flow01``,
``flow10`` ``(H, W, 2)`` float32 pixels; ``layer0``, ``layer1`` ``(H, W)`` int8, the layer
of each source pixel (0 = occluder, 1 = seen in both frames, 2 = hidden in the other
frame; :data:`N_LAYERS` layers, drawn front to back). At time ``t`` frame 0's pixel ``p``
lands at ``p + t F01(p)`` with weight ``1 - t`` and frame 1's pixel ``q`` at
``q + (1 - t) F10(q)`` with weight ``t``, spread over the 4 nearest pixels (bilinear).
Layer k's colour at a pixel is its weighted mean, its coverage ``min(weight, 1)``; the
back-most layer present is opaque. A pixel no source reaches takes the weighted mean of
all splats in its ``hole x hole`` neighbourhood, else the cross-fade.
"""

from __future__ import annotations

import numpy as np

N_LAYERS = 3
EPS = 1e-6
HOLE = 1e-3

try:  # the compiled path; without numba the numpy reference is used
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is absent
    HAVE_NUMBA = False


# ----------------------------------------------------------------------------- numpy reference
def splat_frame_numpy(img0, img1, flow01, flow10, layer0, layer1, t: float, hole: int = 5) -> np.ndarray:
    """Frame at time ``t``: ``(H, W, 3)`` float32 (the readable reference implementation)."""
    import cv2
    import scipy.sparse as sparse

    h, w = img0.shape[:2]
    hw = h * w
    n_src = 2 * hw
    pad = 2  # positions are clipped to [-pad, size - 1 + pad]: outside corners land in the margin
    wp, hp = w + 2 * pad + 1, h + 2 * pad + 1
    canvas = hp * wp
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    layer = np.concatenate([layer0.ravel(), layer1.ravel()]).astype(np.float32)
    offset = layer * np.float32(canvas) + np.float32(pad * wp + pad)  # integers, exact in float32
    step = np.concatenate([np.full(hw, t, np.float32), np.full(hw, 1.0 - t, np.float32)])
    side_w = np.concatenate([np.full(hw, 1.0 - t, np.float32), np.full(hw, t, np.float32)])
    px = np.concatenate([gx.ravel(), gx.ravel()]) + step * np.concatenate([flow01[..., 0].ravel(), flow10[..., 0].ravel()])
    py = np.concatenate([gy.ravel(), gy.ravel()]) + step * np.concatenate([flow01[..., 1].ravel(), flow10[..., 1].ravel()])
    np.clip(px, -pad, w - 1 + pad, out=px)
    np.clip(py, -pad, h - 1 + pad, out=py)
    x0 = np.floor(px)
    y0 = np.floor(py)
    fx = px - x0
    fy = py - y0
    base = (y0 * np.float32(wp) + x0 + offset).astype(np.int32)
    # The splatting matrix: one column per source pixel, its 4 bilinear corners as rows.
    idx = np.stack([base, base + 1, base + wp, base + wp + 1], axis=1).ravel()
    bx = fx * side_w
    ax = side_w - bx
    wgt = np.stack([ax * (1 - fy), bx * (1 - fy), ax * fy, bx * fy], axis=1).ravel()
    indptr = np.arange(0, 4 * n_src + 1, 4, dtype=np.int32)
    m = sparse.csc_matrix((wgt, idx, indptr), shape=(N_LAYERS * canvas, n_src))
    values = np.concatenate([np.ones((n_src, 1), np.float32),
                             np.concatenate([img0.reshape(-1, 3), img1.reshape(-1, 3)])], axis=1)
    acc = np.ascontiguousarray((m @ values).T).reshape(4, N_LAYERS, hp, wp)[:, :, pad:pad + h, pad:pad + w]
    num, den = acc[1:], acc[0]  # (3, K, H, W), (K, H, W)

    eps = np.float32(EPS)
    present = den > eps
    behind = np.zeros_like(present)
    for k in range(N_LAYERS - 2, -1, -1):
        behind[k] = behind[k + 1] | present[k + 1]
    cover = np.where(behind, np.minimum(den, 1.0), 1.0) * present
    out = np.zeros((3, h, w), np.float32)
    remaining = np.ones((h, w), np.float32)
    for k in range(N_LAYERS):
        out += num[:, k] * (remaining * cover[k] / np.maximum(den[k], eps))
        remaining *= 1.0 - cover[k]
    out = out.transpose(1, 2, 0)
    total = den.sum(0)
    holes = total < HOLE
    if holes.any():
        num_all = np.ascontiguousarray(num.sum(1).transpose(1, 2, 0))
        num_b = cv2.boxFilter(num_all, -1, (hole, hole), normalize=False, borderType=cv2.BORDER_CONSTANT)
        den_b = cv2.boxFilter(np.ascontiguousarray(total), -1, (hole, hole), normalize=False,
                              borderType=cv2.BORDER_CONSTANT)
        filled = num_b / np.maximum(den_b, eps)[..., None]
        fade = (1.0 - t) * img0 + t * img1
        out = np.where(holes[..., None], np.where((den_b > HOLE)[..., None], filled, fade), out)
    return np.ascontiguousarray(out, dtype=np.float32)


# ----------------------------------------------------------------------------- numba kernels
if HAVE_NUMBA:

    @numba.njit(cache=True, nogil=True)
    def _splat_side(img, flow, layer, step, weight, canvas):  # pragma: no cover - compiled
        """Add ``weight * bilinear * [1, r, g, b]`` of every pixel of ``img`` at ``p + step * flow[p]``."""
        h, w = img.shape[0], img.shape[1]
        one = np.float32(1.0)
        for y in range(h):
            yf = np.float32(y)
            for x in range(w):
                px = np.float32(x) + step * flow[y, x, 0]
                py = yf + step * flow[y, x, 1]
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
                w00 = weight * (one - fx) * (one - fy)
                w10 = weight * fx * (one - fy)
                w01 = weight * (one - fx) * fy
                w11 = weight * fx * fy
                if y0 >= 0:
                    if x0 >= 0:
                        c = canvas[k, y0, x0]
                        c[0] += w00
                        c[1] += w00 * r
                        c[2] += w00 * g
                        c[3] += w00 * b
                    if x0 + 1 < w:
                        c = canvas[k, y0, x0 + 1]
                        c[0] += w10
                        c[1] += w10 * r
                        c[2] += w10 * g
                        c[3] += w10 * b
                if y0 + 1 < h:
                    if x0 >= 0:
                        c = canvas[k, y0 + 1, x0]
                        c[0] += w01
                        c[1] += w01 * r
                        c[2] += w01 * g
                        c[3] += w01 * b
                    if x0 + 1 < w:
                        c = canvas[k, y0 + 1, x0 + 1]
                        c[0] += w11
                        c[1] += w11 * r
                        c[2] += w11 * g
                        c[3] += w11 * b

    @numba.njit(cache=True, nogil=True)
    def _compose(canvas, img0, img1, t, out, accumulate, hole):  # pragma: no cover - compiled
        """Composite the layers into ``out`` (or add them to it) and zero ``canvas`` for the next frame."""
        h, w = img0.shape[0], img0.shape[1]
        nl = canvas.shape[0]
        r0 = hole // 2
        n_holes = 0
        for y in range(h):
            for x in range(w):
                total = np.float32(0.0)
                for k in range(nl):
                    total += canvas[k, y, x, 0]
                if total < HOLE:
                    n_holes += 1
                    # normalised convolution over the hole x hole neighbourhood
                    sw = np.float32(0.0)
                    s0 = np.float32(0.0)
                    s1 = np.float32(0.0)
                    s2 = np.float32(0.0)
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
                    c0 = np.float32(0.0)
                    c1 = np.float32(0.0)
                    c2 = np.float32(0.0)
                    seen = False
                    for k in range(nl - 1, -1, -1):
                        d = canvas[k, y, x, 0]
                        if d <= EPS:
                            continue
                        cover = min(d, np.float32(1.0)) if seen else np.float32(1.0)
                        s = cover / d
                        keep = np.float32(1.0) - cover
                        c0 = s * canvas[k, y, x, 1] + keep * c0
                        c1 = s * canvas[k, y, x, 2] + keep * c1
                        c2 = s * canvas[k, y, x, 3] + keep * c2
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
                      out: np.ndarray | None = None, accumulate: bool = False,
                      canvas: np.ndarray | None = None) -> np.ndarray:
    """Frame at time ``t`` (compiled). With ``accumulate`` it is added into ``out``.

    canvas: an optional ``(N_LAYERS, H, W, 4)`` float32 scratch buffer of zeros to reuse
    (the call leaves it zeroed again).
    """
    h, w = img0.shape[:2]
    if canvas is None:
        canvas = np.zeros((N_LAYERS, h, w, 4), np.float32)
    if out is None:
        out = np.zeros((h, w, 3), np.float32)
        accumulate = False
    _splat_side(img0, flow01, layer0, np.float32(t), np.float32(1.0 - t), canvas)
    _splat_side(img1, flow10, layer1, np.float32(1.0 - t), np.float32(t), canvas)
    _compose(canvas, img0, img1, np.float32(t), out, accumulate, int(hole))
    return out
