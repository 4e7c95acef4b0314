"""The pipeline compresses samples in a background thread (``blurgen.pipeline.packing``):
the shards must be ``write_shard``'s bytes, and a failure there must end the run as a
failure of the write itself would."""

import hashlib
import json

import pytest

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
