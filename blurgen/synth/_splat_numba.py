"""Forward splatting of two frames to time t, compiled (numba): the frames of
:func:`blurgen.synth._splat.splat_frame_numpy` (the readable reference, where the rules
are stated), made so that most of the work runs in loops the compiler vectorises.

Work that does not depend on ``t`` is done once per pair (:class:`SplatPair`): the two
frames as colour planes with a replicated border, the paths (flow and acceleration of
every source pixel) as planes, the bounds of the paths' vertical extent, and the canvas.
Per frame (:func:`_frame`), source rows are splatted in order and each output row is
composited (:func:`blurgen.synth._compose_numba.compose_row`) as soon as no later source
row can land on it or on the rows its holes read; then its canvas row is cleared. So the
canvas is a ring of a few rows more than the frame's vertical motion (all of them when
the motion is as tall as the frame), which stays in the processor's cache.

Splatting one source row of one frame (:func:`_splat_row`): the landing positions and
the four bilinear weights of the row in one vectorised loop; then the row is cut into runs
of consecutive source pixels that land with the same integer offset in the same layer. A
run's corners fall on two target rows, where target pixel ``X`` gets the left corner of
source ``X - ix`` and the right corner of its left neighbour, and the offsets from source
to target (``rx``, ``ry``: integers) are the same for the whole run: one vectorised loop
per target row adds weights times constants (:func:`_run_row`). Sources in short runs or
with corners off the frame are splatted one by one (:func:`_splat_one`).

Layouts: see :mod:`blurgen.synth._compose_numba`. Arithmetic is float32 in the splat and
the bicubic reads, float64 for the coherence test and the pixels done one by one; there is
no fast-math, so vectorised and scalar code give the same bits, and the output does not
depend on the processor's vector width or on the ring's size.
"""

from __future__ import annotations

import math

import numpy as np

from blurgen.synth._compose_numba import NCH, PAD, RGB, clear_slot, compose_row, inline, jit, u, widen
from blurgen.synth._splat import N_LAYERS, curve_weight

MIN_RUN = 4  # sources in shorter runs are splatted one by one
MAX_SIDE = 65535  # the run keys pack offsets and rows in 16 bits each


