"""The real job through the whole pipeline: exact blur, labels, keys, skips and bad input."""

import json
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from blurgen.cli import cli
from blurgen.errors import ConfigError, InputError
from blurgen.io.frames import read_image, write_image
from blurgen.io.video import iter_video_frames
from blurgen.jobs.real import RealConfig, build
from blurgen.pipeline import run
from real_helpers import encode_video, gopro_tree, moving_frames, nfs_tree, read_all, truncate, write_frames


def mean_round_half_up(frames):
    return np.floor(np.stack(frames).astype(np.float64).mean(axis=0) + 0.5).astype(np.uint8)


def gamma_reference(frames):
    x = np.stack(frames).astype(np.float64) / 255.0
    return np.floor(np.mean(x ** 2.2, axis=0) ** (1 / 2.2) * 255.0 + 0.5).astype(np.uint8)


@pytest.mark.parametrize("averaging, reference", [("srgb", mean_round_half_up), ("gamma", gamma_reference)])
def test_stored_blur_is_the_rounded_mean_of_the_decoded_frames(tmp_path, averaging, reference):
    root = tmp_path / "gopro"
    gopro_tree(root)
    job = build({"source": "gopro", "flow_model": "dis", "averaging": averaging}, root)
    man = run(job, tmp_path / "out", quiet=True)
    got = read_all(tmp_path / "out")
    assert sorted(got) == sorted(t.key for t in job.tasks()) and len(got) == 6
    for t in job.tasks():
        arrays, meta = got[t.key]
        frames = [read_image(root / f) for f in t.payload["files"]]
        np.testing.assert_array_equal(arrays["blur"], reference(frames), err_msg=t.key)
        assert meta["averaging"] == averaging
    assert man["status"] == "complete"


def test_keys_meta_splits_and_planned_gap_skip(tmp_path):
    root = tmp_path / "gopro"
    gopro_tree(root)
    man = run(build({"source": "gopro", "flow_model": "dis"}, root), tmp_path / "out", quiet=True)
    keys = sorted(s["key"] for s in man["samples"])
    assert keys == [
        "gopro/test/GOPR0384_11_00/000001", "gopro/test/GOPR0384_11_00/000008",
        "gopro/train/GOPR0372_07_00/000001", "gopro/train/GOPR0372_07_00/000008",
        "gopro/train/GOPR0372_07_00/000023", "gopro/train/GOPR0372_07_00/000030",
    ]
    assert {s["split"] for s in man["samples"] if "/test/" in s["key"]} == {"test"}
    (skip,) = man["skipped"]
    assert skip["key"] == "gopro/train/GOPR0372_07_00/000015" and skip["kind"] == "planned"
    assert "frames 20..22 are missing" in skip["reason"]
    _, meta = read_all(tmp_path / "out")["gopro/train/GOPR0372_07_00/000023"]
    assert meta["frames"] == [23, 29] and meta["window"] == 7 and meta["stride"] == 7
    assert meta["sequence"] == "GOPR0372_07_00" and meta["split"] == "train" and meta["fps"] == 240.0
    assert meta["estimator"] == "dis" and meta["flow_mode"] == "direct" and meta["source"] == "gopro"
    # every frame a window uses is an input of the run
    files = {f["path"] for f in man["inputs"]["files"]}
    assert "GOPRO_Large_all/train/GOPR0372_07_00/000029.png" in files and len(files) == 6 * 7


def test_labels_are_first_to_last_both_ways_with_consistency(tmp_path):
    # The content moves 1 px left per frame: flow 1 -> 7 is (-6, 0), 7 -> 1 is (+6, 0).
    write_frames(tmp_path / "clip", range(7), moving_frames(7, 24, 32, dx=1))
    run(build({"source": "frames", "flow_model": "dis", "store_ends": True, "valid_bwd": True}, tmp_path / "clip"),
        tmp_path / "out", quiet=True)
    (key,) = read_all(tmp_path / "out")
    arrays, meta = read_all(tmp_path / "out")[key]
    assert key == "frames/clip/000000"
    assert np.median(arrays["flow"][..., 0]) == pytest.approx(-6, abs=0.2)
    assert np.median(arrays["flow_bwd"][..., 0]) == pytest.approx(6, abs=0.2)
    assert abs(np.median(arrays["flow"][..., 1])) < 0.2
    assert arrays["valid"].dtype == np.uint8 and 0.5 < arrays["valid"].mean() < 1.0
    assert arrays["valid"][:, :6].max() == 0  # these pixels move out of the frame (x - 6 < 0)
    # the backward mask lives on the last frame's grid: there the right edge leaves (x + 6 > 31)
    assert arrays["valid_bwd"].dtype == np.uint8 and 0.5 < arrays["valid_bwd"].mean() < 1.0
    assert arrays["valid_bwd"][:, -6:].max() == 0 and arrays["valid_bwd"][:, :6].mean() > 0.9
    # params without valid_bwd (a manifest from before it existed) make the samples of then
    run(build({"source": "frames", "flow_model": "dis", "store_ends": True}, tmp_path / "clip"),
        tmp_path / "old", quiet=True)
    old, _ = read_all(tmp_path / "old")[key]
    assert set(old) == set(arrays) - {"valid_bwd"}
    for name in old:
        np.testing.assert_array_equal(old[name], arrays[name])
    np.testing.assert_array_equal(arrays["first"], read_image(tmp_path / "clip" / "000000.png"))
    np.testing.assert_array_equal(arrays["last"], read_image(tmp_path / "clip" / "000006.png"))


