"""Video source: listing, frame times from the container, exact windows by seeking."""

import subprocess
import threading
import time

import numpy as np
import pytest

from blurgen.errors import InputError
from blurgen.io.video import iter_video_frames, probe_video
from blurgen.sources.video import find_videos, frame_times, read_window, time_tolerance
from real_helpers import REALSHORT, encode_video, moving_frames, truncate


def _stream(path):
    return list(iter_video_frames(path))


def _check_all_windows(path, count=7, step=1):
    info = probe_video(path)
    ft = frame_times(path)
    ref = _stream(path)
    assert len(ft.times) == len(ref) == info.n_frames
    tol = time_tolerance(ft)
    hows = set()
    for first in range(0, len(ref) - count + 1, step):
        frames, how = read_window(path, first, count, (info.height, info.width), ft.seek_position(first),
                                  list(ft.times[first:first + count]), tol)
        hows.add(how)
        assert len(frames) == count
        for a, b in zip(frames, ref[first:first + count]):
            np.testing.assert_array_equal(a, b)
    return hows


def test_seek_windows_equal_stream_decoding_with_bframes_and_start_offset(tmp_path):
    # B-frames reorder decoding; a start time offset shifts every timestamp.
    path = encode_video(tmp_path / "v.mp4", moving_frames(40, 32, 48), gop=12, bframes=2,
                        extra=("-output_ts_offset", "1.5"))
    ft = frame_times(path)
    assert ft.start == pytest.approx(1.5, abs=1e-3) and not ft.partial
    assert np.allclose(np.diff(ft.times), 1 / 240, atol=1e-4)
    assert _check_all_windows(path, step=3) == {"seek"}


def test_realshort_windows(tmp_path):
    if not REALSHORT.is_file():
        pytest.skip(f"real fixture missing: {REALSHORT} (set $BLURGEN_REALDATA to the shared realdata folder)")
    assert _check_all_windows(REALSHORT, step=5) == {"seek"}


def test_wrong_expected_times_fall_back_to_exact_stream_decoding(tmp_path):
    path = encode_video(tmp_path / "v.mp4", moving_frames(20, 16, 16))
    ft = frame_times(path)
    ref = _stream(path)
    shifted = [t + 0.5 for t in ft.times[5:12]]
    frames, how = read_window(path, 5, 7, (16, 16), ft.seek_position(5), shifted, time_tolerance(ft))
    assert how == "stream"
    for a, b in zip(frames, ref[5:12]):
        np.testing.assert_array_equal(a, b)


def test_truncated_video(tmp_path):
    full = encode_video(tmp_path / "full.mp4", moving_frames(60, 32, 48), extra=("-movflags", "+faststart"))
    cut = truncate(full, tmp_path / "cut.mp4", 0.6)
    ft = frame_times(cut)
    assert ft.partial and len(ft.times) < 60
    n_ok = len(ft.times) - 1  # the last packet is cut short
    ref = _stream(full)
    # a window inside the frames present decodes, whatever ffmpeg says about the end
    first = n_ok - 7 - 3
    frames, how = read_window(cut, first, 7, (32, 48), ft.seek_position(first), list(ft.times[first:first + 7]))
    assert how == "seek"
    for a, b in zip(frames, ref[first:first + 7]):
        np.testing.assert_array_equal(a, b)
    # a window reaching the cut fails with a message naming the file
    first = len(ft.times) - 7
    with pytest.raises(InputError, match=r"cut.mp4: cannot decode frames"):
        read_window(cut, first, 7, (32, 48), ft.seek_position(first), list(ft.times[first:first + 7]))


