"""Compositing a splatted canvas row into a frame, compiled (numba): the second half of
:mod:`blurgen.synth._splat_numba` (the rules are those of
:func:`blurgen.synth._splat.splat_frame_numpy`).

Per output row (:func:`_compose_row`): the pixels whose front layer is alone (or opaque),
coherent and not a hole (nearly all) get their read positions in both frames and their
blend weights in one vectorised loop per layer (:func:`_row_positions`); the bicubic
reads are done along runs of pixels whose positions have the same integer offset, where
the 4 x 4 taps of consecutive pixels are consecutive in memory (:func:`cubic_row`: a
vectorised loop, no gathers); one more loop blends them into the running sum. The other
pixels (several layers, outlines, holes) follow the reference's rules one by one
(:func:`_pixel`).

Layouts (shared with :mod:`blurgen.synth._splat_numba`): colour planes
``(3, H + 2 PAD, W + 2 PAD)`` float32, frame pixel ``(y, x)`` at ``[:, y + PAD, x + PAD]``,
edges replicated; the canvas is a ring of ``R`` rows, frame row ``y`` in slot ``y % R``:
``canvas`` ``(N_LAYERS, NCH, R, W)`` float32 with channels ``w0, w0 rx, w0 ry,
w0 (rx^2 + ry^2)`` (splats from frame 0; ``rx``, ``ry`` = source minus target pixel, px),
the same four from frame 1, then ``w r, w g, w b`` (both frames); ``mask`` ``(R, W)``
uint8, bit ``k`` = layer ``k`` was reached; ``span`` ``(N_LAYERS, R, 2)`` int64, the columns
``[first, last + 1)`` of a slot that hold a layer's splats (``(0, 0)``: none): only those
are read for the layer and cleared. The running sum of frames is ``(3, H, W)`` float32.
"""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np

from blurgen.synth._numba_cache import drop_stale
from blurgen.synth._splat import COHERENT, EPS, HOLE, N_LAYERS

# before any kernel of these modules loads from numba's cache: kernels compiled from other
# versions of the files they inline are dropped (see blurgen.synth._numba_cache)
drop_stale(Path(__file__).parent, ("_splat", "_compose_numba", "_splat_numba"))

PAD = 3  # border of the colour planes: bicubic taps of any position inside the frame stay inside
NCH = 11  # canvas channels
RGB = 8  # first colour channel of the canvas
# A front layer with at least this weight is drawn opaque: the reference lets 1 - d of the
# layers behind show through, here at most 1e-6 * 255 grey levels, below float32 rounding.
OPAQUE = 1.0 - 1e-6

jit = numba.njit(cache=True, nogil=True)
inline = numba.njit(cache=True, nogil=True, inline="always")
u = np.uintp  # unsigned indices: no negative-index wrap-around, so loops vectorise


# ----------------------------------------------------------------------------- bicubic reads
@inline
def _keys(f):  # pragma: no cover - compiled
    """Keys' cubic (a = -0.5) weights of the taps at -1, 0, 1, 2 for a fraction ``f`` in [0, 1)."""
    w0 = ((np.float32(-0.5) * f + np.float32(1.0)) * f - np.float32(0.5)) * f
    w1 = (np.float32(1.5) * f - np.float32(2.5)) * f * f + np.float32(1.0)
    w2 = ((np.float32(-1.5) * f + np.float32(2.0)) * f + np.float32(0.5)) * f
    w3 = (np.float32(0.5) * f - np.float32(0.5)) * f * f
    return w0, w1, w2, w3


@jit
def _read_weights(px, py, offsets, weights):  # pragma: no cover - compiled
    """For reads at ``(px[x], py[x])``: ``offsets`` ``(2, W)`` int64 = ``floor(px) - x``,
    ``floor(py)``; ``weights`` ``(8, W)`` float32 = Keys' weights of the 4 columns, then rows."""
    for x in range(px.shape[0]):
        fx = np.floor(px[x])
        fy = np.floor(py[x])
        offsets[0, x] = np.int64(fx) - x
        offsets[1, x] = np.int64(fy)
        weights[0, x], weights[1, x], weights[2, x], weights[3, x] = _keys(px[x] - fx)
        weights[4, x], weights[5, x], weights[6, x], weights[7, x] = _keys(py[x] - fy)


