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