def test_window_and_stride(tmp_path):
    write_frames(tmp_path / "c", range(20), moving_frames(20, 8, 8))
    job = build({"source": "frames", "flow_model": "dis", "window": 5, "stride": 3}, tmp_path / "c")
    assert [t.payload["frames"] for t in job.tasks()] == [[0, 4], [3, 7], [6, 10], [9, 13], [12, 16], [15, 19]]


@pytest.mark.parametrize("damage, reason", [
    ("corrupt", "cannot decode image"),
    ("empty", "zero bytes"),
    ("size", "frame is 40x24 but its sequence's frames are 32x24"),
])
def test_bad_frame_skips_its_window_with_the_reason(tmp_path, damage, reason):
    root = tmp_path / "gopro"
    gopro_tree(root)
    bad = root / "GOPRO_Large_all" / "train" / "GOPR0372_07_00" / "000010.png"
    if damage == "corrupt":
        bad.write_bytes(bad.read_bytes()[:40] + b"\0" * 200 + bad.read_bytes()[240:])
    elif damage == "empty":
        bad.write_bytes(b"")
    elif damage == "size":
        write_image(bad, np.zeros((24, 40, 3), np.uint8))
    job = build({"source": "gopro", "flow_model": "dis"}, root)
    man = run(job, tmp_path / "out", quiet=True)
    errs = [s for s in man["skipped"] if s["kind"] != "planned"]
    assert [s["key"] for s in errs] == ["gopro/train/GOPR0372_07_00/000008"]
    assert reason in errs[0]["reason"] and "000010.png" in errs[0]["reason"]
    assert len(man["samples"]) == 5  # every other window is there


def test_frame_vanishing_after_planning_names_the_file(tmp_path):
    root = tmp_path / "gopro"
    gopro_tree(root)
    job = build({"source": "gopro", "flow_model": "dis"}, root)
    task = next(t for t in job.tasks() if t.key == "gopro/train/GOPR0372_07_00/000008")
    (root / task.payload["files"][3]).unlink()
    with pytest.raises(InputError, match=r"000011.png: cannot read image"):
        job.make(task, None)


def test_on_error_fail_stops_with_the_message_and_keeps_what_was_written(tmp_path):
    root = tmp_path / "gopro"
    gopro_tree(root)
    (root / "GOPRO_Large_all" / "train" / "GOPR0372_07_00" / "000010.png").write_bytes(b"")
    job = build({"source": "gopro", "flow_model": "dis"}, root)
    with pytest.raises(InputError, match=r"000010.png: cannot decode image \(zero bytes\)"):
        run(job, tmp_path / "out", quiet=True, on_error="fail", samples_per_shard=1)
    man = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert man["status"] == "partial"
    for s in man["shards"]:
        assert (tmp_path / "out" / s["name"]).is_file()


def test_first_frame_unreadable_size_comes_from_the_next(tmp_path):
    write_frames(tmp_path / "c", range(14), moving_frames(14, 8, 10))
    (tmp_path / "c" / "000000.png").write_bytes(b"")
    job = build({"source": "frames", "flow_model": "dis"}, tmp_path / "c")
    assert [t.size for t in job.tasks()] == [(8, 10), (8, 10)]


def test_nfs_keys_and_jpeg_frames(tmp_path):
    nfs_tree(tmp_path / "nfs", names=("bee", "cup"), n=15)
    job = build({"source": "nfs", "flow_model": "dis"}, tmp_path / "nfs")
    keys = sorted(t.key for t in job.tasks())
    assert keys == ["nfs/bee/00001", "nfs/bee/00008", "nfs/cup/00001", "nfs/cup/00008"]
    man = run(job, tmp_path / "out", quiet=True)
    got = read_all(tmp_path / "out")
    t = next(t for t in job.tasks() if t.key == "nfs/cup/00008")
    frames = [read_image(tmp_path / "nfs" / f) for f in t.payload["files"]]
    np.testing.assert_array_equal(got[t.key][0]["blur"], mean_round_half_up(frames))
    assert {s["split"] for s in man["samples"]} <= {"train", "test"}


