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


def _awkward_pair(rng, h, w, scale):
    """Flows with near-inverse regions, occluders, targets leaving the frame, NaN, +-inf and
    huge values in either flow: every branch of the mask."""
    fwd = rng.normal(0, scale, (h, w, 2)).astype(np.float32)
    bwd = (-fwd + rng.normal(0, 0.4, (h, w, 2))).astype(np.float32)
    bwd[h // 3:h // 2] = rng.normal(0, scale, bwd[h // 3:h // 2].shape)
    for arr in (fwd, bwd):
        for value in (np.nan, np.inf, -np.inf, 3e38):
            arr.flat[rng.integers(0, arr.size, max(1, arr.size // 200))] = value
    return fwd, bwd


@pytest.mark.parametrize("shape", [(97, 131), (1, 17), (17, 1), (1, 1), (2, 3)])
def test_compiled_mask_equals_the_numpy_reference(shape):
    """The compiled pass must give the reference's bytes: shards store the mask, and their
    digests must not depend on which implementation made it."""
    from blurgen.flow.consistency import fb_consistency_reference

    rng = np.random.default_rng(sum(shape))
    for scale in (0.3, 4.0, 40.0):
        fwd, bwd = _awkward_pair(rng, *shape, scale)
        for alpha, beta in ((0.01, 0.5), (0.05, 0.0), (0.0, 2.0)):
            for a, b in ((fwd, bwd), (bwd, fwd)):
                got = fb_consistency(a, b, alpha, beta)
                want = fb_consistency_reference(a, b, alpha, beta)
                assert got.dtype == np.uint8 and got.shape == shape
                np.testing.assert_array_equal(got, want)


def test_compiled_mask_on_estimated_flows(sintel_pair):
    """Real estimator output (DIS on a real Sintel pair): what shards hold."""
    from blurgen.flow import get_estimator
    from blurgen.flow.consistency import fb_consistency_reference

    first, last, _ = sintel_pair
    fwd, bwd = get_estimator("dis").estimate([first, last], [last, first])
    for a, b in ((fwd, bwd), (bwd, fwd)):
        np.testing.assert_array_equal(fb_consistency(a, b), fb_consistency_reference(a, b))


def test_compiled_sampling_equals_numpy_bit_for_bit():
    """The backward flow the compiled mask reads at ``p + f`` is ``flow_at_targets``'s, to
    the bit (float64 weights and sums, float32 result), wherever the target is inside."""
    from blurgen.flow._fb_kernel import backward_at_targets

    rng = np.random.default_rng(5)
    fwd = rng.normal(0, 6, (61, 83, 2)).astype(np.float32)
    bwd = rng.normal(0, 30, (61, 83, 2)).astype(np.float32)
    got = np.empty_like(fwd)
    backward_at_targets(fwd, bwd, got)
    want = flow_at_targets(bwd, fwd)
    inside = ~np.isnan(got[..., 0])
    assert 0.5 < inside.mean() < 1
    assert got[inside].tobytes() == want[inside].tobytes()


def test_compiled_mask_decides_in_float32_as_the_reference():
    """Flows on the edge of the test, where float32 and float64 arithmetic decide
    differently: the mask must take the float32 decision (the reference's)."""
    rng = np.random.default_rng(0)
    f = np.array([1.0, 0.0], np.float32)  # integer flow: the uniform field is sampled exactly
    cases = 0
    for _ in range(4000):
        # b = -f + r (cos t, sin t) on the edge: r^2 = 0.01 (|f|^2 + |b|^2) + 0.5, with
        # |b|^2 = 1 - 2 r cos t + r^2, i.e. 0.99 r^2 + 0.02 cos(t) r - 0.52 = 0; then nudged
        c = np.cos(angle := rng.uniform(0, 2 * np.pi))
        r = (-0.02 * c + np.sqrt(0.0004 * c * c + 4 * 0.99 * 0.52)) / (2 * 0.99) * (1 + rng.normal(0, 2e-7))
        b = (-f + r * np.array([c, np.sin(angle)])).astype(np.float32)
        diff32 = np.sum((f + b) ** 2)
        bound32 = np.float32(0.01) * (np.sum(f ** 2) + np.sum(b ** 2)) + np.float32(0.5)
        f64, b64 = f.astype(np.float64), b.astype(np.float64)
        in64 = np.sum((f64 + b64) ** 2) < 0.01 * (np.sum(f64 ** 2) + np.sum(b64 ** 2)) + 0.5
        if bool(diff32 < bound32) == bool(in64):
            continue
        cases += 1
        fwd = np.broadcast_to(f, (6, 8, 2)).copy()
        mask = fb_consistency(fwd, np.broadcast_to(b, (6, 8, 2)).copy())
        assert (mask[:, :7] == int(diff32 < bound32)).all() and not mask[:, 7].any()
    assert cases > 0, "no case on the edge found: the test checks nothing"
