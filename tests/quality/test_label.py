"""Label signals and uncertainty on frames whose exact flow is known."""

import numpy as np
import pytest

from blurgen.quality import calibration as calib
from blurgen.quality.label import direction_signals, label_quality, signals, uncertainty
from real_helpers import moving_frames

DX, K = 2, 6  # the window moves 2 px per frame: frame 0 -> frame 6 is (-12, 0)


@pytest.fixture(scope="module")
def ends():
    frames = moving_frames(K + 1, h=40, w=64, dx=DX, seed=3)
    fwd = np.zeros((40, 64, 2), np.float32)
    fwd[..., 0] = -K * DX
    return frames[0], frames[-1], fwd, -fwd


def test_exact_flow_has_no_residual_inside_the_frame(ends):
    first, last, fwd, bwd = ends
    sig = direction_signals(first, last, fwd, bwd)
    inside = np.s_[:, K * DX + 1:]  # pixels whose target p + fwd lies in the frame
    assert sig["fb"].dtype == np.float32 and sig["fb"].shape == (40, 64)
    assert sig["fb"][inside].max() < 1e-4
    assert sig["photo"][inside].max() <= 1.0  # the same texture, grey rounding only
    assert sig["photo"][:, :K * DX - 1].mean() > 5  # targets left of the frame: the border is replicated


def test_a_wrong_patch_raises_its_signals_and_its_uncertainty(ends):
    first, last, fwd, bwd = ends
    bad = fwd.copy()
    bad[10:20, 30:40, 1] += 3.0  # 3 px off, in y
    sig = direction_signals(first, last, bad, bwd)
    assert sig["fb"][10:20, 30:40].min() == pytest.approx(3.0, abs=1e-4)
    assert sig["photo"][10:20, 30:40].mean() > 3 * sig["photo"][25:35, 30:40].mean()
    cal = calib.find("label", "direct:dis")
    u = uncertainty(sig, cal)
    assert u[10:20, 30:40].min() > u[25:35, 30:40].max()
    assert u[25:35, 30:40].max() < 0.2 and u[10:20, 30:40].mean() > 2.0  # 3 px error, about 3 px expected


def test_label_quality_arrays_meta_and_grids(ends):
    first, last, fwd, bwd = ends
    cal = calib.find("label", "direct:dis")
    bad_bwd = bwd.copy()
    bad_bwd[:, :8] += 5.0  # wrong on the last frame's left columns only
    arrays, meta = label_quality(first, last, fwd, bad_bwd, cal)
    u, ub = arrays["uncertainty"], arrays["uncertainty_bwd"]
    assert u.dtype == ub.dtype == np.float16 and u.shape == ub.shape == (40, 64)
    assert ub[:, :8].astype(float).mean() > 3  # on the last frame's grid, where bwd is wrong
    sig_f, sig_b = signals(first, last, fwd, bad_bwd)
    assert meta == {"label_epe_est": round(float(uncertainty(sig_f, cal).mean(dtype=np.float64)), 4),
                    "label_epe_est_bwd": round(float(uncertainty(sig_b, cal).mean(dtype=np.float64)), 4),
                    "quality_calibration": "direct:dis"}
    assert np.array_equal(u, uncertainty(sig_f, cal).astype(np.float16))


def test_other_estimators_add_their_disagreement(ends):
    first, last, fwd, bwd = ends
    other = fwd + np.float32([0.0, 1.5])
    far = fwd + np.float32([3.0, 4.0])
    sig_f, sig_b = signals(first, last, fwd, bwd, [(other, bwd), (far, bwd)])
    assert np.allclose(sig_f["disagree"], (1.5 + 5.0) / 2)
    assert np.allclose(sig_b["disagree"], 0.0)
    cal = calib.find("label", "direct:dis,farneback")
    assert cal["coef"].get("disagree", 0) >= 0
    arrays, meta = label_quality(first, last, fwd, bwd, cal, [(other, bwd)])
    assert meta["quality_calibration"] == "direct:dis,farneback"


def _reference_residuals(flow_ab, flow_ba, gray_a, gray_b):
    """The rule in numpy, float64: bilinear samples at the clamped target."""
    h, w = gray_a.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    tx = np.clip(xs + flow_ab[..., 0], 0, w - 1)
    ty = np.clip(ys + flow_ab[..., 1], 0, h - 1)
    x0 = np.minimum(np.floor(tx).astype(int), w - 2)
    y0 = np.minimum(np.floor(ty).astype(int), h - 2)
    wx, wy = tx - x0, ty - y0

    def at(img):
        return ((img[y0, x0] * (1 - wx) + img[y0, x0 + 1] * wx) * (1 - wy)
                + (img[y0 + 1, x0] * (1 - wx) + img[y0 + 1, x0 + 1] * wx) * wy)

    b = np.stack([at(flow_ba[..., 0].astype(np.float64)), at(flow_ba[..., 1].astype(np.float64))], -1)
    return np.hypot(*(flow_ab + b).transpose(2, 0, 1)), np.abs(at(gray_b.astype(np.float64)) - gray_a)


def test_the_compiled_residuals_follow_the_rule_and_opencvs_remap():
    import cv2

    from blurgen.quality._label_kernel import residuals

    rng = np.random.default_rng(3)
    h, w = 45, 70
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    # smooth flows reaching past every border, and grey images with texture
    fwd = np.dstack([6 * np.sin(xs / 9) + 0.2 * ys - 3, 5 * np.cos(ys / 7) - 0.1 * xs]).astype(np.float32)
    bwd = (-fwd + rng.normal(0, 0.3, fwd.shape)).astype(np.float32)
    ga = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32) * 255, (5, 5), 1.5)
    gb = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32) * 255, (5, 5), 1.5)
    fb, photo = np.empty((h, w), np.float32), np.empty((h, w), np.float32)
    residuals(fwd, bwd, ga, gb, fb, photo)
    ref_fb, ref_photo = _reference_residuals(fwd, bwd, ga, gb)
    np.testing.assert_allclose(fb, ref_fb, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(photo, ref_photo, rtol=1e-5, atol=1e-3)
    # OpenCV's remap (BORDER_REPLICATE) places its samples to 1/32 px: the same signals
    # within what that moves them
    r = cv2.remap(np.dstack([bwd, gb]), xs + fwd[..., 0], ys + fwd[..., 1], cv2.INTER_LINEAR,
                  borderMode=cv2.BORDER_REPLICATE)
    assert np.abs(fb - np.hypot(fwd[..., 0] + r[..., 0], fwd[..., 1] + r[..., 1])).max() < 0.05
    assert np.abs(photo - np.abs(r[..., 2] - ga)).max() < 2.0
    # a flow that is not finite: fb inf (its uncertainty is clipped to the maximum)
    bad = fwd.copy()
    bad[3, 4] = np.nan
    bad[5, 6, 0] = np.inf
    bwd_bad = bwd.copy()
    bwd_bad[:, :] = np.nan
    residuals(bad, bwd, ga, gb, fb, photo)
    assert np.isinf(fb[3, 4]) and photo[3, 4] == 255 and np.isinf(fb[5, 6])
    residuals(fwd, bwd_bad, ga, gb, fb, photo)
    assert np.isinf(fb).all() and np.isfinite(photo).all()
