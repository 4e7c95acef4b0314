"""The compiled splat (blurgen.synth._splat_numba) against the numpy reference, path by path.

Tolerance: the compiled frames use float32 canvas sums, read positions and bicubic
arithmetic where the reference uses float64; positions then differ by about 1e-5 px and
weights by about 1e-6 relative, which on these textures (at most about 60 grey levels per
pixel) moves a pixel by well under 1e-3 grey levels, and a front layer with weight at
least 1 - 1e-6 is drawn opaque (at most 2.6e-4 grey levels). TOL allows for both; a
wrong rule (a corner or layer dropped, a weight misplaced, a read one pixel off) moves
pixels by whole grey levels.
"""

from __future__ import annotations

import numpy as np
import pytest

from blurgen.synth import _splat
from blurgen.synth.interpolate import FlowGuidedInterpolator
from blurgen.synth.scene import consistency
from tests.synth.test_interpolate import grid, occlusion_scene, texture

pytestmark = pytest.mark.skipif(not _splat.HAVE_NUMBA, reason="numba is not installed: only the numpy reference exists")
TOL = 2e-3
TIMES = (0.1, 0.45, 0.8)


def layers(f01, f10):
    return FlowGuidedInterpolator()._layers(f01, f10, consistency(f01, f10), consistency(f10, f01))


def compare(a, b, f01, f10, accel0=None, accel1=None, times=TIMES):
    """Largest difference between the compiled and the reference frames at ``times``."""
    from blurgen.synth._splat_numba import SplatPair

    l0, l1 = layers(f01, f10)
    pair = SplatPair(a, b, f01, f10, l0, l1, accel0, accel1)
    worst = 0.0
    for t in times:
        ref = _splat.splat_frame_numpy(a, b, f01, f10, l0, l1, t, accel0=accel0, accel1=accel1)
        worst = max(worst, float(np.abs(pair.frame(t) - ref).max()))
    assert not pair.canvas.any() and not pair.mask.any() and not pair.span.any(), "the canvas is left clear"
    return worst, pair


def holes_of_reference(a, b, f01, f10, t):
    """Pixels no splat reaches at time t, by the reference's own sums."""
    h, w = a.shape[:2]
    l0, l1 = layers(f01, f10)
    sx, sy, px, py, side_w = _splat._paths(f01, f10, t, None, None)
    layer = np.concatenate([l0.ravel(), l1.ravel()]).astype(np.int64)
    acc, _ = _splat._splat_sums(a, b, sx, sy, px, py, side_w, layer, h, w)
    return int((acc[..., 0].sum(0) < _splat.HOLE).sum())


def test_occlusions_every_layer_and_curved_paths():
    a, b, f01, f10 = occlusion_scene()
    rng = np.random.default_rng(3)
    a0 = rng.normal(0, 0.4, f01.shape).astype(np.float32)
    a1 = rng.normal(0, 0.4, f01.shape).astype(np.float32)
    assert set(np.unique(layers(f01, f10)[0])) == {0, 1, 2}
    worst, _ = compare(a, b, f01, f10, a0, a1)
    assert worst < TOL


def test_long_runs_in_a_ring_shorter_than_the_frame():
    """A tall translating texture: whole rows land with one offset (the vectorised runs),
    sources near the edges land partly off the frame, and the canvas ring holds a few
    rows; the frames do not depend on the ring's size, to the bit."""
    from blurgen.synth._splat_numba import SplatPair

    h, w, d = 120, 64, (5.3, 3.7)
    gx, gy = grid(h, w)
    a, b = texture(gx, gy), texture(gx - d[0], gy - d[1])
    f01 = np.zeros((h, w, 2), np.float32)
    f01[...] = d
    worst, pair = compare(a, b, f01, -f01)
    assert worst < TOL
    assert pair.mask.shape[0] < h / 4
    full = SplatPair(a, b, f01, -f01, *layers(f01, -f01))
    full.canvas = np.zeros((*full.canvas.shape[:2], h, w), np.float32)
    full.mask = np.zeros((h, w), np.uint8)
    full.span = np.zeros((full.span.shape[0], h, 2), np.int64)
    for t in TIMES:
        assert np.array_equal(full.frame(t), pair.frame(t)), t


