"""The estimates as the dataset jobs make them: params and old manifests, the stored arrays
and meta, several estimators, the calibration fits on a tiny procedural sample."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from blurgen.cli import cli
from blurgen.errors import ConfigError
from blurgen.io.frames import read_image
from blurgen.jobs import build_job, prepare_job
from blurgen.jobs.real_config import RealConfig
from blurgen.quality import calibration as calib
from blurgen.quality.label import label_quality
from blurgen.sources.sample import SampleConfig, write_sample
from real_helpers import gopro_tree
from sources.test_monkaa import make_tree

QUALITY_META = ("label_epe_est", "label_epe_est_bwd", "quality_calibration", "fidelity_db_est", "fidelity_signals")


def test_new_runs_record_quality_and_manifests_without_it_read_as_off(tmp_path):
    job, recipe = prepare_job("real", tmp_path, None, {"source": "gopro", "flow_model": "dis"})
    assert job.params["quality"] is True and job.params["calibration"]["key"] == "direct:dis"
    assert recipe["real"]["quality"] is True and "calibration" not in recipe["real"]
    off, recipe = prepare_job("real", tmp_path, None, {"source": "gopro", "flow_model": "dis", "quality": False})
    assert "quality" not in off.params and "calibration" not in off.params and "quality" not in recipe["real"]
    old = dict(off.params)  # what a manifest from before the estimates holds
    assert RealConfig.from_params(old).quality is False and build_job("real", old, tmp_path).params == old
    m, _ = prepare_job("synth-monkaa", tmp_path, None, {})
    assert m.params["quality"] is True and m.params["calibration"]["key"] == "flow-guided/splat/quadratic"
    m_off, _ = prepare_job("synth-monkaa", tmp_path, None, {"quality": False})
    assert "quality" not in m_off.params and build_job("synth-monkaa", m_off.params, tmp_path).params == m_off.params


def test_settings_that_cannot_act_are_refused(tmp_path):
    cal = tmp_path / "farneback.json"
    cal.write_text(json.dumps(calib.find("label", "direct:farneback")))
    with pytest.raises(ConfigError, match=r"^--calibration: fitted for 'direct:farneback', but this run labels "
                                          r"with 'direct:dis'"):
        prepare_job("real", tmp_path, None, {"source": "gopro", "flow_model": "dis", "calibration_file": str(cal)})
    with pytest.raises(ConfigError, match="--calibration has no effect here: --no-quality"):
        prepare_job("real", tmp_path, None, {"source": "gopro", "flow_model": "dis", "quality": False,
                                             "calibration_file": str(cal)})
    with pytest.raises(ConfigError, match="a label calibration, but a fidelity calibration is needed"):
        prepare_job("synth-monkaa", tmp_path, None, {"calibration_file": str(cal)})
    for model, needle in (("dis,none", "'none' cannot be combined"), ("dis,,farneback", "separated by commas")):
        with pytest.raises(ConfigError, match=needle):
            RealConfig(source="gopro", flow_model=model)
    with pytest.raises(ConfigError, match="--flow-ckpt has no effect here: dis,farneback need no checkpoint"):
        RealConfig(source="gopro", flow_model="dis,farneback", flow_ckpt="things")
    generic = tmp_path / "generic.json"
    generic.write_text(json.dumps(calib.find("label", calib.GENERIC_LABEL)))
    job, _ = prepare_job("real", tmp_path, None, {"source": "gopro", "flow_model": "dis",
                                                  "calibration_file": str(generic)})
    assert job.config.calibration["key"] == calib.GENERIC_LABEL  # the generic one fits any estimator


@pytest.fixture(scope="module")
def gopro(tmp_path_factory):
    root = tmp_path_factory.mktemp("gopro")
    gopro_tree(root, h=48, w=64)
    return root


def _first(job):
    task = sorted(job.tasks(), key=lambda t: t.key)[0]
    return task, job.make(task)


def test_real_samples_carry_the_maps_and_nothing_else_changes(gopro):
    on = build_job("real", {"source": "gopro", "flow_model": "dis", "quality": True}, gopro)
    off = build_job("real", {"source": "gopro", "flow_model": "dis"}, gopro)
    task, s_on = _first(on)
    _, s_off = _first(off)
    assert set(s_on.arrays) - set(s_off.arrays) == {"uncertainty", "uncertainty_bwd"}
    for name, arr in s_off.arrays.items():
        assert np.array_equal(s_on.arrays[name], arr), name
    assert {k: v for k, v in s_on.meta.items() if k not in QUALITY_META} == s_off.meta
    assert not set(QUALITY_META) & set(s_off.meta)
    first, last = (read_image(gopro / f) for f in (task.payload["files"][0], task.payload["files"][-1]))
    arrays, meta = label_quality(first, last, s_on.arrays["flow"], s_on.arrays["flow_bwd"], on.config.calibration)
    assert np.array_equal(arrays["uncertainty"], s_on.arrays["uncertainty"])
    assert np.array_equal(arrays["uncertainty_bwd"], s_on.arrays["uncertainty_bwd"])
    assert {k: s_on.meta[k] for k in meta} == meta


def test_several_estimators_label_with_the_first_and_add_disagreement(gopro):
    one = build_job("real", {"source": "gopro", "flow_model": "dis", "quality": True}, gopro)
    two = build_job("real", {"source": "gopro", "flow_model": "dis,farneback", "quality": True}, gopro)
    _, a = _first(one)
    _, b = _first(two)
    assert np.array_equal(a.arrays["flow"], b.arrays["flow"]) and np.array_equal(a.arrays["valid"], b.arrays["valid"])
    assert b.meta["estimator"] == "dis" and b.meta["estimators"] == ["dis", "farneback"]
    assert b.meta["quality_calibration"] == "direct:dis,farneback" and "estimators" not in a.meta
    assert not np.array_equal(a.arrays["uncertainty"], b.arrays["uncertainty"])
    assert [e.label for e in two.estimators] == ["dis", "farneback"]


@pytest.mark.slow(reason="imports ptlflow and builds a network (about 12 s)")
def test_a_learned_model_in_the_list_runs_with_random_weights(tmp_path):
    pytest.importorskip("ptlflow", reason="ptlflow is not installed")
    gopro_tree(tmp_path, h=72, w=96)  # learned models need more than 64 px a side
    job = build_job("real", {"source": "gopro", "flow_model": "dis,fastflownet", "flow_ckpt": "random",
                             "device": "cpu", "quality": True}, tmp_path)
    _, s = _first(job)
    assert s.meta["estimators"] == ["dis", "fastflownet/random"]
    assert s.meta["quality_calibration"] == calib.GENERIC_LABEL  # none ships for it: the generic one
    assert np.isfinite(s.arrays["uncertainty"].astype(np.float32)).all() and s.meta["label_epe_est"] >= 0


def test_monkaa_samples_carry_the_fidelity_estimate_and_the_same_blur(tmp_path):
    root = make_tree(tmp_path / "monkaa")
    on = build_job("synth-monkaa", {"quality": True}, root)
    off = build_job("synth-monkaa", {}, root)
    task = next(t for t in on.tasks() if t.key == "monkaa/alpha_x2/left/0001")
    s_on, s_off = on.make(task), off.make(task)
    assert all(np.array_equal(s_on.arrays[k], v) for k, v in s_off.arrays.items()) and s_on.arrays.keys() == s_off.arrays.keys()
    assert set(s_on.meta) - set(s_off.meta) == {"fidelity_db_est", "fidelity_signals", "quality_calibration"}
    assert 20 < s_on.meta["fidelity_db_est"] < 60
    linear = build_job("synth-monkaa", {"quality": True, "interpolator": "linear"}, root)
    task = next(t for t in linear.tasks() if t.key == "monkaa/alpha_x2/left/0001")
    assert linear.make(task).meta["quality_calibration"] == "linear"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "S"
    write_sample(out, SampleConfig(width=128, height=72, only=("gopro", "monkaa"), blur_step=2.0))
    return out


def test_calibrate_fits_a_label_calibration_that_tracks_the_error(tiny, tmp_path):
    res = CliRunner().invoke(cli, ["calibrate", str(tiny), "--out", str(tmp_path / "c.json")])
    assert res.exit_code == 0, (res.output, res.exception)
    cal = calib.load(tmp_path / "c.json", "label")
    assert cal["key"] == "direct:dis" and cal["fitted_on"]["windows"] == 18
    assert cal["fitted_on"]["samples"] == [{"seed": 0, "size": [128, 72]}]
    assert cal["coef"]["fb"] > 0 and cal["fit"]["mean_estimate"] == pytest.approx(cal["fit"]["mean_epe"], rel=0.2)
    again = CliRunner().invoke(cli, ["calibrate", str(tiny)])
    assert json.loads(again.output) == cal  # deterministic
    # a run uses it
    job, _ = prepare_job("real", tiny / "gopro", None, {"source": "gopro", "flow_model": "dis",
                                                        "calibration_file": str(tmp_path / "c.json")})
    assert job.config.calibration == cal


def test_calibrate_refuses_flags_of_the_other_kind(tiny):
    res = CliRunner().invoke(cli, ["calibrate", str(tiny), "--kind", "fidelity", "--flow-model", "farneback"])
    assert res.exit_code == 1 and "--flow-model has no effect here: it belongs to --kind label" in str(res.exception)
    res = CliRunner().invoke(cli, ["calibrate", str(tiny), "--kind", "fidelity", "--interpolator", "linear",
                                   "--method", "slomo"])
    assert res.exit_code == 1 and "--method has no effect here" in str(res.exception)


def test_calibrate_fits_a_fidelity_calibration(tiny, tmp_path):
    res = CliRunner().invoke(cli, ["calibrate", str(tiny), "--kind", "fidelity", "--out", str(tmp_path / "f.json")])
    assert res.exit_code == 0, (res.output, res.exception)
    cal = calib.load(tmp_path / "f.json", "fidelity")
    assert cal["key"] == "flow-guided/splat/quadratic" and cal["fitted_on"]["pairs"] == 24
    assert cal["params"]["phi_scale"] in (2.0, 3.0, 4.0, 6.0, 8.0, 12.0)
    assert abs(cal["fit"]["mean_estimate"] - cal["fit"]["mean_psnr"]) < 2.0


# The default fidelity calibration as blurgen shipped it before the hole signal (form
# blur-mse-v1): what a synth-monkaa manifest of that time embeds in its params.
V1_FIDELITY = {"format": 1, "kind": "fidelity", "key": "flow-guided/splat/quadratic", "form": "blur-mse-v1",
               "intercept": 2.01838, "coef": {"occ": 0.0, "oof_s": 0.00299067, "rest_phi": 0.0557984},
               "params": {"phi_scale": 3.0}, "blurgen": "0.1.0"}


def test_a_monkaa_manifest_with_a_first_form_calibration_reruns_to_the_same_samples(tmp_path):
    from blurgen.shards.reader import ShardReader, list_shards

    root = make_tree(tmp_path / "monkaa")
    cal = tmp_path / "v1.json"
    cal.write_text(json.dumps(V1_FIDELITY))
    out, again = tmp_path / "out", tmp_path / "again"
    res = CliRunner().invoke(cli, ["synth-monkaa", "--root", str(root), "--out", str(out), "--calibration", str(cal),
                                   "--quiet"])
    assert res.exit_code == 0, res.output
    first = json.loads((out / "manifest.json").read_text())
    assert first["job"]["params"]["calibration"]["form"] == "blur-mse-v1"
    metas = []
    for shard in list_shards(out):
        with ShardReader(shard) as r:
            metas += [r.meta(i) for i in range(len(r))]
    assert metas
    for m in metas:  # the three signals of that form, and its formula applied to them
        sig = m["fidelity_signals"]
        assert sorted(sig) == ["kappa_occ", "kappa_oof", "kappa_rest"]
        s, c = m["s"], V1_FIDELITY["coef"]
        mse = (V1_FIDELITY["intercept"] + c["oof_s"] * sig["kappa_oof"] * s + c["occ"] * sig["kappa_occ"]
               + c["rest_phi"] * sig["kappa_rest"] * s * s / (3.0 ** 3 + s ** 3))
        assert m["fidelity_db_est"] == pytest.approx(10 * np.log10(255.0 ** 2 / mse), abs=0.006)
    res = CliRunner().invoke(cli, ["rerun", str(out), "--out", str(again), "--quiet"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["verify", str(again)])
    assert res.exit_code == 0, res.output
    second = json.loads((again / "manifest.json").read_text())
    assert [(m["key"], m["digest"]) for m in second["samples"]] == [(m["key"], m["digest"]) for m in first["samples"]]
    assert [s["sha256"] for s in second["shards"]] == [s["sha256"] for s in first["shards"]]
