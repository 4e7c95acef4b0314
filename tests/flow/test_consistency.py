import numpy as np
import pytest

from blurgen.flow import compose_flows, fb_consistency, flow_at_targets, sample_bilinear


def affine_field(h, w, a, b, c):
    """Field (H, W, 2) with value a*x + b*y + c per channel (c: 2 values)."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([a[0] * xs + b[0] * ys + c[0], a[1] * xs + b[1] * ys + c[1]], axis=-1)


def test_bilinear_is_exact_on_affine_fields():
    field = affine_field(20, 30, (0.5, -1.0), (2.0, 0.25), (3.0, -7.0))
    x = np.array([[0.0, 3.25, 28.9]], np.float32)
    y = np.array([[0.0, 7.5, 18.01]], np.float32)
    got = sample_bilinear(field, x, y)
    want = np.stack([0.5 * x + 2.0 * y + 3.0, -1.0 * x + 0.25 * y - 7.0], axis=-1)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
    # integer coordinates give the stored values; the last row/column included
    np.testing.assert_array_equal(sample_bilinear(field, np.array([29.0]), np.array([19.0]))[0], field[19, 29])


def test_bilinear_clamps_outside_points_to_the_border():
    field = affine_field(10, 10, (1.0, 0.0), (0.0, 1.0), (0.0, 0.0))  # value = (x, y)
    got = sample_bilinear(field, np.array([-5.0, 14.0]), np.array([3.0, 40.0]))
    np.testing.assert_allclose(got, [[0.0, 3.0], [9.0, 9.0]])


def test_compose_translations_adds_them():
    steps = [np.full((12, 16, 2), (1.5, -0.5), np.float32) for _ in range(6)]
    np.testing.assert_allclose(compose_flows(steps), np.full((12, 16, 2), (9.0, -3.0)), atol=1e-5)


def test_compose_translation_then_zoom_is_exact():
    """Step 1 moves by t, step 2 zooms p -> c + s(p - c): together p -> c + s(p + t - c).

    These maps do not commute, so composing in the wrong order fails."""
    h, w, c, s, t = 41, 41, 20.0, 0.8, (3.0, -2.0)
    shift = np.full((h, w, 2), t, np.float32)
    zoom = affine_field(h, w, (s - 1, 0.0), (0.0, s - 1), ((1 - s) * c, (1 - s) * c))
    want = affine_field(h, w, (s - 1, 0.0), (0.0, s - 1), ((1 - s) * c + s * t[0], (1 - s) * c + s * t[1]))
    got = compose_flows([shift, zoom])
    # pixels whose first leg stays inside the frame (no border clamping)
    np.testing.assert_allclose(got[2:-3, :-3], want[2:-3, :-3], atol=1e-4)
    assert np.abs(compose_flows([zoom, shift])[2:-3, :-3] - want[2:-3, :-3]).max() > 0.5


def test_flow_at_targets_reads_the_second_flow_at_p_plus_f():
    h, w = 8, 10
    f = np.zeros((h, w, 2), np.float32)
    f[..., 0] = 2.0  # every pixel moves 2 right
    g = affine_field(h, w, (1.0, 0.0), (0.0, 0.0), (0.0, 5.0))  # g = (x, 5)
    np.testing.assert_allclose(flow_at_targets(g, f)[3, 4], (6.0, 5.0))


def test_fb_consistency_marks_consistent_inverse_flows():
    h, w = 20, 30
    fwd = np.full((h, w, 2), (3.0, 1.0), np.float32)
    bwd = -fwd
    valid = fb_consistency(fwd, bwd)
    assert valid.dtype == np.uint8 and valid.shape == (h, w)
    # targets p + (3, 1) leave the frame in the last 3 columns and the last row
    assert valid[:-1, :-3].all()
    assert not valid[-1].any() and not valid[:, -3:].any()


def test_fb_consistency_rejects_disagreeing_regions_and_nan():
    h, w = 20, 30
    fwd = np.full((h, w, 2), (2.0, 0.0), np.float32)
    bwd = -fwd.copy()
    bwd[5:10, 10:15] = (4.0, 4.0)  # an "occluder" in the last frame
    fwd[15, 3] = np.nan
    valid = fb_consistency(fwd, bwd)
    assert not valid[5:10, 8:13].any()  # pixels whose target p + 2 falls in the occluder
    assert valid[12, 10] == 1 and valid[2, 2] == 1
    assert valid[15, 3] == 0


def test_fb_consistency_tolerance_grows_with_motion():
    """alpha * (|f|^2 + |b|^2) + beta: a 1 px mismatch passes at 20 px motion, not at 0."""
    small = fb_consistency(np.zeros((9, 9, 2), np.float32), np.full((9, 9, 2), (1.0, 0.0), np.float32))
    assert not small.any()
    fwd = np.full((60, 60, 2), (20.0, 0.0), np.float32)
    bwd = np.full((60, 60, 2), (-19.0, 0.0), np.float32)
    assert fb_consistency(fwd, bwd)[:, :39].all()
    assert not fb_consistency(fwd, bwd, alpha=0.0).any()


def test_fb_consistency_shape_check():
    with pytest.raises(ValueError, match="both be"):
        fb_consistency(np.zeros((4, 4, 2)), np.zeros((4, 5, 2)))
