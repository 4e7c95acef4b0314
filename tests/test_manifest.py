import hashlib
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from blurgen.cli import cli
from blurgen.errors import ConfigError, InputError
from blurgen.jobs.pattern import PatternJob
from blurgen.manifest import check_relpath, hash_inputs, load_manifest, verify, write_manifest
from blurgen.pipeline import run


def shard_hashes(out):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.h5"))}


@pytest.fixture
def dataset(tmp_path):
    out = tmp_path / "data"
    job = PatternJob(None, {"splits": {"train": 12, "test": 3}, "arrays": ["blur", "flow", "flow_bwd"]})
    run(job, out, samples_per_shard=3, quiet=True)
    return out


@pytest.fixture
def with_inputs(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    for i in range(3):
        (root / "sub" / f"f{i}.bin").write_bytes(bytes([i]) * (100 + i))
    (root / "top.txt").write_text("hello")
    out = tmp_path / "data"
    job = PatternJob(root, {"splits": {"train": 8}})
    run(job, out, samples_per_shard=3, quiet=True, seed=7)
    return root, out


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


# -- verify --------------------------------------------------------------------------
def test_intact_dataset_verifies(dataset):
    res = invoke("verify", dataset)
    assert res.exit_code == 0, res.output
    assert "verify OK: 5 shards, 15 samples" in res.output
    proc = subprocess.run([sys.executable, "-m", "blurgen", "verify", str(dataset)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_tampering_is_named(dataset):
    names = sorted(shard_hashes(dataset))
    flipped, deleted, truncated = names[0], names[1], names[2]
    data = bytearray((dataset / flipped).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (dataset / flipped).write_bytes(bytes(data))
    (dataset / deleted).unlink()
    (dataset / truncated).write_bytes((dataset / truncated).read_bytes()[:-100])
    (dataset / "notes.txt").write_text("extra")
    res = invoke("verify", dataset)
    assert res.exit_code == 1
    lines = res.output.splitlines()
    assert any(line.startswith(f"altered shard {flipped}") for line in lines), res.output
    assert f"missing shard {deleted}" in lines
    assert any(line.startswith(f"truncated shard {truncated}") for line in lines)
    assert "extra file notes.txt" in lines
    assert not any(names[3] in line or names[4] in line for line in lines)  # the intact ones are not named
    # the installed entry point exits non-zero too
    proc = subprocess.run([sys.executable, "-m", "blurgen", "verify", str(dataset)], capture_output=True, text=True)
    assert proc.returncode == 1 and f"missing shard {deleted}" in proc.stdout


def test_an_altered_sample_digest_is_named(dataset):
    man = json.loads((dataset / "manifest.json").read_text())
    victim = man["samples"][4]
    victim["digest"] = "0" * 64
    write_manifest(dataset, man)
    rep = verify(dataset)
    assert rep.problems == [f"altered sample {victim['key']} (shard {victim['shard']}, index {victim['index']}): digest differs"]


def test_a_partial_run_does_not_verify(dataset):
    man = json.loads((dataset / "manifest.json").read_text())
    man["status"] = "partial"
    dropped = man["shards"].pop()
    man["samples"] = [s for s in man["samples"] if s["shard"] != dropped["name"]]
    write_manifest(dataset, man)
    problems = verify(dataset).problems
    assert problems[0].startswith("manifest status is 'partial': 4 of 5 shards complete")
    assert f"extra file {dropped['name']}" in problems


def test_verify_without_manifest_is_a_clear_error(tmp_path):
    res = invoke("verify", tmp_path)
    assert res.exit_code != 0 and "manifest not found" in str(res.exception or res.output)


# -- manifest contents and checks ------------------------------------------------------
def test_inputs_are_recorded(with_inputs):
    root, out = with_inputs
    man = load_manifest(out)
    files = man["inputs"]["files"]
    assert [f["path"] for f in files] == ["sub/f0.bin", "sub/f1.bin", "sub/f2.bin", "top.txt"]
    assert files[1]["size"] == 101
    assert files[1]["sha256"] == hashlib.sha256(bytes([1]) * 101).hexdigest()
    assert len(man["inputs"]["digest"]) == 64 and man["seed"] == 7


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "a/../../b", "C:/x", "a\\..\\b"])
def test_escaping_input_paths_are_refused(bad):
    with pytest.raises(ConfigError, match="refusing|absolute"):
        check_relpath(bad)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda m: m["inputs"]["files"][0].__setitem__("path", "../../etc/passwd"), "escapes the root"),
        (lambda m: m["inputs"]["files"][0].__setitem__("path", "/etc/passwd"), "is absolute"),
        (lambda m: m["shards"][0].__setitem__("name", "../evil-00000-of-00001.h5"), "not a plain"),
        (lambda m: m["samples"][0].__setitem__("shard", "/tmp/train-00000-of-00001.h5"), "not a plain"),
        (lambda m: m.__setitem__("schema", 99), "schema 99"),
    ],
)
def test_rerun_refuses_escaping_manifests(with_inputs, tmp_path, edit, match):
    root, out = with_inputs
    man = json.loads((out / "manifest.json").read_text())
    edit(man)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(man))
    with pytest.raises(ConfigError, match=match):
        load_manifest(bad)
    res = invoke("rerun", bad, "--root", root, "--out", tmp_path / "o2")
    assert res.exit_code != 0 and not (tmp_path / "o2").exists()


