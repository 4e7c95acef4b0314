"""Interpolators and the paper's rule: exact scenes made of smooth analytic textures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from blurgen.synth import _splat
from blurgen.synth.blur import psnr, synthesize_blur
from blurgen.synth.interpolate import FlowGuidedInterpolator, LinearInterpolator, blur_times, frame_count, max_displacement
from blurgen.synth.scene import accelerations, consistency, flow_regions, occluders


def texture(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A smooth RGB texture defined everywhere: (..., 3) float32 in [0, 255]."""
    r = 128 + 60 * np.sin(0.21 * x + 0.4) + 40 * np.cos(0.17 * y)
    g = 128 + 50 * np.sin(0.13 * x - 0.29 * y) + 30 * np.sin(0.37 * y + 1.0)
    b = 128 + 70 * np.cos(0.09 * x + 0.11 * y) + 20 * np.sin(0.31 * x)
    return np.stack([r, g, b], -1).astype(np.float32)


def grid(h, w):
    return np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))


def translating(h=40, w=56, d=(6.3, -2.7)):
    """Frame 0, frame 1 and the exact flows of a texture translating by ``d`` px."""
    gx, gy = grid(h, w)
    i0 = texture(gx, gy)
    i1 = texture(gx - d[0], gy - d[1])
    f01 = np.zeros((h, w, 2), np.float32)
    f01[...] = d
    return i0, i1, f01, -f01, gx, gy


# ----------------------------------------------------------------------------- the rule
def test_rule_n_is_ceil_s_with_a_floor_of_five():
    assert frame_count(0.0) == 5
    assert frame_count(4.9) == 5
    assert frame_count(5.0) == 5
    assert frame_count(5.01) == 6
    assert frame_count(12.0) == 12
    assert frame_count(12.0 + 1e-9) == 12  # float noise on an integer s
    assert frame_count(99.2) == 100
    assert frame_count(3.0, min_n=1) == 3
    with pytest.raises(ValueError):
        frame_count(float("nan"))


@pytest.mark.parametrize("s", [0.5, 5.0, 7.3, 42.0, 99.9, 100.0])
def test_rule_keeps_consecutive_frames_within_one_pixel(s):
    n = frame_count(s)
    t = blur_times(n)
    assert len(t) == n + 2 and t[0] == 0.0 and t[-1] == 1.0
    assert np.allclose(np.diff(t), 1.0 / (n + 1))
    assert s * np.diff(t).max() < 1.0


def test_s_is_the_largest_l2_length():
    f = np.zeros((4, 5, 2), np.float32)
    f[1, 2] = (3.0, 4.0)  # length 5
    f[3, 0] = (-4.5, 0.0)
    assert max_displacement(f) == pytest.approx(5.0)


# ----------------------------------------------------------------------------- linear
def test_linear_frames_and_sum():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 255, (6, 7, 3)).astype(np.float32)
    b = rng.uniform(0, 255, (6, 7, 3)).astype(np.float32)
    lin = LinearInterpolator()
    fr = list(lin.frames(a, b, times=[0.0, 0.25, 1.0]))
    assert np.allclose(fr[0], a) and np.allclose(fr[2], b)
    assert np.allclose(fr[1], 0.75 * a + 0.25 * b, atol=1e-4)
    ts = [0.1, 0.5, 0.7]
    assert np.allclose(lin.sum_frames(a, b, times=ts), sum(lin.frames(a, b, times=ts)), atol=1e-3)


def test_linear_blur_is_the_two_frame_mean():
    """The cross-fade at times symmetric about 1/2 averages to (I0 + I1) / 2 exactly."""
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 255, (5, 6, 3)).astype(np.float32)
    b = rng.uniform(0, 255, (5, 6, 3)).astype(np.float32)
    blur = synthesize_blur(LinearInterpolator(), a, b, None, None, 9)
    assert np.allclose(blur, (a + b) / 2, atol=1e-3)


# ----------------------------------------------------------------------------- flow-guided
@pytest.mark.parametrize("method", ["splat", "slomo"])
def test_zero_flow_is_the_cross_fade(method):
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 255, (12, 15, 3)).astype(np.float32)
    b = rng.uniform(0, 255, (12, 15, 3)).astype(np.float32)
    z = np.zeros((12, 15, 2), np.float32)
    fg = FlowGuidedInterpolator(method)
    for t, fr in zip([0.2, 0.5, 0.9], fg.frames(a, b, z, z, [0.2, 0.5, 0.9])):
        assert np.allclose(fr, (1 - t) * a + t * b, atol=1e-3), t


