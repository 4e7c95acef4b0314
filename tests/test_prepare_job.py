"""blurgen.jobs.prepare_job: settings resolved once, flags > recipe > the job's defaults."""

from __future__ import annotations

import pytest

from blurgen.errors import ConfigError
from blurgen.jobs import prepare_job
from blurgen.jobs.monkaa import MonkaaConfig
from blurgen.recipe import load_recipe

RECIPE = """
[real]
window = 5
stride = 3
flow_model = "farneback"
[pipeline]
compression = "lzf"
"""


@pytest.fixture
def recipe(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(RECIPE)
    return path


def test_flags_override_the_recipe_which_overrides_the_defaults(tmp_path, recipe):
    job, resolved = prepare_job("real", tmp_path, recipe, {"source": "gopro", "flow_model": "dis"})
    c = job.config
    # window, stride: the recipe; flow_model: the flag; averaging, flow_mode: RealConfig's defaults
    assert (c.window, c.stride, c.flow_model, c.averaging, c.flow_mode) == (5, 3, "dis", "srgb", "direct")
    assert job.root == tmp_path
    # the manifest records the recipe with its [real] section as the job runs it
    assert resolved["pipeline"] == {"compression": "lzf"}
    assert resolved["real"] == {"window": 5, "stride": 3, "flow_model": "dis", "source": "gopro", "valid_bwd": True,
                                "quality": True}


def test_a_window_flag_drops_the_recipe_stride_and_a_model_flag_its_checkpoint(tmp_path, recipe):
    job, _ = prepare_job("real", tmp_path, recipe, {"source": "gopro", "window": 9})
    assert (job.config.window, job.config.stride) == (9, 9)
    job, resolved = prepare_job("real", tmp_path, "nfs", {"source": "nfs", "flow_model": "dis"})
    assert job.config.flow_ckpt is None and "flow_ckpt" not in resolved["real"]


def test_default_recipe_follows_the_source(tmp_path):
    job, resolved = prepare_job("real", tmp_path, None, {"source": "nfs", "flow_model": "dis"})
    nfs = load_recipe("nfs")
    assert resolved["pipeline"] == nfs["pipeline"]
    assert job.config.fps == nfs["real"]["fps"] and job.config.split_file == "nfs_standard.txt"
    assert set(job.config.splits.values()) == {"train", "test"}  # the list's contents are in the params


def test_monkaa_from_a_recipe_dict(tmp_path):
    loaded = load_recipe("monkaa")
    job, resolved = prepare_job("synth-monkaa", tmp_path, {**loaded, "monkaa": {"min_n": 9}}, {"max_s": 50.0})
    assert (job.config.min_n, job.config.max_s) == (9, 50.0)
    assert job.config.interpolator == MonkaaConfig().interpolator
    assert resolved["monkaa"] == {"max_s": 50.0, "min_n": 9, "quality": True} and resolved["pipeline"] == loaded["pipeline"]


def test_refusals_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"^--slomo-batch has no effect here: .*flow-guided\)$"):
        prepare_job("synth-monkaa", tmp_path, None, {"slomo_batch": 2})
    with pytest.raises(ConfigError, match="unknown source 'mpeg'"):
        prepare_job("real", tmp_path, None, {"source": "mpeg"})
    with pytest.raises(ConfigError, match=r"recipe \[real\] has unknown key\(s\): windwo"):
        prepare_job("real", tmp_path, {"real": {"windwo": 3}}, {"source": "gopro"})
    with pytest.raises(ConfigError, match="job kind 'pattern' has no recipe settings"):
        prepare_job("pattern", tmp_path)
    with pytest.raises(ConfigError, match="unknown job kind 'bogus'"):
        prepare_job("bogus", tmp_path)