@jit
def _cubic_run(P, xa, xb, r0, q0, weights, res):  # pragma: no cover - compiled
    """Bicubic reads into ``res[:, x]`` for ``x`` in ``[xa, xb)`` whose 4 x 4 taps start at
    padded row ``r0`` and column ``x + q0`` of planes ``P``: consecutive pixels read
    consecutive taps (a vectorised loop, no gathers)."""
    one, two, three = u(1), u(2), u(3)
    wx0, wx1, wx2, wx3 = weights[0], weights[1], weights[2], weights[3]
    wy0, wy1, wy2, wy3 = weights[4], weights[5], weights[6], weights[7]
    for c in range(3):
        p0 = P[c, r0]
        p1 = P[c, r0 + one]
        p2 = P[c, r0 + two]
        p3 = P[c, r0 + three]
        rc = res[c]
        for i in range(u(xb - xa)):
            x = u(xa) + i
            q = x + q0
            a0 = wx0[x]
            a1 = wx1[x]
            a2 = wx2[x]
            a3 = wx3[x]
            h0 = a0 * p0[q] + a1 * p0[q + one] + a2 * p0[q + two] + a3 * p0[q + three]
            h1 = a0 * p1[q] + a1 * p1[q + one] + a2 * p1[q + two] + a3 * p1[q + three]
            h2 = a0 * p2[q] + a1 * p2[q + one] + a2 * p2[q + two] + a3 * p2[q + three]
            h3 = a0 * p3[q] + a1 * p3[q + one] + a2 * p3[q + two] + a3 * p3[q + three]
            rc[x] = wy0[x] * h0 + wy1[x] * h1 + wy2[x] * h2 + wy3[x] * h3


@jit
def cubic_row(P, px, py, res, offsets, weights):  # pragma: no cover - compiled
    """Bicubic reads of planes ``P`` at ``px``, ``py`` (``(W,)`` float32, inside the frame)
    into ``res`` ``(3, W)``, run by run of equal integer offsets; offsets ``(2, W)`` int64
    and weights ``(8, W)`` float32 are scratch rows."""
    w = px.shape[0]
    _read_weights(px, py, offsets, weights)
    ix = offsets[0]
    iy = offsets[1]
    x = w - w  # not a literal 0, which numba would compile callees for separately
    while x < w:
        e = x + 1
        while e < w and ix[e] == ix[x] and iy[e] == iy[x]:
            e += 1
        _cubic_run(P, x, e, u(iy[x] + (PAD - 1)), u(ix[x] + (PAD - 1)), weights, res)
        x = e


@inline
def _cubic_plane(p, r0, q, wx0, wx1, wx2, wx3, wy0, wy1, wy2, wy3):  # pragma: no cover - compiled
    """The 4 x 4 taps of plane ``p`` from row ``r0`` and column ``q`` (padded, unsigned)."""
    one, two, three = u(1), u(2), u(3)
    p0 = p[r0]
    p1 = p[r0 + one]
    p2 = p[r0 + two]
    p3 = p[r0 + three]
    h0 = wx0 * p0[q] + wx1 * p0[q + one] + wx2 * p0[q + two] + wx3 * p0[q + three]
    h1 = wx0 * p1[q] + wx1 * p1[q + one] + wx2 * p1[q + two] + wx3 * p1[q + three]
    h2 = wx0 * p2[q] + wx1 * p2[q + one] + wx2 * p2[q + two] + wx3 * p2[q + three]
    h3 = wx0 * p3[q] + wx1 * p3[q + one] + wx2 * p3[q + two] + wx3 * p3[q + three]
    return np.float64(wy0 * h0 + wy1 * h1 + wy2 * h2 + wy3 * h3)


