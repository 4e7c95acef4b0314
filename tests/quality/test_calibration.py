"""Calibrations: the non-negative fit, the checks on a calibration, the shipped files."""

import json

import numpy as np
import pytest

from blurgen.errors import ConfigError, InputError
from blurgen.quality import calibration as calib


def _cal(of="label", **kw):
    base = {"format": 1, "kind": of, "key": "direct:dis" if of == "label" else "linear", "form": calib.FORMS[of][-1],
            "intercept": 0.1, "coef": {"fb": 1.0, "photo": 0.05} if of == "label" else {"hole_s": 1.0},
            "params": {} if of == "label" else {"phi_scale": 3.0}}
    return {**base, **kw}


def test_fit_recovers_non_negative_coefficients_and_clamps_a_negative_one():
    rng = np.random.default_rng(0)
    x = rng.random((5000, 3)) * [4.0, 100.0, 2.0]
    y = 1.0 + 0.8 * x[:, 0] + 0.05 * x[:, 1] - 0.4 * x[:, 2] + rng.normal(0, 0.01, 5000)
    c0, coef = calib.fit_nonnegative(x, y, ["a", "b", "c"])
    assert coef["c"] == 0.0  # the model may never decrease when a signal grows
    assert coef["a"] == pytest.approx(0.8, abs=0.02) and coef["b"] == pytest.approx(0.05, abs=0.002)
    assert c0 >= 0
    # exact data, no clamping: the exact numbers
    y2 = 0.3 + 0.8 * x[:, 0] + 0.05 * x[:, 1]
    c0, coef = calib.fit_nonnegative(x[:, :2], y2, ["a", "b"])
    assert (c0, coef["a"], coef["b"]) == pytest.approx((0.3, 0.8, 0.05), abs=1e-6)
    # weights multiply the residuals: a relative fit of y = 2 x ignores scale
    c0, coef = calib.fit_nonnegative(x[:, :1], 2 * x[:, 0], ["a"], weights=1 / (2 * x[:, 0] + 1e-9))
    assert coef["a"] == pytest.approx(2.0, rel=1e-4)


@pytest.mark.parametrize("change", [
    {"coef": {"fb": -1.0}}, {"intercept": float("nan")}, {"form": "other"}, {"format": 2}, {"kind": "blur"}, {"key": None},
    {"coef": {"oof_s": 1.0}},  # a feature of another form
])
def test_check_refuses_what_is_not_a_calibration(change):
    with pytest.raises(ConfigError, match=r"^where: not a blurgen calibration .*blurgen calibrate`$"):
        calib.check(_cal(**change), "where")


@pytest.mark.parametrize("change", [
    {"coef": {"fb": 1.0}},  # a label feature
    {"form": "blur-mse-v1", "coef": {"hole_s": 1.0}},  # the first form has no hole signal
    {"params": {}}, {"params": {"phi_scale": 0.0}},  # the interior term needs its scale
])
def test_check_refuses_a_fidelity_calibration_its_model_cannot_apply(change):
    with pytest.raises(ConfigError, match=r"^f.json: not a blurgen calibration"):
        calib.check(_cal("fidelity", **change), "f.json")
    calib.check(_cal("fidelity", form="blur-mse-v1", coef={"oof_s": 1.0}), "f.json")  # the first form reads


def test_check_refuses_the_other_kind():
    with pytest.raises(ConfigError, match="a fidelity calibration, but a label calibration is needed"):
        calib.check(_cal("fidelity"), "f.json", "label")


def test_load_names_the_file(tmp_path):
    with pytest.raises(InputError, match="nope.json: calibration file not found"):
        calib.load(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(InputError, match="bad.json: not a readable JSON calibration"):
        calib.load(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_cal()))
    assert calib.load(good, "label") == _cal()


def test_shipped_calibrations_are_found_by_key_and_never_decrease():
    labels, fids = calib.shipped("label"), calib.shipped("fidelity")
    assert {"direct:dis", "direct:farneback", "direct:dis,farneback", calib.GENERIC_LABEL} <= set(labels)
    assert {"flow-guided/splat/quadratic", "flow-guided/splat/linear", "flow-guided/slomo", "linear"} <= set(fids)
    for key, cal in {**labels, **fids}.items():
        kind = cal["kind"]
        path = calib.resource_path(kind, key)
        assert path.name == calib.file_stem(key) + ".json"
        assert cal["fitted_on"]["samples"] and all(s["seed"] != 1 for s in cal["fitted_on"]["samples"])
    for cal in labels.values():
        assert set(cal["coef"]) in ({"fb", "photo"}, {"fb", "photo", "disagree"})
        lo = calib.apply_linear(cal, {n: 0.0 for n in cal["coef"]})
        hi = calib.apply_linear(cal, {n: 1.0 for n in cal["coef"]})
        assert hi >= lo >= 0
    assert all(f["params"]["phi_scale"] > 0 for f in fids.values())
    assert calib.find("label", "direct:pwcnet/things", calib.GENERIC_LABEL)["key"] == calib.GENERIC_LABEL
    assert calib.find("fidelity", "superslomo") is None
