import hashlib
import json
import os
import subprocess
import sys

import pytest

from blurgen.errors import ConfigError, InputError
from blurgen.jobs import build_job
from blurgen.jobs.pattern import PatternJob
from blurgen.pipeline import Task, plan_shards, run
from blurgen.shards.reader import ShardReader
from blurgen.utils import key_digest


def shard_hashes(out):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.h5"))}


def pattern(**params):
    base = {"splits": {"train": 14, "test": 5}, "sizes": [[12, 16], [10, 14]]}
    return PatternJob(None, {**base, **params})


def go(job, out, **kw):
    kw.setdefault("samples_per_shard", 4)
    kw.setdefault("quiet", True)
    return run(job, out, **kw)


# -- planning ------------------------------------------------------------------------
def test_plan_orders_by_key_hash_and_names_shards():
    tasks = [Task(f"k{i}", "train" if i % 3 else "test", (8, 8) if i % 2 else (6, 6)) for i in range(20)]
    plans = plan_shards(tasks, samples_per_shard=3)
    by_split = {}
    for p in plans:
        by_split.setdefault(p.split, []).append(p)
        assert len(p.tasks) <= 3 and all(t.size == p.size and t.split == p.split for t in p.tasks)
        digests = [key_digest(t.key) for t in p.tasks]
        assert digests == sorted(digests)
    for split, ps in by_split.items():
        n = len(ps)
        assert [p.name for p in ps] == [f"{split}-{i:05d}-of-{n:05d}.h5" for i in range(n)]
    assert sorted(t.key for p in plans for t in p.tasks) == sorted(t.key for t in tasks)
    # the plan depends on the keys, not on the order the job lists them in
    assert plan_shards(tasks[::-1], samples_per_shard=3) == plans


def test_limit_keeps_the_first_tasks_in_hash_order():
    tasks = [Task(f"k{i}", "train", (8, 8)) for i in range(30)]
    kept = [t.key for p in plan_shards(tasks, 100, limit=7) for t in p.tasks]
    assert kept == [t.key for t in sorted(tasks, key=lambda t: key_digest(t.key))][:7]


def test_duplicate_keys_are_refused():
    with pytest.raises(ConfigError, match="duplicate sample key 'a'"):
        plan_shards([Task("a", "train", (4, 4)), Task("b", "train", (4, 4)), Task("a", "test", (4, 4))])


# -- determinism ---------------------------------------------------------------------
def test_one_and_two_workers_give_identical_shards(tmp_path):
    job = pattern(arrays=["blur", "flow", "valid"])
    m1 = go(job, tmp_path / "w1", workers=1)
    m2 = go(job, tmp_path / "w2", workers=2, backend="loky")
    h1, h2 = shard_hashes(tmp_path / "w1"), shard_hashes(tmp_path / "w2")
    assert h1 == h2 and len(h1) == len(m1["plan"]["shards"]) >= 4
    assert m1["samples"] == m2["samples"]
    assert {s["sha256"] for s in m1["shards"]} == set(h1.values())
    # another seed gives other content
    go(job, tmp_path / "s1", seed=1)
    assert shard_hashes(tmp_path / "s1") != h1


def _opencv_threads_around_make_one(job, task):
    """In a worker: OpenCV's pool size after make_one, and joblib's budget."""
    import cv2

    from blurgen.pipeline.worker import make_one

    make_one(job, task, 0, own_process=True)
    return cv2.getNumThreads(), os.environ.get("OMP_NUM_THREADS")


