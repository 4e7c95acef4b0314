"""Kill a real pipeline process with SIGKILL at three moments; --resume must finish it into
exactly the dataset an uninterrupted run makes, with no temporary file left."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from blurgen.jobs.pattern import PatternJob
from blurgen.manifest import verify
from blurgen.pipeline import run

N, PER_SHARD, SIZE, DELAY = 300, 10, 16, 0.004
N_SHARDS = N // PER_SHARD


def shard_hashes(out):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.h5"))}


def cli(out, *extra):
    return [
        sys.executable, "-m", "blurgen.commands.pattern", "--out", str(out), "--n", str(N), "--size", f"{SIZE}x{SIZE}",
        "--samples-per-shard", str(PER_SHARD), "--delay", str(DELAY), "--quiet", *extra,
    ]


def shards_in_manifest(out):
    try:
        return len(json.loads((out / "manifest.json").read_text())["shards"])
    except (FileNotFoundError, ValueError, KeyError):
        return -1


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    job = PatternJob(None, {"splits": {"train": N}, "sizes": [[SIZE, SIZE]]})
    m = run(job, out, samples_per_shard=PER_SHARD, quiet=True)
    return shard_hashes(out), m["samples"]


# moments: a shard (or its temporary file) has just appeared; about half done; nearly done
MOMENTS = {
    "first-shard": lambda out: any(out.glob("*.h5")) or any(out.glob(".*.tmp-*")),
    "half": lambda out: shards_in_manifest(out) >= N_SHARDS // 2,
    "nearly-done": lambda out: shards_in_manifest(out) >= N_SHARDS - 3,
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_sigkill_then_resume_equals_uninterrupted(tmp_path, reference, moment):
    ref_hashes, ref_samples = reference
    out = tmp_path / "o"
    proc = subprocess.Popen(cli(out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not MOMENTS[moment](out):
            assert proc.poll() is None, f"run ended before the kill moment: {proc.stderr.read()}"
            assert time.monotonic() < deadline
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    # what the killed run left: every shard its manifest calls complete is whole
    if (out / "manifest.json").exists():
        m = json.loads((out / "manifest.json").read_text())
        assert m["status"] == "partial"
        for s in m["shards"]:
            assert hashlib.sha256((out / s["name"]).read_bytes()).hexdigest() == s["sha256"]
        assert len(m["shards"]) < N_SHARDS
    assert (out / ".blurgen.lock").exists()  # the killed run's lock is left behind

    # a plain rerun into the same folder is refused; --resume takes over the stale lock
    again = subprocess.run(cli(out), capture_output=True, text=True)
    assert again.returncode == 1 and "--resume" in again.stderr
    done = subprocess.run(cli(out, "--resume"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    assert shard_hashes(out) == ref_hashes
    m = json.loads((out / "manifest.json").read_text())
    assert m["status"] == "complete" and m["samples"] == ref_samples
    left = {p.name for p in out.iterdir()} - {"README.md", "preview.png"}  # the dataset card beside the shards
    assert sorted(left) == sorted([*ref_hashes, "manifest.json"])  # no temporary file, no lock
    assert verify(out).ok
