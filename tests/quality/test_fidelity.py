"""Blur-fidelity signals and the estimate they give."""

import numpy as np
import pytest

from blurgen.quality import calibration as calib
from blurgen.quality.fidelity import expected_mse, features, fidelity_meta, psnr_db, signals, stored_signals
from real_helpers import moving_frames


def test_flat_frames_give_no_signal_and_the_calibration_floor():
    img = np.full((32, 48, 3), 90, np.uint8)
    flow = np.zeros((32, 48, 2), np.float32)
    sig = signals(img, img, flow, flow)
    assert sig == {"kappa_oof": 0.0, "kappa_occ": 0.0, "kappa_rest": 0.0, "hole": 0.0}
    cal = calib.find("fidelity", "flow-guided/splat/quadratic")
    meta = fidelity_meta(sig, 0.0, cal)
    assert meta["fidelity_db_est"] == round(psnr_db(cal["intercept"]), 2)
    assert meta["quality_calibration"] == "flow-guided/splat/quadratic"
    assert fidelity_meta(sig, 0.0, None) == {"fidelity_signals": sig}  # no calibration: signals only


def test_texture_leaving_the_frame_is_counted_but_is_no_hole():
    a, b = moving_frames(2, h=40, w=64, dx=10, seed=1)
    f01 = np.zeros((40, 64, 2), np.float32)
    f01[..., 0] = -10.0
    sig = signals(a, b, f01, -f01)
    assert sig["kappa_oof"] > 0 and sig["kappa_rest"] > 0 and sig["kappa_occ"] == 0
    # 10 of 64 columns of each frame leave: their share of the texture energy
    assert sig["kappa_oof"] / (sig["kappa_oof"] + sig["kappa_rest"]) == pytest.approx(10 / 64, abs=0.05)
    # what leaves one end frame is in the other: at every t the two cover the frame
    assert sig["hole"] == 0.0


def _columns_in_neither(dx: float, t: float) -> int:
    """Columns no pixel reaches within one pixel when both end frames move right by dx:
    frame 0 covers columns from round(t dx), frame 1 from round((1 - t) dx); the first
    uncovered column beside a covered one counts as reached."""
    first = min(np.floor(t * dx + 0.5), np.floor((1 - t) * dx + 0.5))
    return max(int(first) - 1, 0)


@pytest.mark.parametrize("dx", [4.0, 10.0, 17.0])
def test_content_in_neither_end_frame_is_a_hole_and_lowers_the_estimate(dx):
    """Both flows pointing right (frame 0 -> 1 and 1 -> 0 alike: a surface stretching away
    from the left edge): the left strip is reached by neither frame at intermediate times."""
    a, b = moving_frames(2, h=40, w=64, dx=4, seed=2)
    flow = np.zeros((40, 64, 2), np.float32)
    flow[..., 0] = dx
    sig = signals(a, b, flow, flow)
    want = np.mean([_columns_in_neither(dx, t) for t in (0.25, 0.5, 0.75)]) / 64
    assert sig["hole"] == pytest.approx(want, abs=1e-6) and want > 0
    cal = calib.find("fidelity", "flow-guided/splat/quadratic")
    assert cal["form"] == "blur-mse-v2" and cal["coef"]["hole_s"] > 0
    assert expected_mse(sig, dx, cal) > expected_mse({**sig, "hole": 0.0}, dx, cal)


def test_a_calibration_of_the_first_form_still_applies_to_the_signals_it_had():
    a, b = moving_frames(2, h=40, w=64, dx=10, seed=1)
    f01 = np.zeros((40, 64, 2), np.float32)
    f01[..., 0] = -10.0
    v1 = {"format": 1, "kind": "fidelity", "key": "flow-guided/splat/quadratic", "form": "blur-mse-v1",
          "intercept": 2.0, "coef": {"oof_s": 0.003, "occ": 0.0, "rest_phi": 0.05}, "params": {"phi_scale": 3.0}}
    calib.check(v1, "v1")
    names = stored_signals(v1)
    sig = signals(a, b, f01, -f01, names)
    assert list(sig) == ["kappa_oof", "kappa_occ", "kappa_rest"]  # what a run with it stored before: same bytes
    want = 2.0 + 0.003 * sig["kappa_oof"] * 10.0 + 0.05 * sig["kappa_rest"] * 100.0 / (27.0 + 1000.0)
    assert expected_mse(sig, 10.0, v1) == pytest.approx(want, rel=1e-9)
    assert stored_signals(None) == ("kappa_oof", "kappa_occ", "kappa_rest", "hole")


def test_interior_term_peaks_at_a_few_pixels_of_motion():
    sig = {"kappa_oof": 0.0, "kappa_occ": 0.0, "kappa_rest": 100.0, "hole": 0.0}
    phi = [features(sig, s, 3.0)["rest_phi"] for s in (0.0, 1.0, 3.0, 4.0, 20.0, 80.0)]
    assert phi[0] == 0 and phi[1] < phi[2] < phi[3] and phi[3] > phi[4] > phi[5]
