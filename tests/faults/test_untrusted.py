"""Files from elsewhere: manifests that point outside the given roots, HDF5 shards that
carry pickled payloads or data stored in other files, and checkpoints with pickled code.

A hostile pickle here is one whose unpickling would create a marker file; a test passes
only if the marker never appears and, where the CLI reads the file, an audit hook saw no
unpickling of any global (``pickle.find_class``) and no process being started.
"""

from __future__ import annotations

import json
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from .harness import cli_env, run, run_cli, shard_files

# -- hostile payloads -----------------------------------------------------------------------


class _Marker:
    """Unpickling this calls ``open(path, "w")``: the marker file appears if anything
    unpickles it."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def hostile_pickle(marker: Path) -> bytes:
    return pickle.dumps({"weights": [1.0, 2.0], "hook": _Marker(marker)}, protocol=2)


AUDIT = r"""
import sys, runpy
LOG = open(sys.argv[1], "w")
WATCH = ("pickle.find_class", "os.system")
def hook(event, args):
    if event in WATCH:
        LOG.write(event + " " + repr(args)[:200] + "\n"); LOG.flush()
sys.addaudithook(hook)
mode, rest = sys.argv[2], sys.argv[3:]
if mode == "cli":
    sys.argv = ["blurgen", *rest]
    runpy.run_module("blurgen", run_name="__main__")
else:
    exec(rest[0])
"""


def audited(tmp: Path, mode: str, *args: str):
    """Run blurgen (``mode="cli"``, args = the command line) or a Python snippet
    (``mode="py"``) under an audit hook; returns (result, list of watched events)."""
    log = tmp / f"audit-{len(list(tmp.glob('audit-*')))}.txt"
    res = run([sys.executable, "-c", AUDIT, str(log), mode, *args], timeout=300)
    events = [ln for ln in log.read_text().splitlines() if ln.strip()] if log.exists() else []
    return res, events


# -- a small real dataset to tamper with ----------------------------------------------------
@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A pattern run with input files under ROOT: (root, out, manifest dict)."""
    base = tmp_path_factory.mktemp("untrusted")
    root = base / "root"
    (root / "seq").mkdir(parents=True)
    for i in range(3):
        (root / "seq" / f"{i:04d}.bin").write_bytes(bytes([i]) * 100)
    out = base / "out"
    r = run([sys.executable, "-m", "blurgen.commands.pattern", "--root", str(root), "--n", "6", "--size", "64x64",
             "--samples-per-shard", "2", "--out", str(out), "--quiet"])
    assert r.rc == 0, str(r)
    return root, out, json.loads((out / "manifest.json").read_text())


def _tampered(base: Path, man: dict, edit) -> Path:
    m = json.loads(json.dumps(man))
    edit(m)
    d = base / "man"
    d.mkdir()
    p = d / "manifest.json"
    p.write_text(json.dumps(m))
    return p


def _outside_file(base: Path, root: Path) -> Path:
    """A file beside the root whose size and sha256 a hostile manifest records truthfully,
    so only the path check can stop it."""
    f = root.parent / "outside-secret.txt"
    if not f.exists():
        f.write_text("not part of the dataset\n")
    return f


def _file_entry(f: Path, rel: str) -> dict:
    import hashlib

    return {"path": rel, "size": f.stat().st_size, "sha256": hashlib.sha256(f.read_bytes()).hexdigest()}


MANIFEST_ATTACKS = {
    "input path with ../": lambda m, root, out2: m["inputs"]["files"].append(
        _file_entry(_outside_file(out2.parent, root), "../outside-secret.txt")),
    "absolute input path": lambda m, root, out2: m["inputs"]["files"].append(
        _file_entry(_outside_file(out2.parent, root), str(_outside_file(out2.parent, root)))),
    "input path with ..\\ (Windows separators)": lambda m, root, out2: m["inputs"]["files"].append(
        _file_entry(_outside_file(out2.parent, root), "seq\\..\\..\\outside-secret.txt")),
    "shard name with ../": lambda m, root, out2: (
        m["shards"][0].update(name="../escaped-00000-of-00003.h5"),
        m["plan"]["shards"][0].update(name="../escaped-00000-of-00003.h5")),
    "absolute shard name": lambda m, root, out2: m["plan"]["shards"][0].update(
        name=str(out2.parent / "abs-00000-of-00003.h5")),
    "sample placed in a shard outside OUT": lambda m, root, out2: m["samples"][0].update(
        shard="../../escaped-00000-of-00003.h5"),
}