def test_worker_processes_size_opencv_to_their_share_of_the_cores():
    from joblib import Parallel, cpu_count, delayed

    job = pattern()
    task = next(iter(job.tasks()))
    workers = 2
    got = Parallel(n_jobs=workers, backend="loky")(
        delayed(_opencv_threads_around_make_one)(job, task) for _ in range(workers))
    share = max(1, cpu_count() // workers)  # joblib's rule, with its count (cgroup and affinity aware)
    for threads, omp in got:
        assert omp == str(share)  # the budget joblib gives OpenMP and BLAS in its workers
        # OpenCV's pool is sized to it (by default it is as large as the machine: two workers
        # on two cores would run four threads)
        assert threads == share


def test_dask_cluster_gives_identical_shards(tmp_path):
    pytest.importorskip("dask.distributed")
    job = pattern()
    go(job, tmp_path / "local")
    go(job, tmp_path / "dask", workers=2, backend="dask")
    assert shard_hashes(tmp_path / "local") == shard_hashes(tmp_path / "dask")


def test_manifest_records_samples_where_they_are(tmp_path):
    out = tmp_path / "o"
    m = go(pattern(), out, command=["blurgen", "test"])
    assert json.loads((out / "manifest.json").read_text()) == m
    assert m["status"] == "complete" and m["command"] == ["blurgen", "test"]
    assert m["job"]["kind"] == "pattern" and m["seed"] == 0
    assert set(m["versions"]) >= {"python", "torch", "numpy", "opencv-python", "h5py", "ptlflow"}
    assert len(m["samples"]) == 19
    for s in m["samples"]:
        with ShardReader(out / s["shard"]) as r:
            assert r.keys()[s["index"]] == s["key"]
            assert s["shard"].startswith(s["split"] + "-")
    assert not list(out.glob(".*"))  # no lock or temporary file left


def test_summary_line_on_stderr(tmp_path, capsys):
    job = pattern(skip_keys=["pattern/train/00001"], bad_keys=["pattern/test/00002"])
    run(job, tmp_path / "o", samples_per_shard=4)
    err = capsys.readouterr().err
    assert "wrote 17 samples in 6 shards" in err
    assert "skipped 2 (input-error 1, pattern skip 1)" in err and "samples/s" in err


def test_temporaries_of_killed_runs_are_removed(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / ".manifest.json.tmp-1").write_text("{}")  # names of earlier versions, too
    (out / ".train-00000-of-00004.h5.0a1b2c3d.tmp-99999").write_bytes(b"half")
    go(pattern(), out, resume=True)
    assert not list(out.glob(".*"))


def test_build_job_rebuilds_the_same_job():
    job = build_job("pattern", {"splits": {"train": 3}}, None)
    assert [t.key for t in job.tasks()] == ["pattern/train/00000", "pattern/train/00001", "pattern/train/00002"]
    with pytest.raises(ConfigError, match="unknown job kind 'nope'"):
        build_job("nope", {}, None)


# -- skips and errors ----------------------------------------------------------------
def test_skips_are_recorded_and_indices_compacted(tmp_path):
    job = pattern(
        bad_keys=["pattern/train/00003"], skip_keys=["pattern/train/00004"], planned_skip_keys=["pattern/test/00001"]
    )
    m = go(job, tmp_path / "o")
    kinds = {s["key"]: s for s in m["skipped"]}
    assert kinds["pattern/train/00003"]["kind"] == "input-error"
    assert "corrupt input (injected)" in kinds["pattern/train/00003"]["reason"]
    assert kinds["pattern/train/00004"]["kind"] == "skip" and kinds["pattern/train/00004"]["i"] == 4
    assert kinds["pattern/test/00001"]["kind"] == "planned"
    assert len(m["samples"]) == 19 - 3
    for shard in m["shards"]:
        idx = [s["index"] for s in m["samples"] if s["shard"] == shard["name"]]
        assert idx == list(range(shard["samples"]))


def test_on_error_fail_stops_and_keeps_completed_shards(tmp_path):
    bad = "pattern/train/00007"
    job = pattern(bad_keys=[bad])
    out = tmp_path / "o"
    with pytest.raises(InputError, match="corrupt input") as e:
        go(job, out, on_error="fail")
    assert bad in str(e.value)
    m = json.loads((out / "manifest.json").read_text())
    assert m["status"] == "partial"
    assert bad not in {s["key"] for s in m["samples"]}
    for s in m["shards"]:
        assert hashlib.sha256((out / s["name"]).read_bytes()).hexdigest() == s["sha256"]
    assert not list(out.glob(".*"))
    # finishing with --on-error skip equals a run that skipped from the start
    go(job, out, resume=True)
    go(job, tmp_path / "ref")
    assert shard_hashes(out) == shard_hashes(tmp_path / "ref")


def test_a_job_bug_is_not_swallowed(tmp_path):
    class Broken(PatternJob):
        def make(self, task, rng):
            s = super().make(task, rng)
            s.arrays = {k: v[:-1] for k, v in s.arrays.items()}
            return s

    with pytest.raises(ValueError, match=r"arrays are \(23, 32\) \(H, W\) but the task says \(24, 32\)"):
        go(Broken(None, {"splits": {"train": 2}}), tmp_path / "o")


# -- safety: existing output, locks, resume ------------------------------------------
def test_existing_output_needs_resume(tmp_path):
    out = tmp_path / "o"
    go(pattern(), out)
    with pytest.raises(ConfigError, match="already holds files .*--resume"):
        go(pattern(), out)
    before = shard_hashes(out)
    m = go(pattern(), out, resume=True)  # nothing left to do
    assert m["status"] == "complete" and shard_hashes(out) == before
    assert len(m["timings"]["runs"]) == 2


def test_resume_refuses_other_settings(tmp_path):
    out = tmp_path / "o"
    go(pattern(), out)
    with pytest.raises(ConfigError, match="different seed"):
        go(pattern(), out, resume=True, seed=5)
    with pytest.raises(ConfigError, match="different pipeline"):
        go(pattern(), out, resume=True, compression="none")
    with pytest.raises(ConfigError, match="different job"):
        go(pattern(content="smooth"), out, resume=True)


def test_resume_remakes_a_damaged_shard(tmp_path):
    out = tmp_path / "o"
    go(pattern(), out)
    before = shard_hashes(out)
    victim = sorted(before)[1]
    (out / victim).write_bytes(b"garbage")
    (out / ".train-00000-of-00004.h5.tmp-99999").write_bytes(b"half")
    go(pattern(), out, resume=True)
    assert shard_hashes(out) == before
    assert not list(out.glob(".*"))


def _hold_lock(out):
    """Hold OUT's run lock from this process, through a descriptor of its own, the way
    another run would (an OS lock: it conflicts with any other open file description)."""
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / ".blurgen.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.pwrite(fd, json.dumps({"pid": 4242, "host": os.uname().nodename, "started": "earlier"}).encode(), 0)
    return fd


def test_a_held_lock_refuses_a_second_run(tmp_path):
    out = tmp_path / "o"
    fd = _hold_lock(out)
    try:
        for resume in (False, True):
            with pytest.raises(ConfigError, match=r"being written by another run \(pid 4242, since earlier\)"):
                go(pattern(), out, resume=resume)
        assert json.loads((out / ".blurgen.lock").read_text())["pid"] == 4242  # the holder's file untouched
        assert sorted(p.name for p in out.iterdir()) == [".blurgen.lock"]
    finally:
        os.close(fd)
    m = go(pattern(), out)  # released: the next run takes it, and removes it at the end
    assert m["status"] == "complete" and not (out / ".blurgen.lock").exists()


def test_a_lock_file_of_a_killed_run_does_not_block(tmp_path):
    """An OS lock dies with its process: the file a killed run left is not a lock."""
    out = tmp_path / "o"
    out.mkdir()
    (out / ".blurgen.lock").write_text(json.dumps({"pid": 999999, "host": os.uname().nodename}))
    m = go(pattern(), out)  # nothing else in OUT: a new run
    assert m["status"] == "complete" and not (out / ".blurgen.lock").exists()


def test_a_second_process_is_refused_while_a_run_holds_the_lock(tmp_path):
    out = tmp_path / "o"
    fd = _hold_lock(out)
    cmd = [sys.executable, "-m", "blurgen.commands.pattern", "--out", str(out), "--n", "4", "--quiet"]
    try:
        second = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        os.close(fd)
    assert second.returncode == 1
    assert second.stderr.strip() == (f"Error: {out} is being written by another run (pid 4242, since earlier); "
                                     "wait for it to finish or choose another --out")