@pytest.mark.parametrize("compiled", [True, False])
def test_splat_follows_a_translation(compiled):
    """Frame t of a translating texture matches the texture moved by t d (interior), and
    is far closer than the cross-fade."""
    d = (6.3, -2.7)
    i0, i1, f01, f10, gx, gy = translating(d=d)
    fg = FlowGuidedInterpolator("splat", compiled=compiled)
    inner = (slice(6, -6), slice(10, -10))
    for t, fr in zip([0.3, 0.5, 0.85], fg.frames(i0, i1, f01, f10, [0.3, 0.5, 0.85])):
        truth = texture(gx - t * d[0], gy - t * d[1])
        fade = (1 - t) * i0 + t * i1
        good = psnr(fr[inner], truth[inner])
        assert good > 45, (t, good)
        assert good > psnr(fade[inner], truth[inner]) + 15


def test_compiled_and_reference_splat_agree():
    """The numba kernels and the numpy reference make the same frames, occlusions included."""
    if not _splat.HAVE_NUMBA:
        pytest.skip("numba is not installed: only the numpy reference exists")
    from blurgen.synth import _splat_numba

    a, b, f01, f10 = occlusion_scene()
    rng = np.random.default_rng(3)
    a0 = rng.normal(0, 0.4, f01.shape).astype(np.float32)
    a1 = rng.normal(0, 0.4, f01.shape).astype(np.float32)
    fg = FlowGuidedInterpolator()
    l0, l1 = fg._layers(f01, f10, consistency(f01, f10), consistency(f10, f01))
    assert set(np.unique(l0)) == {0, 1, 2}  # the scene exercises every layer
    for t in (0.1, 0.5, 0.8):
        x = _splat_numba.splat_frame_numba(a, b, f01, f10, l0, l1, t, accel0=a0, accel1=a1)
        y = _splat.splat_frame_numpy(a, b, f01, f10, l0, l1, t, accel0=a0, accel1=a1)
        assert np.abs(x - y).max() < 0.05, t


def occlusion_scene(h=36, w=48, size=8, start=6, move=20):
    """A flat-coloured square moving right by ``move`` px (more than its size) over a
    static textured background: the background under its path is seen at both ends."""
    gx, gy = grid(h, w)
    bg = texture(gx, gy)
    col = np.array([250.0, 20.0, 30.0], np.float32)
    y0 = (h - size) // 2

    def frame(x0):
        img = bg.copy()
        img[y0:y0 + size, x0:x0 + size] = col
        return img

    a, b = frame(start), frame(start + move)
    f01 = np.zeros((h, w, 2), np.float32)
    f01[y0:y0 + size, start:start + size, 0] = move
    f10 = np.zeros((h, w, 2), np.float32)
    f10[y0:y0 + size, start + move:start + move + size, 0] = -move
    return a, b, f01, f10


def test_occluder_stays_in_front_of_background_seen_at_both_ends():
    a, b, f01, f10 = occlusion_scene()
    h, w = a.shape[:2]
    size, start, move = 8, 6, 20
    y0 = (h - size) // 2
    t = 0.5
    x_mid = start + int(move * t)
    fr = next(FlowGuidedInterpolator().frames(a, b, f01, f10, [t]))
    inside = fr[y0 + 1:y0 + size - 1, x_mid + 1:x_mid + size - 1]
    assert np.abs(inside - np.array([250.0, 20.0, 30.0])).max() < 2.0
    # where the square was and will be, the background shows again
    gx, gy = grid(h, w)
    bg = texture(gx, gy)
    for x in (start + 1, start + move + size - 2):
        assert np.abs(fr[y0 + 2:y0 + size - 2, x] - bg[y0 + 2:y0 + size - 2, x]).max() < 3.0