@jit
def _cubic_at(P, x, y):  # pragma: no cover - compiled
    """One bicubic read of planes ``P`` at ``(x, y)`` (inside the frame): ``(r, g, b)``."""
    xi = np.floor(x)
    yi = np.floor(y)
    wx0, wx1, wx2, wx3 = _keys(np.float32(x - xi))
    wy0, wy1, wy2, wy3 = _keys(np.float32(y - yi))
    r0 = u(np.int64(yi) + (PAD - 1))
    q = u(np.int64(xi) + (PAD - 1))
    return (_cubic_plane(P[0], r0, q, wx0, wx1, wx2, wx3, wy0, wy1, wy2, wy3),
            _cubic_plane(P[1], r0, q, wx0, wx1, wx2, wx3, wy0, wy1, wy2, wy3),
            _cubic_plane(P[2], r0, q, wx0, wx1, wx2, wx3, wy0, wy1, wy2, wy3))


# ----------------------------------------------------------------------------- one row
@jit
def _row_positions(canvas, mask, k, y, slot, xa, xb, px0, py0, px1, py1, wa, wb, ta, tb):  # pragma: no cover - compiled
    """For the pixels of row ``y`` whose front layer ``k`` is not a hole and coherent: the
    read positions in both frames and the blend weights ``w_s / d``, in ``wa``, ``wb`` where
    the front is alone or opaque, else (a translucent front over other layers, composited
    by :func:`_over` one by one) in ``ta``, ``tb`` (other pixels are left as they are).
    Layer ``k`` holds splats in columns ``[xa, xb)`` only."""
    bit = np.uint8(1 << k)
    one = np.uint8(1)
    c0 = canvas[k, 0, slot]
    c1 = canvas[k, 1, slot]
    c2 = canvas[k, 2, slot]
    c3 = canvas[k, 3, slot]
    c4 = canvas[k, 4, slot]
    c5 = canvas[k, 5, slot]
    c6 = canvas[k, 6, slot]
    c7 = canvas[k, 7, slot]
    m = mask[slot]
    for i in range(u(xb - xa)):  # unsigned: no negative-index wrap-around, so the loop vectorises
        x = u(xa) + i
        a0 = np.float64(c0[x])
        a1 = np.float64(c4[x])
        d = a0 + a1
        has0 = a0 > EPS
        has1 = a1 > EPS
        i0 = 1.0 / (a0 if has0 else 1.0)
        i1 = 1.0 / (a1 if has1 else 1.0)
        mx0 = c1[x] * i0
        my0 = c2[x] * i0
        mx1 = c5[x] * i1
        my1 = c6[x] * i1
        coherent0 = (a0 <= EPS) | (c3[x] * i0 - mx0 * mx0 - my0 * my0 <= COHERENT)
        coherent1 = (a1 <= EPS) | (c7[x] * i1 - mx1 * mx1 - my1 * my1 <= COHERENT)
        front = (m[x] & (bit - one)) == 0  # no layer in front of k was reached
        read = front & (d >= HOLE) & coherent0 & coherent1
        ok = read & ((m[x] == bit) | (d >= OPAQUE))
        over = read & ~ok
        inv = 1.0 / (d if read else 1.0)
        v0 = np.float32(a0 * inv if has0 else 0.0)
        v1 = np.float32(a1 * inv if has1 else 0.0)
        px0[x] = np.float32(x + mx0) if read else px0[x]
        py0[x] = np.float32(y + my0) if read else py0[x]
        px1[x] = np.float32(x + mx1) if read else px1[x]
        py1[x] = np.float32(y + my1) if read else py1[x]
        wa[x] = v0 if ok else wa[x]
        wb[x] = v1 if ok else wb[x]
        ta[x] = v0 if over else ta[x]
        tb[x] = v1 if over else tb[x]


@jit
def _hole(canvas, mask, P0, P1, t, x, y, r0, h):  # pragma: no cover - compiled
    """A pixel no splat reached: the mean of the splats in its box, else the cross-fade."""
    ring, w = mask.shape
    sw = 0.0
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    for yy in range(max(0, y - r0), min(h, y + r0 + 1)):
        slot = yy % ring
        for xx in range(max(0, x - r0), min(w, x + r0 + 1)):
            mm = mask[slot, xx]
            for k in range(N_LAYERS):
                if mm & (1 << k):
                    sw += np.float64(canvas[k, 0, slot, xx]) + np.float64(canvas[k, 4, slot, xx])
                    s0 += canvas[k, RGB, slot, xx]
                    s1 += canvas[k, RGB + 1, slot, xx]
                    s2 += canvas[k, RGB + 2, slot, xx]
    if sw > HOLE:
        return s0 / sw, s1 / sw, s2 / sw
    v = 1.0 - t
    return (v * P0[0, y + PAD, x + PAD] + t * P1[0, y + PAD, x + PAD],
            v * P0[1, y + PAD, x + PAD] + t * P1[1, y + PAD, x + PAD],
            v * P0[2, y + PAD, x + PAD] + t * P1[2, y + PAD, x + PAD])