@pytest.mark.parametrize("attack", list(MANIFEST_ATTACKS))
def test_rerun_refuses_manifest_pointing_outside(attack, dataset, tmp_path, reliability):
    root, _, man = dataset
    out2 = tmp_path / "out2"
    path = _tampered(tmp_path, man, lambda m: MANIFEST_ATTACKS[attack](m, root, out2))
    row = reliability.row("untrusted", f"manifest with {attack}", "blurgen rerun MANIFEST --root ROOT --out O2")
    before = sorted(p.name for p in tmp_path.parent.rglob("*escaped*")) + sorted(p.name for p in tmp_path.rglob("abs-*"))
    res = run_cli("rerun", path, "--root", root, "--out", out2)
    row.did = f"exit {res.rc}: {res.error_line()[:200]}"
    assert res.rc == 1, str(res)
    assert not res.has_traceback(), str(res)
    assert any(w in res.error_line() for w in ("escapes", "absolute", "refusing", "not a plain")), str(res)
    after = sorted(p.name for p in tmp_path.parent.rglob("*escaped*")) + sorted(p.name for p in tmp_path.rglob("abs-*"))
    assert after == before, "a file was written outside OUT"
    assert not out2.exists() or not any(out2.iterdir()), "nothing may be written before the manifest is accepted"
    row.lost = "nothing: refused before reading inputs or writing anything"


def test_rerun_accepts_the_untampered_manifest(dataset, tmp_path, reliability):
    """The control: the same manifest, untouched, reruns into the same digests."""
    root, out, _ = dataset
    row = reliability.row("untrusted", "the untampered manifest (control)", "blurgen rerun MANIFEST --root ROOT --out O2")
    res = run_cli("rerun", out / "manifest.json", "--root", root, "--out", tmp_path / "o2")
    assert res.rc == 0, str(res)
    row.did = f"exit 0: {res.out.strip().splitlines()[-1][:160]}"
    row.lost = "nothing"


# -- HDF5 shards from elsewhere -------------------------------------------------------------
def _poisoned_copy(out: Path, dest: Path, marker: Path) -> Path:
    """A copy of the dataset whose first shard also carries pickled payloads: in a file
    attribute, an opaque dataset, a variable-length bytes dataset and inside one meta string."""
    import h5py

    shutil.copytree(out, dest)
    shard = shard_files(dest)[0]
    blob = hostile_pickle(marker)
    with h5py.File(shard, "r+") as f:
        f.attrs["payload"] = np.void(blob)
        f.create_dataset("payload", data=np.void(blob))
        f.create_dataset("payload_vlen", data=np.array([blob], dtype=object), dtype=h5py.vlen_dtype(np.uint8)
                         ) if False else f.create_dataset("payload_bytes", data=np.frombuffer(blob, np.uint8))
        meta = json.loads(f["meta"][0])
        meta["pickle"] = blob.decode("latin-1")
        f["meta"][0] = json.dumps(meta)
    return shard


