import hashlib
import importlib.util

import h5py
import pytest
from click.testing import CliRunner

from blurgen.errors import ConfigError
from blurgen.jobs.pattern import PatternJob
from blurgen.pipeline import auto_samples_per_shard, executor, run
from blurgen.recipe import find_recipe, load_recipe, merge, recipe_digest


def test_load_recipe_from_a_path_with_overrides(tmp_path):
    p = tmp_path / "r.toml"
    p.write_text('[pipeline]\nsamples_per_shard = 3\ncompression = "gzip-1"\n[synth]\nn = 7\n')
    r = load_recipe(p, {"pipeline": {"compression": None, "tile": 16}, "synth": {"n": 9}})
    assert r == {"pipeline": {"samples_per_shard": 3, "compression": "gzip-1", "tile": 16}, "synth": {"n": 9}}
    assert load_recipe(None) == {}


def test_bad_recipes_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown recipe 'no-such-recipe'"):
        load_recipe("no-such-recipe")
    bad = tmp_path / "bad.toml"
    bad.write_text("[pipeline\n")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load_recipe(bad)
    with pytest.raises(ConfigError, match="missing.toml: recipe file not found"):
        load_recipe(tmp_path / "missing.toml")


def test_a_folder_named_like_a_shipped_recipe_does_not_hide_it(tmp_path, monkeypatch):
    # users keep their data in a folder named after the source and run from its parent
    (tmp_path / "gopro").mkdir()
    (tmp_path / "notes").mkdir()
    monkeypatch.chdir(tmp_path)
    assert load_recipe("gopro") == load_recipe(str(find_recipe("gopro")))
    assert find_recipe("gopro").name == "gopro.toml"
    with pytest.raises(ConfigError, match="notes: a recipe must be a .toml file"):
        load_recipe("notes")
    (tmp_path / "mine").write_text("[synth]\nn = 3\n")
    assert load_recipe("mine") == {"synth": {"n": 3}}  # an existing file is always a path


def test_recipe_digest_is_canonical():
    assert recipe_digest({"a": 1, "b": {"c": [1, 2]}}) == recipe_digest({"b": {"c": [1, 2]}, "a": 1})
    assert recipe_digest({"a": 1}) != recipe_digest({"a": 2})
    assert merge({"a": {"b": 1}}, {"a": {"c": 2}}) == {"a": {"b": 1, "c": 2}}


def test_recipe_pipeline_table_sets_shards_and_flags_win(tmp_path):
    job = PatternJob(None, {"splits": {"train": 6}})
    recipe = {"pipeline": {"samples_per_shard": 2, "compression": "gzip-1", "tile": 8}}
    m = run(job, tmp_path / "a", recipe=recipe, quiet=True)
    assert len(m["shards"]) == 3 and m["pipeline"]["compression"] == "gzip-1"
    assert m["recipe"] == recipe and m["recipe_digest"] == recipe_digest(recipe)
    with h5py.File(tmp_path / "a" / m["shards"][0]["name"]) as f:
        assert f["blur"].compression == "gzip" and f["blur"].chunks == (1, 8, 8, 3)
        assert f.attrs["recipe_digest"] == recipe_digest(recipe)
    m = run(job, tmp_path / "b", recipe=recipe, samples_per_shard=6, compression="none", quiet=True)
    assert len(m["shards"]) == 1 and m["pipeline"]["compression"] == "none"


def test_auto_shard_size_is_a_few_hundred_mb():
    for size in [(540, 960), (720, 1280)]:
        raw_mb = auto_samples_per_shard(size) * size[0] * size[1] * 19 / 2**20
        assert 400 < raw_mb <= 512


def test_bad_backend_settings_are_config_errors():
    for backend in ("loky", "sequential", None):
        with pytest.raises(ConfigError, match="--scheduler needs --backend dask or --backend ray"):
            with executor(2, backend, "tcp://127.0.0.1:1"):
                pass
    with pytest.raises(ConfigError, match="--workers must be >= 1"):
        with executor(0, None):
            pass
    if importlib.util.find_spec("ray") is None:
        with pytest.raises(ConfigError, match="needs ray"):
            with executor(2, "ray"):
                pass


def test_backend_settings_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match="without --backend the run uses loky"):
        run(PatternJob(None, {"splits": {"train": 2}}), tmp_path / "o", workers=2, scheduler="tcp://127.0.0.1:1")
    assert not (tmp_path / "o").exists()


def test_dask_scheduler_address_gives_identical_shards(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    job = PatternJob(None, {"splits": {"train": 8}, "sizes": [[10, 12]]})
    run(job, tmp_path / "local", samples_per_shard=3, quiet=True)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        run(job, tmp_path / "dask", samples_per_shard=3, quiet=True, backend="dask", scheduler=cluster.scheduler_address)

    def hashes(d):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in d.glob("*.h5")}

    assert hashes(tmp_path / "local") == hashes(tmp_path / "dask") and len(hashes(tmp_path / "local")) == 3


def test_pipeline_options_reach_the_run(tmp_path):
    import click

    from blurgen.commands._common import pipeline_options, run_from_cli

    @click.command()
    @pipeline_options
    def cmd(**opts):
        run_from_cli(PatternJob(None, {"splits": {"train": 5}}), **opts)

    out = tmp_path / "o"
    res = CliRunner().invoke(cmd, ["--out", str(out), "--limit", "3", "--samples-per-shard", "2", "--seed", "4",
                                   "--compression", "none", "--quiet"])
    assert res.exit_code == 0, res.output
    from blurgen.manifest import load_manifest

    m = load_manifest(out)
    assert len(m["samples"]) == 3 and len(m["shards"]) == 2 and m["seed"] == 4
    assert m["pipeline"]["limit"] == 3 and m["pipeline"]["compression"] == "none"
    res = CliRunner().invoke(cmd, ["--out", str(out), "--compression", "zip"])
    assert res.exit_code != 0 and "unknown compression 'zip'" in str(res.exception)
