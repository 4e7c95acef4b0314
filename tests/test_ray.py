"""``--backend ray`` for real: a local Ray runtime and a started Ray cluster (reached as
``ray://HOST:PORT`` and as ``auto``) write shards byte-identical to a loky run.

Marked ``ray`` (a Ray runtime takes 5-15 s to start on 2 cores): the default run leaves
them out, CI runs them with ``pytest -m ray`` after installing the ``ray`` extra. Without
ray they skip, unless ``BLURGEN_REQUIRE_RAY=1`` (CI), where a missing ray fails.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from blurgen.jobs.pattern import PatternJob
from blurgen.pipeline import run

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

if importlib.util.find_spec("ray") is None:
    if os.environ.get("BLURGEN_REQUIRE_RAY"):
        raise ImportError("BLURGEN_REQUIRE_RAY is set but ray is not installed (pip install -e '.[ray]')")
    pytest.skip("ray is not installed (pip install 'blurgen[ray]'); CI runs these with -m ray", allow_module_level=True)

PARAMS = {"splits": {"train": 11, "test": 4}, "sizes": [[10, 12], [8, 14]], "arrays": ["blur", "flow", "valid"]}
ROOT = Path(__file__).resolve().parents[1]


def shard_hashes(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.h5"))}


@pytest.fixture(scope="module")
def loky_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("loky") / "o"
    run(PatternJob(None, PARAMS), out, samples_per_shard=3, workers=2, backend="loky", seed=5, quiet=True)
    assert len(shard_hashes(out)) >= 4
    return out


def test_local_ray_runtime_writes_the_loky_shards_and_shuts_down(loky_run, tmp_path):
    import ray

    assert not ray.is_initialized()
    m = run(PatternJob(None, PARAMS), tmp_path / "ray", samples_per_shard=3, workers=2, backend="ray", seed=5,
            quiet=True)
    assert shard_hashes(tmp_path / "ray") == shard_hashes(loky_run)
    assert [s["digest"] for s in m["samples"]] == [s["digest"] for s in json.loads(
        (loky_run / "manifest.json").read_text())["samples"]]
    assert not ray.is_initialized()  # the runtime the run started is gone


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL, the process group that ``proc`` leads (ours: started with
    ``start_new_session``), until no process of it is left."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()  # reap the head itself
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.5)


PROBE = ("import ray; ray.init(address={!r}, logging_level='WARNING'); "
         "assert ray.get(ray.remote(lambda: 1).remote()) == 1; ray.shutdown()")


def _client_logs(info) -> str:
    return "".join(p.read_text()[-1500:] for p in info["tmp"].glob("r/session_latest/logs/ray_client_server*.err"))


def _wait_until_serving(info) -> None:
    """Until a Ray Client runs one task on the new cluster (its client server and agents
    come up after `ray start` returns; a first connection can fail while they do)."""
    err = ""
    for _ in range(3):
        try:
            res = subprocess.run([sys.executable, "-c", PROBE.format(info["client"])], env=info["env"],
                                 capture_output=True, text=True, timeout=90)
        except subprocess.TimeoutExpired:
            err = "timed out after 90 s"
            continue
        if res.returncode == 0:
            return
        err = res.stderr[-2000:]
    pytest.fail(f"the Ray cluster never ran a task for a client:\n{err}\n{_client_logs(info)}")


@pytest.fixture(scope="module")
def ray_cluster():
    """A one-node Ray cluster started with ``ray start --head --block`` in its own process
    group (killed by that group's id afterwards), with its own token and temp folder."""
    ray_bin = Path(sys.executable).with_name("ray")
    if not ray_bin.is_file():
        pytest.fail(f"ray is importable but its command {ray_bin} is missing")
    gcs, client = _free_port(), _free_port()
    tmp = Path(tempfile.mkdtemp(prefix="bgray"))  # short: Ray's socket paths must fit 107 bytes
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    env.pop("RAY_ADDRESS", None)
    log = tmp / "head.log"
    with open(log, "wb") as f:
        head = subprocess.Popen(
            [str(ray_bin), "start", "--head", "--block", f"--port={gcs}", f"--ray-client-server-port={client}",
             "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={tmp / 'r'}"],
            stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while b"Ray runtime started" not in log.read_bytes():
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray start --head did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
        info = {"gcs": f"127.0.0.1:{gcs}", "client": f"ray://127.0.0.1:{client}", "env": env, "tmp": tmp}
        _wait_until_serving(info)
        yield info
    finally:
        _stop_group(head)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.parametrize("how", ["client", "auto"])
def test_ray_cluster_address_writes_the_loky_shards(ray_cluster, tmp_path, how):
    env = dict(ray_cluster["env"])
    if how == "auto":
        env["RAY_ADDRESS"] = ray_cluster["gcs"]  # how `auto` finds the cluster this machine belongs to
    scheduler = ray_cluster["client"] if how == "client" else "auto"
    out = tmp_path / "o"
    n = sum(PARAMS["splits"].values())
    # the pattern job's command line takes one size; the job itself is checked in-process above
    cmd = [sys.executable, "-m", "blurgen.commands.pattern", "--out", str(out), "--n", str(n), "--size", "10x12",
           "--arrays", "blur,flow,valid", "--samples-per-shard", "3", "--seed", "5", "--backend", "ray",
           "--scheduler", scheduler, "--quiet"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    if res.returncode:
        pytest.fail(res.stderr[-3000:] + "\n" + _client_logs(ray_cluster))
    ref = tmp_path / "ref"
    run(PatternJob(None, {"splits": {"train": n}, "sizes": [[10, 12]], "arrays": ["blur", "flow", "valid"]}), ref,
        samples_per_shard=3, workers=2, backend="loky", seed=5, quiet=True)
    assert shard_hashes(out) == shard_hashes(ref) and len(shard_hashes(ref)) == 5
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