def test_hash_inputs_names_a_missing_file(tmp_path):
    (tmp_path / "a").write_text("x")
    with pytest.raises(InputError, match="b.txt: input file not found"):
        hash_inputs(tmp_path, ["a", "b.txt"])


def test_write_manifest_is_atomic_and_leaves_no_temp(tmp_path):
    write_manifest(tmp_path, {"schema": 1, "x": [1, 2]})
    write_manifest(tmp_path, {"schema": 1, "x": [3]})
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
    assert json.loads((tmp_path / "manifest.json").read_text()) == {"schema": 1, "x": [3]}


# -- rerun -----------------------------------------------------------------------------
def test_rerun_reproduces_the_digests(with_inputs, tmp_path):
    root, out = with_inputs
    res = invoke("rerun", out / "manifest.json", "--root", root, "--out", tmp_path / "o2", "--quiet")
    assert res.exit_code == 0, res.output
    assert "rerun OK: 8 samples" in res.output
    old, new = load_manifest(out), load_manifest(tmp_path / "o2")
    assert new["samples"] == old["samples"] and new["seed"] == 7
    assert shard_hashes(tmp_path / "o2") == shard_hashes(out)
    assert new["rerun_of"]["sha256"] == hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    assert verify(tmp_path / "o2").ok


def test_rerun_refuses_changed_inputs_naming_them(with_inputs, tmp_path):
    root, out = with_inputs
    (root / "sub" / "f1.bin").write_bytes(b"\x01" * 101 + b"!")
    (root / "top.txt").write_text("HELLO")
    (root / "new.dat").write_text("new")
    res = invoke("rerun", out / "manifest.json", "--root", root, "--out", tmp_path / "o2")
    assert res.exit_code != 0
    msg = str(res.exception)
    assert "sub/f1.bin (size 102, manifest says 101)" in msg
    assert "top.txt (sha256 differs)" in msg
    assert "new.dat (read now, not in the manifest)" in msg
    assert not list((tmp_path / "o2").glob("*.h5"))


def test_content_depends_on_inputs(with_inputs, tmp_path):
    root, out = with_inputs
    (root / "sub" / "f0.bin").write_bytes(b"\x07" * 100)
    run(PatternJob(root, {"splits": {"train": 8}}), tmp_path / "o3", samples_per_shard=3, quiet=True, seed=7)
    old = {s["key"]: s["digest"] for s in load_manifest(out)["samples"]}
    new = {s["key"]: s["digest"] for s in load_manifest(tmp_path / "o3")["samples"]}
    changed = {k for k in old if old[k] != new[k]}
    assert changed == {f"pattern/train/{i:05d}" for i in range(8) if i % 4 == 0}
