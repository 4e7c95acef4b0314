"""Blur-fidelity signals and the estimate they give."""

import numpy as np
import pytest

from blurgen.quality import calibration as calib
from blurgen.quality.fidelity import expected_mse, features, fidelity_meta, psnr_db, signals
from real_helpers import moving_frames


def test_flat_frames_give_no_signal_and_the_calibration_floor():
    img = np.full((32, 48, 3), 90, np.uint8)
    flow = np.zeros((32, 48, 2), np.float32)
    sig = signals(img, img, flow, flow)
    assert sig == {"kappa_oof": 0.0, "kappa_occ": 0.0, "kappa_rest": 0.0}
    cal = calib.find("fidelity", "flow-guided/splat/quadratic")
    meta = fidelity_meta(sig, 0.0, cal)
    assert meta["fidelity_db_est"] == round(psnr_db(cal["intercept"]), 2)
    assert meta["quality_calibration"] == "flow-guided/splat/quadratic"
    assert fidelity_meta(sig, 0.0, None) == {"fidelity_signals": sig}  # no calibration: signals only


def test_texture_leaving_the_frame_is_counted_and_lowers_the_estimate():
    a, b = moving_frames(2, h=40, w=64, dx=10, seed=1)
    f01 = np.zeros((40, 64, 2), np.float32)
    f01[..., 0] = -10.0
    sig = signals(a, b, f01, -f01)
    assert sig["kappa_oof"] > 0 and sig["kappa_rest"] > 0 and sig["kappa_occ"] == 0
    # 10 of 64 columns of each frame leave: their share of the texture energy
    assert sig["kappa_oof"] / (sig["kappa_oof"] + sig["kappa_rest"]) == pytest.approx(10 / 64, abs=0.05)
    cal = calib.find("fidelity", "flow-guided/splat/quadratic")
    assert psnr_db(expected_mse(sig, 10.0, cal)) < psnr_db(expected_mse({k: 0.0 for k in sig}, 10.0, cal))
    more = {**sig, "kappa_oof": 2 * sig["kappa_oof"]}
    assert expected_mse(more, 10.0, cal) >= expected_mse(sig, 10.0, cal)


def test_interior_term_peaks_at_a_few_pixels_of_motion():
    sig = {"kappa_oof": 0.0, "kappa_occ": 0.0, "kappa_rest": 100.0}
    phi = [features(sig, s, 3.0)["rest_phi"] for s in (0.0, 1.0, 3.0, 4.0, 20.0, 80.0)]
    assert phi[0] == 0 and phi[1] < phi[2] < phi[3] and phi[3] > phi[4] > phi[5]