@jit
def _side_read(canvas, P, k, o, slot, x, y):  # pragma: no cover - compiled
    """Layer ``k``'s splats from one frame (channels from ``o``) at pixel ``(y, x)``:
    ``(coherent, w r, w g, w b)``, the weighted bicubic read at their mean source position
    (zeros where that frame did not reach the layer, or not coherent)."""
    ws = np.float64(canvas[k, o, slot, x])
    if ws <= EPS:
        return True, 0.0, 0.0, 0.0
    mx = canvas[k, o + 1, slot, x] / ws
    my = canvas[k, o + 2, slot, x] / ws
    if canvas[k, o + 3, slot, x] / ws - mx * mx - my * my > COHERENT:
        return False, 0.0, 0.0, 0.0
    r, g, b = _cubic_at(P, x + mx, y + my)
    return True, ws * r, ws * g, ws * b


@jit
def _pixel(canvas, mask, P0, P1, t, x, y, r0, h):  # pragma: no cover - compiled
    """The reference's rules at one pixel: a hole, or the layers back to front, each over
    what is behind it by its weight, read bicubically where coherent."""
    slot = y % mask.shape[0]
    m = mask[slot, x]
    total = 0.0
    for k in range(N_LAYERS):
        if m & (1 << k):
            total += np.float64(canvas[k, 0, slot, x]) + np.float64(canvas[k, 4, slot, x])
    if total < HOLE:
        return _hole(canvas, mask, P0, P1, t, x, y, r0, h)
    c0, c1, c2, _ = _layers(canvas, P0, P1, m, slot, x, y, 0)
    return c0, c1, c2


@jit
def _over(canvas, P0, P1, m, slot, x, y, f0, f1, f2):  # pragma: no cover - compiled
    """A translucent front layer of colour ``(f0, f1, f2)`` (its bicubic reads, blended)
    over the layers behind it, as :func:`_pixel` composites them."""
    front = 0
    while not m & (1 << front):
        front += 1
    c0, c1, c2, seen = _layers(canvas, P0, P1, m, slot, x, y, front + 1)
    d = np.float64(canvas[front, 0, slot, x]) + np.float64(canvas[front, 4, slot, x])
    cover = min(d, 1.0) if seen else 1.0
    return cover * f0 + (1.0 - cover) * c0, cover * f1 + (1.0 - cover) * c1, cover * f2 + (1.0 - cover) * c2


@jit
def _layers(canvas, P0, P1, m, slot, x, y, k_lo):  # pragma: no cover - compiled
    """Layers ``k_lo`` and behind at pixel ``(y, x)`` (reached: bits of ``m``), back to
    front, each over what is behind it by its weight: ``(r, g, b, any layer drawn)``."""
    c0 = 0.0
    c1 = 0.0
    c2 = 0.0
    seen = False
    for k in range(N_LAYERS - 1, k_lo - 1, -1):
        if not m & (1 << k):
            continue
        d = np.float64(canvas[k, 0, slot, x]) + np.float64(canvas[k, 4, slot, x])
        if d <= EPS:
            continue
        coherent = True
        m0 = 0.0
        m1 = 0.0
        m2 = 0.0
        for s in range(2):
            ok, r, g, b = _side_read(canvas, P0 if s == 0 else P1, k, 4 * s, slot, x, y)
            coherent = coherent and ok
            if not coherent:
                break
            m0 += r
            m1 += g
            m2 += b
        if not coherent:  # an outline: the splatted colour
            m0 = np.float64(canvas[k, RGB, slot, x])
            m1 = np.float64(canvas[k, RGB + 1, slot, x])
            m2 = np.float64(canvas[k, RGB + 2, slot, x])
        cover = min(d, 1.0) if seen else 1.0
        c0 = cover * (m0 / d) + (1.0 - cover) * c0
        c1 = cover * (m1 / d) + (1.0 - cover) * c1
        c2 = cover * (m2 / d) + (1.0 - cover) * c2
        seen = True
    return c0, c1, c2, seen