def test_video_windows_exact_and_truncation_recorded(tmp_path):
    full = encode_video(tmp_path / "full.mp4", moving_frames(60, 24, 32), gop=10,
                        extra=("-movflags", "+faststart"))
    vids = tmp_path / "vids"
    vids.mkdir()
    truncate(full, vids / "cut.mp4", 0.6)
    (vids / "full.mp4").write_bytes(full.read_bytes())
    job = build({"source": "video", "flow_model": "dis", "fps": 240}, vids)
    man = run(job, tmp_path / "out", quiet=True)
    got = read_all(tmp_path / "out")
    ref = list(iter_video_frames(full))
    full_keys = sorted(k for k in got if k.startswith("video/full/"))
    assert full_keys == [f"video/full/{i:06d}" for i in range(0, 56, 7)]
    for k in full_keys:
        first = int(k.rsplit("/", 1)[1])
        arrays, meta = got[k]
        np.testing.assert_array_equal(arrays["blur"], mean_round_half_up(ref[first:first + 7]))
        assert meta["fps"] == 240 and meta["container_fps"] == 240 and meta["decode"] == "seek"
    cut_kept = sorted(k for k in got if k.startswith("video/cut/"))
    assert cut_kept and all(got[k][0]["blur"].shape == (24, 32, 3) for k in cut_kept)
    for k in cut_kept:  # the windows before the cut are the same as in the whole file
        np.testing.assert_array_equal(got[k][0]["blur"], got[k.replace("/cut/", "/full/")][0]["blur"])
    cut_skips = [s for s in man["skipped"] if s["key"].startswith("video/cut/")]
    assert any("video truncated: the container lists 60 frames" in s["reason"] for s in cut_skips)
    last_kept = int(cut_kept[-1].rsplit("/", 1)[1])
    skipped_firsts = sorted(int(s["key"].rsplit("/", 1)[1]) for s in cut_skips)
    assert skipped_firsts == list(range(last_kept + 7, 56, 7))  # every later window, with a reason


