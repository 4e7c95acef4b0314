"""The pipeline compresses samples in a background thread (``blurgen.pipeline.packing``):
the shards must be ``write_shard``'s bytes, and a failure there must end the run as a
failure of the write itself would."""

import hashlib
import json

import pytest

from blurgen.errors import InputError
from blurgen.jobs.pattern import PatternJob
from blurgen.pipeline import run
from blurgen.pipeline import packing
from blurgen.shards.writer import write_shard
from blurgen.utils import rng_for


def job():
    return PatternJob(None, {"splits": {"train": 9}, "sizes": [[40, 70]], "arrays": ["blur", "flow", "valid"]})


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("workers", [1, 2])
def test_shards_are_write_shards_bytes(tmp_path, workers):
    j = job()
    man = run(j, tmp_path / "out", workers=workers, samples_per_shard=4, tile=16, quiet=True)
    by_key = {t.key: t for t in j.tasks()}
    for entry in man["shards"]:
        keys = [s["key"] for s in man["samples"] if s["shard"] == entry["name"]]
        ref = write_shard(tmp_path / "ref.h5", [j.make(by_key[k], rng_for(0, k)) for k in keys],
                          attrs={"recipe_digest": man["recipe_digest"], "split": entry["split"]}, tile=16)
        assert sha(tmp_path / "out" / entry["name"]) == ref == entry["sha256"]


def test_a_failure_in_the_packing_thread_ends_the_run_cleanly(tmp_path, monkeypatch):
    real_pack = packing.pack_sample
    calls = []

    def failing(sample, *args):
        calls.append(sample.key)
        if len(calls) == 6:  # in the second shard
            raise MemoryError("no memory for the chunks")
        return real_pack(sample, *args)

    monkeypatch.setattr(packing, "pack_sample", failing)
    out = tmp_path / "out"
    with pytest.raises(MemoryError):
        run(job(), out, samples_per_shard=4, tile=16, quiet=True)
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "partial" and [s["name"] for s in man["shards"]] == ["train-00000-of-00003.h5"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "train-00000-of-00003.h5"]
    monkeypatch.setattr(packing, "pack_sample", real_pack)
    resumed = run(job(), out, samples_per_shard=4, tile=16, quiet=True, resume=True)
    clean = run(job(), tmp_path / "clean", samples_per_shard=4, tile=16, quiet=True)
    assert [s["sha256"] for s in resumed["shards"]] == [s["sha256"] for s in clean["shards"]]


class _WatchedJob(PatternJob):
    """A pattern job that tells which tasks it has started making."""

    started: list[str]

    def make(self, task, rng):
        self.started.append(task.key)
        return super().make(task, rng)


def test_a_shard_is_written_while_the_next_shards_samples_are_made(tmp_path, monkeypatch):
    # one worker: the samples are made in this process's loop thread. The first shard's
    # write waits (in the writer thread) until a sample of the second shard has been made;
    # a write in the loop's thread would wait for ever (here: 30 s, then the test fails)
    import threading

    j = _WatchedJob(None, job().params)
    j.started = []
    second_shard = threading.Event()
    real_write = packing.ShardPacker.write
    waited = []

    def write(self, path, pendings, attrs):
        if not waited:
            waited.append(second_shard.wait(30))
        return real_write(self, path, pendings, attrs)

    def make(task, rng):
        if len(j.started) == 4:
            second_shard.set()
        return _WatchedJob.make(j, task, rng)

    monkeypatch.setattr(packing.ShardPacker, "write", write)
    monkeypatch.setattr(j, "make", make)
    man = run(j, tmp_path / "out", workers=1, samples_per_shard=4, tile=16, quiet=True)
    assert waited == [True]
    clean = run(job(), tmp_path / "clean", samples_per_shard=4, tile=16, quiet=True)
    assert man["status"] == "complete"
    assert [s["sha256"] for s in man["shards"]] == [s["sha256"] for s in clean["shards"]]


@pytest.mark.parametrize("fail_at", ["write", "make"])
def test_a_run_ending_during_a_write_keeps_that_shard_or_drops_it_whole(tmp_path, monkeypatch, fail_at):
    # "write": the second shard's write fails (a full disk); "make": a sample of the third
    # shard fails while the second shard is being written
    import errno

    real_write = packing.ShardPacker.write
    writes = []

    def write(self, path, pendings, attrs):
        writes.append(path.name)
        if fail_at == "write" and len(writes) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_write(self, path, pendings, attrs)

    j = _WatchedJob(None, job().params)
    j.started = []

    def make(task, rng):
        if fail_at == "make" and len(j.started) == 8:
            raise RuntimeError("a bug in the job")
        return _WatchedJob.make(j, task, rng)

    monkeypatch.setattr(packing.ShardPacker, "write", write)
    monkeypatch.setattr(j, "make", make)
    out = tmp_path / "out"
    if fail_at == "write":  # the one line a full disk gets, counting the shards complete
        with pytest.raises(InputError, match=r"train-00001-of-00003.h5: No space left.*1 of 3 shards are complete"):
            run(j, out, workers=1, samples_per_shard=4, tile=16, quiet=True)
    else:
        with pytest.raises(RuntimeError, match="a bug in the job"):
            run(j, out, workers=1, samples_per_shard=4, tile=16, quiet=True)
    man = json.loads((out / "manifest.json").read_text())
    kept = ["train-00000-of-00003.h5"] + (["train-00001-of-00003.h5"] if fail_at == "make" else [])
    assert man["status"] == "partial" and [s["name"] for s in man["shards"]] == kept
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", *kept]
    assert all(sha(out / s["name"]) == s["sha256"] for s in man["shards"])
    monkeypatch.setattr(packing.ShardPacker, "write", real_write)
    resumed = run(job(), out, samples_per_shard=4, tile=16, quiet=True, resume=True)
    clean = run(job(), tmp_path / "clean", samples_per_shard=4, tile=16, quiet=True)
    assert [s["sha256"] for s in resumed["shards"]] == [s["sha256"] for s in clean["shards"]]
