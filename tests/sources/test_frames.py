"""The frames source: any folder of numbered frames, or folders of such folders."""

import json

import numpy as np
import pytest

from blurgen.errors import InputError
from blurgen.sources.frames import digit_width, find_frame_sequences
from real_helpers import write_frames

F = [np.zeros((4, 6, 3), np.uint8)] * 5


def test_root_holding_frames_is_one_sequence(tmp_path):
    root = tmp_path / "clip"
    write_frames(root, range(3, 8), F, digits=4)
    (seq,) = find_frame_sequences(root)
    assert seq.name == "clip" and seq.folder == "." and seq.split == "train"
    assert seq.indices == [3, 4, 5, 6, 7] and seq.digits == 4
    assert seq.relpath(5) == "0005.png"


def test_nested_folders_any_depth_with_split_rule(tmp_path):
    write_frames(tmp_path / "a", range(5), F)
    write_frames(tmp_path / "b" / "c", range(10, 15), F, ext=".jpg")
    (tmp_path / "b" / "notes.txt").write_text("not a frame")
    (tmp_path / "empty").mkdir()
    seqs = find_frame_sequences(tmp_path, lambda name: "test" if name == "b/c" else "train")
    assert [s.name for s in seqs] == ["a", "b/c"]
    assert [s.split for s in seqs] == ["train", "test"]
    assert seqs[1].relpath(12) == "b/c/000012.jpg" and seqs[1].sequence == "c"


def test_blurgen_datasets_under_the_root_are_not_sequences(tmp_path):
    write_frames(tmp_path / "a", range(5), F)
    for name in ("done", "running", "theirs"):  # each would be a sequence of numbered frames
        write_frames(tmp_path / name, range(5), F)
    (tmp_path / "done" / "manifest.json").write_text(json.dumps({"schema": 1, "blurgen": {"version": "0.1.0"}}))
    (tmp_path / "running" / ".blurgen.lock").write_text("")
    (tmp_path / "theirs" / "manifest.json").write_text(json.dumps({"files": ["000000.png"]}))  # not blurgen's
    (tmp_path / "a" / "manifest.json").write_text("{not json")
    assert [s.name for s in find_frame_sequences(tmp_path)] == ["a", "theirs"]


def test_wrong_roots_say_what_was_expected_and_found(tmp_path):
    with pytest.raises(InputError, match=r"missing.*does not exist.*expected <root>/NNNNNN.png"):
        find_frame_sequences(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no numbered image files found; found an empty folder"):
        find_frame_sequences(tmp_path / "empty")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("x")
    with pytest.raises(InputError, match=r"found readme.txt"):
        find_frame_sequences(tmp_path / "docs")
    f = tmp_path / "file.png"
    f.write_bytes(b"x")
    with pytest.raises(InputError, match="not a folder"):
        find_frame_sequences(f)


def test_unnumbered_image_is_listed_as_ignored(tmp_path):
    # left out of the frames and named, so the job can record it (or stop, with --on-error fail)
    write_frames(tmp_path, range(3), F[:3])
    write_frames(tmp_path, [0], F[:1])  # same names: fine
    (tmp_path / "cover.png").write_bytes((tmp_path / "000000.png").read_bytes())
    (seq,) = find_frame_sequences(tmp_path)
    assert [name for name, _ in seq.ignored] == ["cover.png"]
    assert seq.ignored[0][1].startswith("frame file name has no number")
    assert seq.indices == [0, 1, 2]


def test_entries_named_like_frames_that_are_no_files_are_listed_as_ignored(tmp_path):
    # a folder or a broken link in place of a frame: not a frame, and named with what it is,
    # so the run does not report only "frame 3 is missing"
    write_frames(tmp_path, [0, 1, 2, 4], F[:4])
    (tmp_path / "000003.png").mkdir()
    (tmp_path / "000005.png").symlink_to(tmp_path / "gone.png")
    (seq,) = find_frame_sequences(tmp_path)
    assert seq.indices == [0, 1, 2, 4]
    assert dict(seq.ignored) == {
        "000003.png": "a folder, not an image file (replace it with the frame, or move it out of the folder)",
        "000005.png": "a broken link, not an image file (replace it with the frame, or move it out of the folder)"}


def test_digit_width():
    assert digit_width(["000001.png", "000123.png"]) == 6
    assert digit_width(["frame_1.png", "frame_10.png"]) == 1
    assert digit_width([]) == 1