def test_a_short_video_and_one_without_video_are_recorded_not_dropped(tmp_path):
    from real_helpers import ffmpeg

    vids = tmp_path / "vids"
    vids.mkdir()
    encode_video(vids / "ok.mp4", moving_frames(14, 24, 32))
    encode_video(vids / "tiny.mp4", moving_frames(5, 24, 32))
    subprocess.run([ffmpeg(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=0.2", str(vids / "audio.mp4")], check=True)
    man = run(build({"source": "video", "flow_model": "dis"}, vids), tmp_path / "out", quiet=True)
    assert len(man["samples"]) == 2
    reasons = {s["key"]: s["reason"] for s in man["skipped"]}
    assert reasons["video/tiny"] == "video has 5 frame(s), fewer than a window of 7"
    assert reasons["video/audio"].endswith("audio.mp4: no video stream in this file (its streams: Audio)")


def test_config_errors():
    with pytest.raises(ConfigError, match="unknown source"):
        RealConfig(source="vimeo")
    with pytest.raises(ConfigError, match="--window"):
        RealConfig(source="gopro", window=1)
    with pytest.raises(ConfigError, match="--flow-mode"):
        RealConfig(source="gopro", flow_mode="sideways")
    with pytest.raises(ConfigError, match="unknown real-job setting"):
        RealConfig.from_params({"source": "gopro", "windw": 7})


# ---- the command ---------------------------------------------------------------------

def invoke(*args):
    return CliRunner().invoke(cli, ["real", *map(str, args)], catch_exceptions=False)


def test_cli_frames_with_split_file_and_crf_then_verify(tmp_path):
    for name in ("a", "b"):
        write_frames(tmp_path / "in" / name, range(14), moving_frames(14, 16, 16, seed=ord(name)))
    (tmp_path / "split.txt").write_text("a train\nb test\n")
    table = np.repeat((np.arange(256.0) / 255.0)[:, None] ** 1.8, 3, axis=1)
    np.save(tmp_path / "crf.npy", table)
    res = invoke("--source", "frames", "--root", tmp_path / "in", "--out", tmp_path / "out",
                 "--flow-model", "dis", "--split-file", tmp_path / "split.txt",
                 "--averaging", "crf", "--crf-file", tmp_path / "crf.npy", "--quiet")
    assert res.exit_code == 0, res.output
    man = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert {s["key"].split("/")[1]: s["split"] for s in man["samples"]} == {"a": "train", "b": "test"}
    assert man["job"]["params"]["split_file"] == "split.txt"
    assert man["job"]["params"]["flow_ckpt"] is None  # --flow-model drops the recipe's "things"
    _, meta = next(iter(read_all(tmp_path / "out").values()))
    assert meta["averaging"] == "crf" and meta["crf"] == "crf.npy"
    res = CliRunner().invoke(cli, ["verify", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output


def test_runs_with_out_inside_the_root_never_read_a_dataset_as_input(tmp_path):
    # users keep outputs beside their frames: a second run, a resume and a rerun must see
    # the same input (before, the first run's preview.png became an input "sequence")
    root = tmp_path / "frames"
    write_frames(root / "clip", range(14), moving_frames(14, 16, 16))

    def manifest(out):
        return json.loads((root / out / "manifest.json").read_text())

    for out, extra in (("o1", []), ("o2", []), ("o1", ["--resume"])):
        res = invoke("--source", "frames", "--root", root, "--out", root / out, "--flow-model", "dis", "--quiet", *extra)
        assert res.exit_code == 0, res.output
        assert manifest(out)["skipped"] == [] and len(manifest(out)["samples"]) == 2, out
        assert [f["path"] for f in manifest(out)["inputs"]["files"]] == [f"clip/{i:06d}.png" for i in range(14)]
    res = CliRunner().invoke(cli, ["rerun", str(root / "o1"), "--root", str(root), "--out", str(root / "o3")])
    assert res.exit_code == 0, res.output


def test_cli_errors_are_one_line(tmp_path):
    from blurgen.cli import main

    def run_main(*args):
        with pytest.raises(SystemExit) as e:
            main(["real", *map(str, args)])
        return e.value.code

    (tmp_path / "empty").mkdir()
    assert run_main("--source", "gopro", "--root", tmp_path / "empty", "--out", tmp_path / "o1",
                    "--flow-model", "dis") == 1
    assert run_main("--source", "frames", "--root", tmp_path / "empty", "--out", tmp_path / "o2",
                    "--flow-model", "none") == 1
    assert run_main("--source", "frames", "--root", tmp_path / "empty", "--out", tmp_path / "o3",
                    "--flow-model", "dis", "--crf-file", tmp_path / "x.npy") == 1


def test_cli_error_messages(tmp_path, capsys):
    from blurgen.cli import main

    (tmp_path / "empty").mkdir()
    for args, msg in [
        (["--source", "gopro", "--root", tmp_path / "empty", "--flow-model", "dis"],
         "not a GoPro tree: found an empty folder (expected GOPRO_Large_all/{train,test}/<sequence>/NNNNNN.png)"),
        (["--source", "nfs", "--root", tmp_path / "empty", "--flow-model", "dis"], "expected <root>/<sequence>/240"),
        (["--source", "frames", "--root", tmp_path / "empty", "--flow-model", "none"], "--flow-model none makes no"),
        (["--source", "frames", "--root", tmp_path / "empty", "--flow-model", "dis", "--crf-file", "x.npy"],
         "--crf-file needs --averaging crf"),
    ]:
        with pytest.raises(SystemExit):
            main(["real", *map(str, args), "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1, err


def test_cli_realshort_video_with_fps_verify_and_rerun(tmp_path):
    from real_helpers import REALSHORT

    if not REALSHORT.is_file():
        pytest.skip(f"real fixture missing: {REALSHORT} (set $BLURGEN_REALDATA to the shared realdata folder)")
    res = invoke("--source", "video", "--root", REALSHORT, "--fps", 240, "--flow-model", "dis",
                 "--out", tmp_path / "out", "--quiet")
    assert res.exit_code == 0, res.output
    man = json.loads((tmp_path / "out" / "manifest.json").read_text())
    # 36 frames: windows at 0, 7, ..., 28; the root folder and the file are recorded apart
    assert sorted(s["key"] for s in man["samples"]) == [f"video/realshort/{i:06d}" for i in range(0, 29, 7)]
    assert man["inputs"]["files"][0]["path"] == "realshort.mp4" and man["job"]["params"]["file"] == "realshort.mp4"
    got = read_all(tmp_path / "out")
    ref = list(iter_video_frames(REALSHORT))
    arrays, meta = got["video/realshort/000014"]
    np.testing.assert_array_equal(arrays["blur"], mean_round_half_up(ref[14:21]))
    assert meta["fps"] == 240 and meta["container_fps"] == pytest.approx(30.02) and meta["decode"] == "seek"
    assert CliRunner().invoke(cli, ["verify", str(tmp_path / "out")]).exit_code == 0
    res = CliRunner().invoke(cli, ["rerun", str(tmp_path / "out" / "manifest.json"), "--out", str(tmp_path / "again")])
    assert res.exit_code == 0, res.output