class SplatPair:
    """A pair of frames ready to be splatted at any time ``t`` (the per-pair setup).

    img0, img1: ``(H, W, 3)`` float32; flow01, flow10: ``(H, W, 2)`` float32 px; layer0,
    layer1: ``(H, W)`` int8 in ``[0, N_LAYERS)``; accel0, accel1: optional ``(H, W, 2)``
    accelerations (``None`` = straight paths); hole: side of the hole-filling box (odd).
    """

    def __init__(self, img0, img1, flow01, flow10, layer0, layer1, accel0=None, accel1=None, hole: int = 5):
        h, w = np.shape(img0)[:2]
        if max(h, w) > MAX_SIDE:
            raise ValueError(f"frames up to {MAX_SIDE} px a side, got {w}x{h}")
        self.shape = (h, w)
        self.hole = int(hole)
        self.planes = (_colour_planes(img0), _colour_planes(img1))
        self.paths = (_path_planes(flow01, accel0), _path_planes(flow10, accel1))
        # per frame: range of fy and ay (pixels) bounding how far rows move vertically
        self.ranges = tuple((float(p[1].min()), float(p[1].max()), float(p[3].min()), float(p[3].max()))
                            for p in self.paths)
        self.layers = (np.ascontiguousarray(layer0, np.int8), np.ascontiguousarray(layer1, np.int8))
        self.canvas = np.zeros((N_LAYERS, NCH, 0, w), np.float32)
        self.mask = np.zeros((0, w), np.uint8)
        self.span = np.zeros((N_LAYERS, 0, 2), np.int64)

    def rows_moved(self, t: float) -> tuple[int, int]:
        """``(lo, hi)``: at time t every source pixel's top corner row lies in ``[y + lo, y + hi]``."""
        curve = curve_weight(t)
        ends = [step * f + curve * a for step, (f_lo, f_hi, a_lo, a_hi) in zip((t, 1.0 - t), self.ranges)
                for f in (f_lo, f_hi) for a in (a_lo, a_hi)]
        return math.floor(min(ends) - 0.01), math.floor(max(ends) + 0.01)  # margins for float32 rounding

    def add(self, t: float, acc: np.ndarray) -> None:
        """Add the frame at time ``t`` to ``acc`` ``(3, H, W)`` float32."""
        h, w = self.shape
        lo, hi = self.rows_moved(t)
        ring = min(h, hi - lo + 2 * (self.hole // 2) + 3)
        if self.mask.shape[0] < ring:  # cleared rows are all zero, so a new ring is allocated only to grow
            self.canvas = np.zeros((N_LAYERS, NCH, ring, w), np.float32)
            self.mask = np.zeros((ring, w), np.uint8)
            self.span = np.zeros((N_LAYERS, ring, 2), np.int64)
        _frame(self.planes[0], self.planes[1], self.paths[0], self.paths[1], self.layers[0], self.layers[1],
               float(t), np.float32(curve_weight(t)), lo, self.canvas, self.mask, self.span, acc, self.hole)

    def frame(self, t: float) -> np.ndarray:
        """The frame at time ``t``: ``(H, W, 3)`` float32."""
        acc = np.zeros((3, *self.shape), np.float32)
        self.add(t, acc)
        return np.ascontiguousarray(acc.transpose(1, 2, 0))

    def sum(self, times) -> np.ndarray:
        """The sum of the frames at ``times``: ``(H, W, 3)`` float32."""
        acc = np.zeros((3, *self.shape), np.float32)
        for t in times:
            self.add(float(t), acc)
        return np.ascontiguousarray(acc.transpose(1, 2, 0))


def _colour_planes(img: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` -> ``(3, H + 2 PAD, W + 2 PAD)`` float32, edges replicated (so reads
    need no clamping: a tap off the frame reads the nearest edge, as in the reference)."""
    a = np.asarray(img, np.float32)
    p = np.pad(a, ((PAD, PAD), (PAD, PAD), (0, 0)), mode="edge")
    return np.ascontiguousarray(p.transpose(2, 0, 1))


def _path_planes(flow: np.ndarray, accel: np.ndarray | None) -> np.ndarray:
    """``(4, H, W)`` float32: flow x, flow y, acceleration x, acceleration y."""
    f = np.asarray(flow, np.float32)
    a = np.zeros_like(f) if accel is None else np.asarray(accel, np.float32)
    return np.ascontiguousarray(np.stack([f[..., 0], f[..., 1], a[..., 0], a[..., 1]]))


def splat_frame_numba(img0, img1, flow01, flow10, layer0, layer1, t: float, hole: int = 5, *,
                      accel0: np.ndarray | None = None, accel1: np.ndarray | None = None) -> np.ndarray:
    """Frame at time ``t``: ``(H, W, 3)`` float32; the arguments of
    :func:`blurgen.synth._splat.splat_frame_numpy` (one frame: the per-pair setup is not reused)."""
    return SplatPair(img0, img1, flow01, flow10, layer0, layer1, accel0, accel1, hole).frame(t)


# ----------------------------------------------------------------------------- kernels
@jit
def _frame(P0, P1, paths0, paths1, layer0, layer1, t, curve, lo, canvas, mask, span, acc, hole):  # pragma: no cover
    """Add the frame at time ``t`` to ``acc``: source rows splatted in order, output rows
    composited and their ring slots cleared as soon as they are complete. ``lo``: the
    lowest row offset of any splat (:meth:`SplatPair.rows_moved`)."""
    h, w = layer0.shape
    ring = mask.shape[0]
    r0 = hole // 2
    ints = np.empty((3, w), np.int64)  # per source of a row: corner x, corner y, run key
    weights = np.empty((4, w), np.float32)  # corner weights: top left, top right, bottom left, bottom right
    inside = np.empty(w, np.bool_)
    pos = np.empty((8, w), np.float32)  # compose scratch rows
    colour = np.empty((2, 3, w), np.float32)
    offsets = np.empty((2, w), np.int64)
    read_weights = np.empty((8, w), np.float32)
    planes, paths, layers = (P0, P1), (paths0, paths1), (layer0, layer1)
    steps = (np.float32(t), np.float32(1.0 - t))
    weight = (np.float32(1.0 - t), np.float32(t))
    done = h - h  # output rows composited so far (not a literal 0: see _splat_row)
    for y in range(h):
        for side in range(2):
            _splat_row(planes[side], paths[side], layers[side][y], y, steps[side], curve, weight[side], side,
                       canvas, mask, span, ints, weights, inside)
        # later sources land on rows >= y + 1 + lo; a row's holes read r0 rows below it
        while done < h and done + r0 <= y + lo:
            compose_row(canvas, mask, span, P0, P1, t, done, acc, r0, pos, colour, offsets, read_weights)
            if done >= r0:
                clear_slot(canvas, mask, span, (done - r0) % ring)
            done += 1
    while done < h:
        compose_row(canvas, mask, span, P0, P1, t, done, acc, r0, pos, colour, offsets, read_weights)
        if done >= r0:
            clear_slot(canvas, mask, span, (done - r0) % ring)
        done += 1
    for y in range(max(0, h - r0), h):
        clear_slot(canvas, mask, span, y % ring)


@jit
def _splat_row(P, paths, lay, y, step, curve, weight, side, canvas, mask, span, ints, weights, inside):  # pragma: no cover
    """Splat source row ``y`` of one frame (colour planes ``P``, paths ``(4, H, W)``, layers
    ``lay``): pixel ``x`` lands at ``(x, y) + step * flow + curve * accel`` with ``weight``."""
    h, w = paths.shape[1], paths.shape[2]
    one = np.float32(1.0)
    lo = np.float32(-2.0)
    fx, fy, ax, ay = paths[0, y], paths[1, y], paths[2, y], paths[3, y]
    X0, Y0, key = ints[0], ints[1], ints[2]
    A0, B0, A1, B1 = weights[0], weights[1], weights[2], weights[3]
    yf = np.float32(y)
    for x in range(w):  # vectorised: positions, corners and weights of the row
        px = np.float32(x) + step * fx[x] + curve * ax[x]
        py = yf + step * fy[x] + curve * ay[x]
        ins = (px > -1.0) & (px < w) & (py > -1.0) & (py < h)
        px = min(max(px, lo), np.float32(w + 1))
        py = min(max(py, lo), np.float32(h + 1))
        xi = np.int64(px + np.float32(2.0)) - 2  # floor, as px >= -2
        yi = np.int64(py + np.float32(2.0)) - 2
        gx = px - np.float32(xi)
        gy = py - np.float32(yi)
        top = weight * (one - gy)
        bottom = weight * gy
        A0[x] = top * (one - gx)
        B0[x] = top * gx
        A1[x] = bottom * (one - gx)
        B1[x] = bottom * gx
        X0[x] = xi
        Y0[x] = yi
        inside[x] = ins
        full = ins & (xi >= 0) & (xi + 1 < w) & (yi >= 0) & (yi + 1 < h)  # all four corners on the canvas
        key[x] = ((xi - x + 65536) * 65536 + yi) * N_LAYERS + lay[x] if full else np.int64(-1)
    o = 4 * side
    x = w - w  # not a literal 0, which numba would compile callees for separately
    while x < w:
        k = lay[x]
        if key[x] < 0:
            if inside[x]:
                _splat_one(canvas, mask, span, P, k, o, y, x, X0[x], Y0[x], A0[x], B0[x], A1[x], B1[x], h)
            x += 1
            continue
        e = x + 1
        while e < w and key[e] == key[x]:
            e += 1
        if e - x < MIN_RUN:
            for s in range(x, e):
                _splat_one(canvas, mask, span, P, k, o, y, s, X0[s], Y0[s], A0[s], B0[s], A1[s], B1[s], h)
        else:
            for dy in range(2):
                Y = Y0[x] + dy
                slot = Y % mask.shape[0]
                widen(span, k, slot, X0[x], X0[e - 1] + 2)
                _run_row(canvas, mask, P, k, o, y, Y, slot, x, e, X0[x] - x, weights[2 * dy], weights[2 * dy + 1])
        x = e


@inline
def _splat_one(canvas, mask, span, P, k, o, y, x, x0, y0, A0, B0, A1, B1, h):  # pragma: no cover - compiled
    """Source ``(y, x)`` with top-left corner ``(y0, x0)`` and corner weights ``A0, B0`` (row
    ``y0``: left, right), ``A1, B1`` (row ``y0 + 1``); corners off the canvas are dropped."""
    ring, w = mask.shape
    bit = np.uint8(1 << k)
    r = P[0, y + PAD, x + PAD]
    g = P[1, y + PAD, x + PAD]
    b = P[2, y + PAD, x + PAD]
    for dy in range(2):
        Y = y0 + dy
        if Y < 0 or Y >= h:
            continue
        slot = Y % ring
        widen(span, k, slot, max(x0, 0), min(x0 + 2, w))
        ry = np.float32(y - Y)
        for dx in range(2):
            X = x0 + dx
            if X < 0 or X >= w:
                continue
            ww = (B1 if dx else A1) if dy else (B0 if dx else A0)
            _corner(canvas, mask, k, o, slot, X, ww, np.float32(x - X), ry, r, g, b, bit)


@inline
def _corner(canvas, mask, k, o, slot, X, w, rx, ry, r, g, b, bit):  # pragma: no cover - compiled
    """One corner of weight ``w`` at target ``X`` of ring slot ``slot`` (layer ``k``, the
    side's channels from ``o``): its moments (``rx``, ``ry``: source minus target) and its
    colour ``r, g, b``."""
    canvas[k, o, slot, X] += w
    canvas[k, o + 1, slot, X] += w * rx
    canvas[k, o + 2, slot, X] += w * ry
    canvas[k, o + 3, slot, X] += w * (rx * rx + ry * ry)
    canvas[k, RGB, slot, X] += w * r
    canvas[k, RGB + 1, slot, X] += w * g
    canvas[k, RGB + 2, slot, X] += w * b
    mask[slot, X] |= bit


@jit
def _run_row(canvas, mask, P, k, o, y, Y, slot, xa, xb, ix, A, B):  # pragma: no cover - compiled
    """Sources ``xa .. xb - 1`` of row ``y`` (layer ``k``, all landing at ``x + ix``) into
    target row ``Y`` (ring slot ``slot``): pixel ``X`` gets ``A[X - ix]`` (left corner of
    source ``X - ix``) and ``B[X - ix - 1]`` (right corner of the source before it)."""
    bit = np.uint8(1 << k)
    rxl = np.float32(-ix)  # source minus target, left corner
    rxr = np.float32(-ix - 1)  # right corner
    ry = np.float32(y - Y)
    ql = rxl * rxl + ry * ry
    qr = rxr * rxr + ry * ry
    c0 = canvas[k, o, slot]
    c1 = canvas[k, o + 1, slot]
    c2 = canvas[k, o + 2, slot]
    c3 = canvas[k, o + 3, slot]
    cr = canvas[k, RGB, slot]
    cg = canvas[k, RGB + 1, slot]
    cb = canvas[k, RGB + 2, slot]
    m = mask[slot]
    pr = P[0, y + PAD]
    pg = P[1, y + PAD]
    pb = P[2, y + PAD]
    # the first target has only the left corner of source xa
    _corner(canvas, mask, k, o, slot, xa + ix, A[xa], rxl, ry, pr[xa + PAD], pg[xa + PAD], pb[xa + PAD], bit)
    # the others have the left corner of source s and the right corner of source s - 1
    s0 = u(xa)
    t0 = u(xa + ix)
    one = u(1)
    for i in range(one, u(xb - xa)):
        s = s0 + i
        T = t0 + i
        wl = A[s]
        wr = B[s - one]
        ws = wl + wr
        c0[T] += ws
        c1[T] += wl * rxl + wr * rxr
        c2[T] += ws * ry
        c3[T] += wl * ql + wr * qr
        cr[T] += wl * pr[s + u(PAD)] + wr * pr[s + u(PAD - 1)]
        cg[T] += wl * pg[s + u(PAD)] + wr * pg[s + u(PAD - 1)]
        cb[T] += wl * pb[s + u(PAD)] + wr * pb[s + u(PAD - 1)]
        m[T] |= bit
    # the last target has only the right corner of source xb - 1
    s = xb - 1
    _corner(canvas, mask, k, o, slot, xb + ix, B[s], rxr, ry, pr[s + PAD], pg[s + PAD], pb[s + PAD], bit)