def test_poisoned_shard_is_read_without_unpickling(dataset, tmp_path, reliability):
    _, out, _ = dataset
    marker = tmp_path / "PWNED"
    d = tmp_path / "poisoned"
    shard = _poisoned_copy(out, d, marker)
    row = reliability.row("untrusted", "HDF5 shard carrying pickles (attribute, opaque and byte datasets, in meta)",
                          "blurgen verify; ShardReader; ShardDataset")
    res, events = audited(tmp_path, "cli", "verify", str(d))
    assert res.rc == 1 and shard.name in res.out and not res.has_traceback(), str(res)
    code = (
        "from blurgen.shards.reader import ShardReader\nfrom blurgen.shards.dataset import ShardDataset\n"
        f"r = ShardReader({str(shard)!r})\n"
        "a = r.read(0); m = r.meta(0); at = r.attrs; k = r.keys()\n"
        f"ds = ShardDataset({str(d)!r}, crop=None)\n"
        "x = [ds[i] for i in range(len(ds))]\n"
        "assert isinstance(m['pickle'], str)\n"
        "print('read', len(x), 'items')\n"
    )
    res2, events2 = audited(tmp_path, "py", code)
    assert res2.rc == 0, str(res2)
    assert not marker.exists(), "a pickled payload was executed"
    assert events == [] and events2 == [], events + events2
    row.did = (
        f"verify: exit 1, names the altered shard ({res.out.strip().splitlines()[0][:120]}); "
        f"the reader returned arrays, meta and attributes as plain data ({res2.out.strip()})"
    )
    row.lost = "nothing executed: no pickle global was looked up, no process started, the marker file never appeared"


@pytest.mark.parametrize("how", ["external link", "external raw storage"])
def test_shard_array_stored_outside_the_file_is_refused(how, dataset, tmp_path, reliability):
    """A shard whose ``blur`` lives in another file (an HDF5 external link, or HDF5's
    external raw storage pointing at any file) would make a reader read files the shard's
    author chose; the reader refuses it and names the shard."""
    import h5py

    _, out, _ = dataset
    d = tmp_path / "linked"
    shutil.copytree(out, d)
    shard = shard_files(d)[0]
    secret = tmp_path / "secret.bin"
    secret.write_bytes(bytes(range(256)) * 64)
    with h5py.File(shard, "r+") as f:
        shape, dtype = f["blur"].shape, f["blur"].dtype
        del f["blur"]
        if how == "external link":
            other = tmp_path / "other.h5"
            with h5py.File(other, "w") as g:
                g.create_dataset("data", data=np.zeros(shape, dtype))
            f["blur"] = h5py.ExternalLink(str(other), "/data")
        else:
            f.create_dataset("blur", shape=shape, dtype=dtype, external=[(str(secret), 0, h5py.h5f.UNLIMITED)])
    row = reliability.row("untrusted", f"HDF5 shard whose blur array is an {how} to another file",
                          "ShardReader.read")
    code = (
        "from blurgen.shards.reader import ShardReader\n"
        "from blurgen.errors import InputError\n"
        f"r = ShardReader({str(shard)!r})\n"
        "try:\n"
        "    r.read(0)\n"
        "except InputError as e:\n"
        "    print('refused:', e)\n"
        "else:\n"
        "    print('READ')\n"
    )
    res, events = audited(tmp_path, "py", code)
    row.did = res.out.strip()[:220] or res.error_line()[:220]
    assert res.rc == 0, str(res)
    assert res.out.startswith("refused:") and shard.name in res.out, str(res)
    assert events == []
    row.lost = "nothing read from the other file"


# -- checkpoints ----------------------------------------------------------------------------
def _torch_hostile(path: Path, marker: Path, payload: dict) -> Path:
    import torch

    torch.save({**payload, "hook": _Marker(marker)}, path)
    return path


def test_zoo_add_refuses_pickled_code(tmp_path, reliability):
    import torch

    marker = tmp_path / "PWNED"
    ck = _torch_hostile(tmp_path / "mine.pt", marker, {"state_dict": {"w": torch.zeros(2)}})
    zoo = tmp_path / "zoo"
    row = reliability.row("untrusted", "checkpoint with pickled code", "blurgen zoo add FILE --name mine --kind b2fnet")
    res = run([sys.executable, "-m", "blurgen", "zoo", "add", str(ck), "--name", "mine", "--kind", "b2fnet"],
              env=cli_env({"BLURGEN_ZOO": str(zoo)}))
    row.did = f"exit {res.rc}: {res.error_line()[:200]}"
    assert res.rc == 1 and not res.has_traceback(), str(res)
    assert str(ck) in res.error_line() and "weights_only" in res.error_line(), str(res)
    assert not marker.exists()
    assert not (zoo / "weights" / "mine.pt").exists()
    row.lost = "nothing executed or registered"