def test_occluders_and_consistency_find_the_square():
    a, b, f01, f10 = occlusion_scene()
    c0, c1 = consistency(f01, f10), consistency(f10, f01)
    h = a.shape[0]
    y0 = (h - 8) // 2
    # background the square covers at the end is hidden in frame 1; uncovered one in frame 0
    assert c0[y0 + 3, 6 + 20 + 3] < 0.5 and c1[y0 + 3, 6 + 3] < 0.5
    assert c0[y0 + 3, 6 + 3] > 0.5 and c0[2, 2] > 0.5
    front0, front1 = occluders(f01, f10, c0 >= 0.5, c1 >= 0.5)
    assert front0[y0:y0 + 8, 6:14].all() and front1[y0:y0 + 8, 26:34].all()
    assert not front0[:y0 - 1].any() and not front1[:y0 - 1].any()


def test_flow_regions_split_at_flow_discontinuities():
    f = np.zeros((20, 30, 2), np.float32)
    f[5:15, 8:20] = (7.0, 1.0)
    f[..., 0] += np.linspace(0, 0.5, 30, dtype=np.float32)  # smooth variation joins
    lab = flow_regions(f)
    assert lab[10, 12] != lab[2, 2]
    assert len(np.unique(lab[6:14, 9:19])) == 1
    assert len(np.unique(lab[0:4])) == 1


def test_parabolic_paths_follow_an_accelerating_texture():
    """x(t) = v t + a t^2 / 2: with the neighbour flows the frames at t follow the curve."""
    h, w, v, acc = 32, 64, 8.0, 4.0
    gx, gy = grid(h, w)

    def pos(t):  # displacement at time t (frames), along x
        return v * t + 0.5 * acc * t * t

    i0, i1 = texture(gx, gy), texture(gx - pos(1.0), gy)
    flow = lambda d: np.stack([np.full((h, w), d, np.float32), np.zeros((h, w), np.float32)], -1)
    f01, f10 = flow(pos(1.0)), flow(-pos(1.0))
    f0m, f12 = flow(pos(-1.0)), flow(pos(2.0) - pos(1.0))
    a0, a1 = accelerations(f01, f0m, f10, f12)
    assert np.allclose(a0[..., 0], acc) and np.allclose(a1[..., 0], acc)
    fg = FlowGuidedInterpolator()
    inner = (slice(4, -4), slice(14, -14))
    t = 0.5
    truth = texture(gx - pos(t), gy)
    bent = next(fg.frames(i0, i1, f01, f10, [t], accel0=a0, accel1=a1))
    straight = next(fg.frames(i0, i1, f01, f10, [t]))
    assert psnr(bent[inner], truth[inner]) > 45
    assert psnr(bent[inner], truth[inner]) > psnr(straight[inner], truth[inner]) + 10


def test_blur_of_a_translation_matches_the_continuous_blur():
    """The rule's average of splatted frames is close to the continuous-time blur; the
    two-frame mean is not."""
    d = (9.0, 3.0)
    i0, i1, f01, f10, gx, gy = translating(h=36, w=60, d=d)
    s = max_displacement(f01)
    n = frame_count(s)
    m = 400  # fine time sampling of the true blur
    truth = np.mean([texture(gx - (k + 0.5) / m * d[0], gy - (k + 0.5) / m * d[1]) for k in range(m)], 0)
    blur = synthesize_blur(FlowGuidedInterpolator(), i0, i1, f01, f10, n)
    inner = (slice(6, -6), slice(12, -12))
    mean2 = (i0 + i1) / 2
    assert psnr(blur[inner], truth[inner]) > 40
    assert psnr(blur[inner], truth[inner]) > psnr(mean2[inner], truth[inner]) + 10


def test_sum_frames_equals_the_sum_of_frames():
    a, b, f01, f10 = occlusion_scene()
    fg = FlowGuidedInterpolator()
    ts = [0.2, 0.4, 0.6]
    total = fg.sum_frames(a, b, f01, f10, ts)
    assert np.allclose(total, sum(fg.frames(a, b, f01, f10, ts)), atol=1e-2)


def test_bad_shapes_are_refused():
    fg = FlowGuidedInterpolator()
    a = np.zeros((8, 9, 3), np.float32)
    with pytest.raises(ValueError, match="flow"):
        list(fg.frames(a, a, np.zeros((8, 8, 2), np.float32), np.zeros((8, 9, 2), np.float32), [0.5]))
    with pytest.raises(ValueError, match="method"):
        FlowGuidedInterpolator("warp")
    assert math.isfinite(psnr(a, a + 1))