@jit
def compose_row(canvas, mask, span, P0, P1, t, y, acc, r0, pos, colour, offsets, weights):  # pragma: no cover
    """Add row ``y`` of the frame to ``acc`` ``(3, H, W)``. Scratch rows: pos ``(8, W)``
    (read positions x, y in frame 0 and in frame 1; blend weights of pixels done at once,
    then of translucent fronts), colour ``(2, 3, W)``, weights ``(8, W)`` float32, offsets
    ``(2, W)`` int64."""
    h = acc.shape[1]
    slot = y % mask.shape[0]
    px0, py0, px1, py1, wa, wb, ta, tb = pos[0], pos[1], pos[2], pos[3], pos[4], pos[5], pos[6], pos[7]
    yf = np.float32(y)
    for x in range(px0.shape[0]):  # harmless reads for the pixels done one by one; wa < 0 marks them
        px0[x] = np.float32(x)
        px1[x] = np.float32(x)
        py0[x] = yf
        py1[x] = yf
        wa[x] = np.float32(-1.0)
        wb[x] = np.float32(0.0)
        ta[x] = np.float32(-1.0)
    for k in range(N_LAYERS):
        if span[k, slot, 1] > 0:
            _row_positions(canvas, mask, k, y, slot, span[k, slot, 0], span[k, slot, 1], px0, py0, px1, py1, wa, wb,
                           ta, tb)
    C0, C1 = colour[0], colour[1]
    cubic_row(P0, px0, py0, C0, offsets, weights)
    cubic_row(P1, px1, py1, C1, offsets, weights)
    for x in range(px0.shape[0]):
        if wa[x] < 0.0:
            if ta[x] >= 0.0:  # a translucent front: its reads are done, the layers behind it here
                c0, c1, c2 = _over(canvas, P0, P1, mask[slot, x], slot, x, y,
                                   np.float64(ta[x] * C0[0, x] + tb[x] * C1[0, x]),
                                   np.float64(ta[x] * C0[1, x] + tb[x] * C1[1, x]),
                                   np.float64(ta[x] * C0[2, x] + tb[x] * C1[2, x]))
            else:
                c0, c1, c2 = _pixel(canvas, mask, P0, P1, t, x, y, r0, h)
            acc[0, y, x] += c0
            acc[1, y, x] += c1
            acc[2, y, x] += c2
            wa[x] = np.float32(0.0)
    for c in range(3):
        row = acc[c, y]
        u0 = C0[c]
        u1 = C1[c]
        for x in range(row.shape[0]):
            row[x] += wa[x] * u0[x] + wb[x] * u1[x]


@inline
def widen(span, k, slot, xa, xb):  # pragma: no cover - compiled
    """Layer ``k`` of ring slot ``slot`` now holds splats in columns ``[xa, xb)`` too
    (``span[k, slot]`` = ``(first, last + 1)``; ``(0, 0)``: none)."""
    if span[k, slot, 1] == 0:
        span[k, slot, 0] = xa
        span[k, slot, 1] = xb
    else:
        span[k, slot, 0] = min(span[k, slot, 0], xa)
        span[k, slot, 1] = max(span[k, slot, 1], xb)


@inline
def clear_slot(canvas, mask, span, slot):  # pragma: no cover - compiled
    """Zero one ring slot of the canvas (the columns each layer holds splats in) and its mask."""
    for k in range(N_LAYERS):
        xa, xb = span[k, slot, 0], span[k, slot, 1]
        if xb > 0:
            for c in range(NCH):
                row = canvas[k, c, slot]
                for i in range(u(max(xb - xa, 0))):
                    row[u(xa) + i] = 0.0
            span[k, slot, 0] = 0
            span[k, slot, 1] = 0
    mask[slot, :] = 0