def test_find_videos_and_errors(tmp_path):
    encode_video(tmp_path / "a.mp4", moving_frames(8, 16, 16))
    (tmp_path / "sub").mkdir()
    encode_video(tmp_path / "sub" / "b.mov", moving_frames(8, 16, 16))
    (tmp_path / "notes.txt").write_text("x")
    assert [(v.name, v.path) for v in find_videos(tmp_path)] == [("a", "a.mp4"), ("sub/b", "sub/b.mov")]
    assert [(v.name, v.path) for v in find_videos(tmp_path / "a.mp4")] == [("a", ".")]
    with pytest.raises(InputError, match="no video files found; found empty/"):
        (tmp_path / "x" / "empty").mkdir(parents=True)
        find_videos(tmp_path / "x")
    (tmp_path / "a.mkv").write_bytes(b"")
    with pytest.raises(InputError, match="two videos named a"):
        find_videos(tmp_path)
    with pytest.raises(InputError, match="zero bytes"):
        frame_times(tmp_path / "a.mkv")
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all" * 10)
    with pytest.raises(InputError, match="junk.mp4: cannot open video"):
        frame_times(tmp_path / "junk.mp4")


def test_window_stream_gives_the_windows_of_a_seek_and_refuses_what_it_cannot(tmp_path):
    from blurgen.sources.video import WindowStream

    path = encode_video(tmp_path / "v.mp4", moving_frames(60, 16, 24), gop=12, bframes=2,
                        extra=("-output_ts_offset", "0.5"))
    ft = frame_times(path)
    assert ft.keyframes[:3] == (0, 12, 24)
    assert ft.keyframe_between(5, 12) and not ft.keyframe_between(12, 23)
    ref, tol = _stream(path), time_tolerance(ft)

    def times(first):
        return list(ft.times[first:first + 7])

    with WindowStream(path, 7, 35, (16, 24), ft.seek_position(7)) as s:
        for first in (7, 14, 21):
            for a, b in zip(s.window(first, 7, times(first), tol), ref[first:first + 7]):
                np.testing.assert_array_equal(a, b)
        assert s.window(35, 7, times(35), tol) is None  # not the next window (28 is)
        assert s.window(28, 7, times(28), tol) is None  # closed after a refusal
    with WindowStream(path, 7, 14, (16, 24), ft.seek_position(7)) as s:
        assert s.window(7, 7, [t + 1 / 240 for t in times(7)], tol) is None  # other frames than expected


def _cat(path):
    return subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE, bufsize=0)


def test_read_ahead_gives_whole_frames_in_order_then_none(tmp_path):
    from blurgen.sources.video import FrameReadAhead

    data = np.random.default_rng(0).integers(0, 256, 3 * 1000 + 400, dtype=np.uint8).tobytes()
    (tmp_path / "pipe.bin").write_bytes(data)
    proc = _cat(tmp_path / "pipe.bin")
    ahead = FrameReadAhead(proc.stdout, 1000, 5)
    assert [bytes(ahead.next()) for _ in range(3)] == [data[i * 1000:(i + 1) * 1000] for i in range(3)]
    assert ahead.next() is None and ahead.next() is None  # a short frame ends it, for good
    proc.wait()
    ahead.stop()
    proc.stdout.close()


def test_read_ahead_stops_while_its_queue_is_full_and_ffmpeg_runs(monkeypatch):
    import blurgen.sources.video as video

    monkeypatch.setattr(video, "READ_AHEAD_BYTES", 2000)  # two frames ahead
    proc = _cat("/dev/zero")  # an endless producer
    ahead = video.FrameReadAhead(proc.stdout, 1000, 10 ** 9)
    assert bytes(ahead.next()) == bytes(1000)
    deadline = time.monotonic() + 10
    while not ahead._queue.full() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ahead._queue.full() and ahead._queue.qsize() == 2  # bounded: it waits for the consumer
    proc.kill()
    stopper = threading.Thread(target=ahead.stop)
    stopper.start()
    stopper.join(10)
    assert not stopper.is_alive() and not ahead._thread.is_alive()
    proc.wait()
    proc.stdout.close()


def test_read_ahead_ends_on_a_failed_read():
    from blurgen.sources.video import FrameReadAhead

    class Broken:
        def readinto(self, view):
            raise OSError(5, "Input/output error")

    ahead = FrameReadAhead(Broken(), 1000, 5)
    assert ahead.next() is None and ahead.next() is None  # the end, not a hang
    ahead.stop()
