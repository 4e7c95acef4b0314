"""Videos decoded as one stream per group of consecutive windows must give the shards a
seek per window gives, byte for byte, with any number of workers, truncated files too."""

import hashlib
import json

import numpy as np
import pytest

import blurgen.jobs.real as real_job
import blurgen.jobs.real_stream as real_stream
from blurgen.errors import InputError
from blurgen.jobs.base import Task
from blurgen.jobs.real import build
from blurgen.pipeline import loop, run, waiting
from blurgen.sources.video import frame_times, read_window
from real_helpers import encode_video, moving_frames, truncate


def read_metas(out):
    from blurgen.shards.reader import ShardReader

    metas = []
    for p in sorted(out.glob("*.h5")):
        with ShardReader(p) as r:
            metas += [json.dumps(r.meta(i)) for i in range(len(r))]
    return metas


def shard_bytes(out):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.h5"))}


def stable(man):
    """What two runs making the same dataset must agree on in the manifest. The last line
    ffmpeg prints for a window it cannot decode varies from run to run (its threads race to
    report the cut), with a seek per window too: it is left out of the skip reasons."""
    skipped = [{**s, "reason": s["reason"].split("; ffmpeg:")[0]} for s in man["skipped"]]
    return {"skipped": skipped, **{k: man[k] for k in ("shards", "samples", "plan")}}


# Groups of 6..12 windows in these tests, so that the small clips below make several.
SMALL_MIN, SMALL_MAX = 6, 12


@pytest.fixture(autouse=True)
def small_groups(monkeypatch):
    monkeypatch.setattr(real_stream, "GROUP_MIN", SMALL_MIN)
    monkeypatch.setattr(real_stream, "GROUP_MAX", SMALL_MAX)


@pytest.fixture
def videos(tmp_path_factory):
    """A folder with a long clip (B-frames, GOP 30, 42 windows: several stream groups), a
    short one (5 windows: too few for a stream) and one cut (the window that reaches the
    cut fails to decode)."""
    d = tmp_path_factory.mktemp("videos")
    encode_video(d / "long.mp4", moving_frames(300, 24, 40, dx=2), gop=30, bframes=2, extra=("-movflags", "+faststart"))
    encode_video(d / "short.mp4", moving_frames(40, 24, 40, seed=3), gop=12)
    whole = encode_video(d.parent / "whole.mp4", moving_frames(240, 24, 40, dx=2), gop=10,
                         extra=("-movflags", "+faststart"))
    for fraction in np.arange(0.6, 0.95, 0.02):  # a cut inside a window the plan keeps
        cut = truncate(whole, d / "cut.mp4", fraction)
        ft = frame_times(cut)
        last = (len(ft.times) - 7) // 7 * 7
        try:
            read_window(cut, last, 7, (24, 40), ft.seek_position(last), list(ft.times[last:last + 7]))
        except InputError:
            return d
    pytest.fail("no cut leaves a window that fails to decode")


def counting_seeks(monkeypatch):
    """Count the windows decoded by a seek of their own (read_window), in this process."""
    calls = []
    real = real_job.read_window

    def counted(path, first, *args, **kw):
        calls.append((path.name, first))
        return real(path, first, *args, **kw)

    monkeypatch.setattr(real_job, "read_window", counted)
    return calls


def make(videos, out, **kw):
    job = build({"source": "video", "flow_model": "dis"}, videos)
    return run(job, out, quiet=True, samples_per_shard=5, **kw)


def test_stream_groups_give_the_bytes_of_a_seek_per_window(videos, tmp_path, monkeypatch):
    seeks = counting_seeks(monkeypatch)
    streamed = make(videos, tmp_path / "stream")
    streamed_seeks = sorted(seeks)
    seeks.clear()
    monkeypatch.setattr(real_job.RealJob, "groups", lambda self, tasks: None)  # a seek per window
    seeked = make(videos, tmp_path / "seek")
    failed = sorted(("cut.mp4", int(s["key"].rsplit("/", 1)[1])) for s in seeked["skipped"]
                    if s["kind"] == "input-error" and not s["reason"].startswith("video truncated"))
    assert len(failed) == 1 and len(seeks) == len(seeked["samples"]) + 1  # a seek per window
    # streaming: a window decodes by its own seek only where the stream cannot give it, or
    # where its video has too few windows for a stream
    short = sorted(("short.mp4", int(s["key"].rsplit("/", 1)[1])) for s in seeked["samples"]
                   if s["key"].startswith("video/short/"))
    assert len(short) < SMALL_MIN and streamed_seeks == sorted(failed + short)
    assert shard_bytes(tmp_path / "stream") == shard_bytes(tmp_path / "seek")
    assert stable(streamed) == stable(seeked)
    assert any(s["reason"].startswith("video truncated") for s in streamed["skipped"])
    assert {json.loads(m)["decode"] for m in read_metas(tmp_path / "stream")} == {"seek"}


def test_stream_groups_with_two_workers(videos, tmp_path, monkeypatch):
    one = make(videos, tmp_path / "w1")
    two = make(videos, tmp_path / "w2", workers=2)
    assert shard_bytes(tmp_path / "w1") == shard_bytes(tmp_path / "w2")
    assert stable(one) == stable(two)