@pytest.mark.slow(reason="imports ptlflow in a child process: 10-20 s on 2 cores")
def test_flow_refuses_pickled_code_in_ptlflow_checkpoint(tmp_path, reliability):
    import torch

    from blurgen.io.frames import write_image

    marker = tmp_path / "PWNED"
    ck = _torch_hostile(tmp_path / "raft.ckpt", marker, {"state_dict": {"w": torch.zeros(2)}})
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        write_image(tmp_path / name, rng.integers(0, 255, (64, 96, 3), dtype=np.uint8))
    row = reliability.row("untrusted", "ptlflow checkpoint with pickled code", "blurgen flow A B --model raft_small --ckpt FILE")
    res = run_cli("flow", tmp_path / "a.png", tmp_path / "b.png", "--model", "raft_small", "--ckpt", ck,
                  "--out", tmp_path / "f.flo", "--device", "cpu")
    row.did = f"exit {res.rc}: {res.error_line()[:200]}"
    assert res.rc == 1 and not res.has_traceback(), str(res)
    assert str(ck) in res.error_line() and "weights_only" in res.error_line(), str(res)
    assert not marker.exists()
    assert not (tmp_path / "f.flo").exists()
    row.lost = "nothing executed; no output written"


# -- Super-SloMo: the documented exception, behind an explicit trust flag ----------------------
def _superslomo_public(path: Path, marker: Path | None = None, real_weights: bool = False) -> Path:
    """A checkpoint in the public port's format: state_dictFC, state_dictAT and a datetime
    under 'timestamp' (what makes torch's safe loader refuse it); optionally a hostile hook."""
    import datetime

    import torch

    if real_weights:
        from blurgen.models.superslomo import SuperSloMo

        torch.manual_seed(0)
        m = SuperSloMo()
        fc, at = m.flow_net.state_dict(), m.interp_net.state_dict()
    else:
        fc, at = {"w": torch.zeros(2)}, {"w": torch.zeros(2)}
    ck = {"state_dictFC": fc, "state_dictAT": at, "timestamp": datetime.datetime(2018, 6, 1), "epoch": 200}
    if marker is not None:
        ck["hook"] = _Marker(marker)
    torch.save(ck, path)
    return path


def _monkaa_one_scene(sample_root, dest: Path) -> Path:
    src = sample_root() / "monkaa"
    scene = sorted(p.name for p in (src / "frames_cleanpass").iterdir())[0]
    for part in ("frames_cleanpass", "optical_flow"):
        shutil.copytree(src / part / scene, dest / part / scene)
    return dest


@pytest.mark.parametrize("hostile", [
    pytest.param(False, id="public-format"),
    pytest.param(True, id="pickled-code", marks=pytest.mark.slow(reason="same refusal path as public-format; ~7 s")),
])
def test_superslomo_checkpoint_needs_trust_flag(hostile, sample_root, tmp_path, reliability, require):
    require("synth-monkaa")
    marker = tmp_path / "PWNED"
    ck = _superslomo_public(tmp_path / "SuperSloMo.ckpt", marker if hostile else None)
    root = _monkaa_one_scene(sample_root, tmp_path / "monkaa")
    what = "Super-SloMo checkpoint with pickled code" if hostile else "Super-SloMo checkpoint in the public port's format (datetime inside)"
    row = reliability.row("untrusted", what + ", no trust flag",
                          "blurgen synth-monkaa --interpolator superslomo --slomo-ckpt FILE")
    out = tmp_path / "out"
    res = run_cli("synth-monkaa", "--root", root, "--interpolator", "superslomo", "--slomo-ckpt", ck,
                  "--device", "cpu", "--out", out, "--quiet")
    row.did = f"exit {res.rc}: {res.error_line()[:240]}"
    assert res.rc == 1 and not res.has_traceback(), str(res)
    assert str(ck) in res.error_line() and "--trust-checkpoint" in res.error_line(), str(res)
    assert not marker.exists()
    assert shard_files(out) == [] or not any(
        json.loads((out / "manifest.json").read_text())["samples"]), "no sample may be made with refused weights"
    row.lost = "nothing executed; no sample made"