def test_short_runs_and_holes():
    """A strongly stretching, noisy flow: the landing offset changes from one source to
    the next (no runs: every source splatted one by one, many partly off the frame) and
    the stretch leaves holes, filled from their neighbourhood or by the cross-fade."""
    h, w = 40, 56
    gx, gy = grid(h, w)
    rng = np.random.default_rng(5)
    f01 = np.stack([2.5 * (gx - w / 2), 2.5 * (gy - h / 2)], -1).astype(np.float32)
    f01 += rng.uniform(-0.6, 0.6, f01.shape).astype(np.float32)
    f10 = -0.5 * f01
    a, b = texture(gx, gy), texture(gx + 3, gy - 1)
    assert holes_of_reference(a, b, f01, f10, 0.5) > 100
    worst, _ = compare(a, b, f01, f10, times=(0.2, 0.5, 0.8))
    assert worst < TOL


def test_rows_moved_bounds_every_corner():
    """The ring's bound: every source's top corner row at time t lies in [y + lo, y + hi]."""
    from blurgen.synth._splat_numba import SplatPair

    h, w = 30, 40
    rng = np.random.default_rng(7)
    f01 = rng.normal(0, 6, (h, w, 2)).astype(np.float32)
    acc = rng.normal(0, 3, (h, w, 2)).astype(np.float32)
    pair = SplatPair(np.zeros((h, w, 3), np.float32), np.zeros((h, w, 3), np.float32), f01, -f01,
                     np.ones((h, w), np.int8), np.ones((h, w), np.int8), acc, -acc)
    y = np.arange(h, dtype=np.float32)[:, None]
    for t in (0.0, 0.13, 0.5, 0.91, 1.0):
        lo, hi = pair.rows_moved(t)
        curve = np.float32(_splat.curve_weight(t))
        for step, f, a in ((np.float32(t), f01, acc), (np.float32(1 - t), -f01, -acc)):
            top = np.floor(y + step * f[..., 1] + curve * a[..., 1]) - y
            assert lo <= top.min() and top.max() <= hi, t


def test_bicubic_reads_along_runs_and_one_by_one_match_the_reference():
    from blurgen.synth._compose_numba import _cubic_at, cubic_row
    from blurgen.synth._splat_numba import _colour_planes

    import numba

    h, w = 24, 50
    img = np.random.default_rng(2).uniform(0, 255, (h, w, 3)).astype(np.float32)
    planes = _colour_planes(img)
    gx = np.arange(w, dtype=np.float32)
    # a run, then offsets that change every few pixels, positions on the frame's edges
    px = np.clip(gx + np.where(gx < 20, 2.3, 0.37 * gx - 4.1), 0, w - 1).astype(np.float32)
    py = np.clip(np.float32(7.6) + 0.2 * np.sin(gx), 0, h - 1).astype(np.float32)
    px[-1], py[-1] = 0.0, h - 1.0
    res = np.zeros((3, w), np.float32)
    cubic_row(planes, px, py, res, np.zeros((2, w), np.int64), np.zeros((8, w), np.float32))
    ref = _splat.cubic_sample(img, px.astype(np.float64), py.astype(np.float64))
    assert np.abs(res.T - ref).max() < 1e-3

    @numba.njit
    def one_by_one(planes, px, py, out):
        for i in range(px.shape[0]):
            out[i, 0], out[i, 1], out[i, 2] = _cubic_at(planes, np.float64(px[i]), np.float64(py[i]))

    out = np.zeros((w, 3))
    one_by_one(planes, px, py, out)
    assert np.abs(out - ref).max() < 1e-3