def test_samples_made_ahead_wait_in_a_file_past_the_memory_budget(videos, tmp_path, monkeypatch):
    """With no memory to wait in, every sample made ahead of its shard goes through the
    waiting file and comes back the same; the file is gone when the run ends."""
    in_memory = make(videos, tmp_path / "memory")
    spilled = []
    real_spill = waiting.WaitingRoom._spill
    monkeypatch.setattr(waiting.WaitingRoom, "_spill", lambda self, p: spilled.append(p.key) or real_spill(self, p))
    monkeypatch.setattr(loop, "GROUP_BUFFER_BYTES", 1)
    on_disk = make(videos, tmp_path / "disk")
    assert len(spilled) > len(on_disk["samples"]) // 2
    assert shard_bytes(tmp_path / "disk") == shard_bytes(tmp_path / "memory")
    assert stable(on_disk) == stable(in_memory)
    assert not [p.name for p in (tmp_path / "disk").iterdir() if p.name.startswith(".waiting")]


def test_unpacked_compressions_stream_only_within_the_memory_budget(videos, tmp_path, monkeypatch):
    seeks = counting_seeks(monkeypatch)
    make(videos, tmp_path / "fits", compression="none")
    assert len([s for s in seeks if s[0] != "short.mp4"]) == 1  # the window at the cut
    seeks.clear()
    monkeypatch.setattr(loop, "GROUP_BUFFER_BYTES", 1)  # raw samples cannot wait in the file
    man = make(videos, tmp_path / "seeks", compression="none")
    assert len(seeks) == len(man["samples"]) + 1
    assert shard_bytes(tmp_path / "fits") == shard_bytes(tmp_path / "seeks")


def test_groups_follow_keyframes_and_leave_sparse_windows_alone(videos):
    job = build({"source": "video", "flow_model": "dis"}, videos)
    tasks = [t for t in job.tasks() if t.payload["video"] == "long.mp4"]
    groups = sorted(job.groups(tasks), key=lambda g: tasks[g[0]].payload["frames"][0])
    assert sorted(i for g in groups for i in g) == list(range(len(tasks)))
    assert len(groups) >= 3 and len(groups) <= -(-len(tasks) // SMALL_MAX) + 1
    keyframes = frame_times(videos / "long.mp4").keyframes
    assert keyframes[:3] == (0, 30, 60)
    for g in groups:
        firsts = [tasks[i].payload["frames"][0] for i in g]
        assert firsts == list(range(firsts[0], firsts[0] + 7 * len(g), 7))  # consecutive windows
        assert len(g) <= SMALL_MAX
    for g in groups[1:]:  # each later group starts at a window just after a keyframe
        first = tasks[g[0]].payload["frames"][0]
        assert any(first - 7 < k <= first for k in keyframes)
    assert all(len(g) >= SMALL_MIN for g in groups[:-1])
    # every third window (a sparse subset, as --limit leaves): no window has a neighbour
    assert [len(g) for g in job.groups(tasks[::3])] == [1] * len(tasks[::3])
    # planned order is not the video's: groups come in the order of their first planned task
    shuffled = [tasks[i] for i in np.random.default_rng(0).permutation(len(tasks))]
    firsts = [min(g) for g in job.groups(shuffled)]
    assert firsts == sorted(firsts) and firsts[0] == 0
    frames_job = build({"source": "frames", "flow_model": "dis"}, videos)
    assert frames_job.groups([]) is None


def _windows(n: int, key_every: int | None) -> list[Task]:
    """n consecutive 7-frame windows of one video; after_key on every key_every-th."""
    return [Task(f"v/{j}", "train", (8, 8), {"video": "v.mp4", "frames": [7 * j, 7 * j + 6],
                                             "after_key": bool(key_every) and j % key_every == 0})
            for j in range(n)]


def test_a_run_is_cut_into_equal_groups_at_keyframes(monkeypatch):
    """The rule of jobs.real_stream._cut with the real sizes (16..48 windows): the fewest
    groups of at most 48, of equal shares, each cut moved to the nearest window just after
    a keyframe that leaves 16..48 windows before it."""
    monkeypatch.setattr(real_stream, "GROUP_MIN", 16)
    monkeypatch.setattr(real_stream, "GROUP_MAX", 48)

    def sizes(tasks):
        return [len(g) for g in real_stream.stream_groups(tasks)]

    assert sizes(_windows(48, None)) == [48]  # one decoder start for a run that fits
    assert sizes(_windows(100, None)) == [34, 33, 33]  # no keyframe: 3 equal shares, cut mid-GOP
    # a keyframe every 10 windows: shares of 34 -> the key at 30; 70 left, shares of 35 ->
    # 65 lies between the keys at 60 and 70, the first is taken; 40 left fit one group
    assert sizes(_windows(100, 10)) == [30, 30, 40]
    assert sizes(_windows(15, 5)) == [1] * 15  # shorter than GROUP_MIN: a seek each


def test_a_resumed_stream_run_gives_the_same_dataset(videos, tmp_path):
    clean = make(videos, tmp_path / "clean")
    out = tmp_path / "out"
    make(videos, out)
    man = json.loads((out / "manifest.json").read_text())
    for entry in man["shards"][::2]:  # lose every other shard: the rest is made again
        (out / entry["name"]).unlink()
    resumed = make(videos, out, resume=True)
    assert shard_bytes(out) == shard_bytes(tmp_path / "clean")
    assert stable(resumed) == stable(clean)