@pytest.mark.slow(reason="saves and loads the two 20M-parameter Super-SloMo networks (~160 MB) and runs them on the CPU")
def test_superslomo_public_format_loads_with_trust_flag(sample_root, tmp_path, reliability, require):
    require("synth-monkaa")
    ck = _superslomo_public(tmp_path / "SuperSloMo.ckpt", real_weights=True)
    root = _monkaa_one_scene(sample_root, tmp_path / "monkaa")
    row = reliability.row("untrusted", "Super-SloMo checkpoint in the public port's format, with --trust-checkpoint",
                          "blurgen synth-monkaa --interpolator superslomo --slomo-ckpt FILE --trust-checkpoint")
    out = tmp_path / "out"
    res = run_cli("synth-monkaa", "--root", root, "--interpolator", "superslomo", "--slomo-ckpt", ck,
                  "--trust-checkpoint", "--device", "cpu", "--limit", "2", "--out", out, "--quiet", timeout=900)
    row.did = f"exit {res.rc}" + (f": {res.error_line()[:200]}" if res.rc else "")
    assert res.rc == 0, str(res)
    man = json.loads((out / "manifest.json").read_text())
    assert len(man["samples"]) == 2 and man["checkpoints"], man
    row.did += f"; made {len(man['samples'])} samples; the manifest records the checkpoint's sha256"
    row.lost = "nothing"


# -- B2F-net checkpoints ------------------------------------------------------------------------
def test_predict_refuses_pickled_code(tmp_path, reliability, require):
    require("predict")
    import torch

    from blurgen.io.frames import write_image

    marker = tmp_path / "PWNED"
    ck = _torch_hostile(tmp_path / "best.pt", marker, {"model": {"w": torch.zeros(2)}, "model_config": {}})
    write_image(tmp_path / "blur.png", np.full((64, 64, 3), 128, np.uint8))
    row = reliability.row("untrusted", "B2F-net checkpoint with pickled code", "blurgen predict IMG --ckpt FILE")
    res = run_cli("predict", tmp_path / "blur.png", "--ckpt", ck, "--out", tmp_path / "f.flo", "--device", "cpu")
    row.did = f"exit {res.rc}: {res.error_line()[:220]}"
    assert res.rc == 1 and not res.has_traceback(), str(res)
    assert str(ck) in res.error_line(), str(res)
    assert not marker.exists() and not (tmp_path / "f.flo").exists()
    row.lost = "nothing executed; no output written"


@pytest.mark.parametrize("how", [
    "resume",
    pytest.param("init-from", marks=pytest.mark.slow(reason="a second torch start-up in a child (~5 s)")),
    pytest.param("eval", marks=pytest.mark.slow(reason="a second torch start-up in a child (~5 s)")),
])
def test_training_refuses_pickled_code(how, dataset, tmp_path, reliability, require):
    require("train", "eval")
    import torch

    _, shards, _ = dataset
    marker = tmp_path / "PWNED"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    name = "last.pt" if how == "resume" else "other.pt"
    ck = _torch_hostile(run_dir / name, marker, {"model": {"w": torch.zeros(2)}, "model_config": {}, "step": 1})
    if how == "resume":
        argv = ["train", "--shards", shards, "--out", run_dir, "--resume", "--crop", "64"]
        label = "blurgen train --out RUN --resume (RUN/last.pt hostile)"
    elif how == "init-from":
        argv = ["train", "--shards", shards, "--out", tmp_path / "run2", "--init-from", ck, "--crop", "64"]
        label = "blurgen train --init-from FILE"
    else:
        argv = ["eval", "--ckpt", ck, "--shards", shards, "--device", "cpu"]
        label = "blurgen eval --ckpt FILE"
    row = reliability.row("untrusted", "B2F-net checkpoint with pickled code", label)
    res = run_cli(*argv)
    row.did = f"exit {res.rc}: {res.error_line()[:220]}"
    assert res.rc != 0 and not res.has_traceback(), str(res)
    assert ck.name in res.error_line(), str(res)
    assert not marker.exists()
    row.lost = "nothing executed"
