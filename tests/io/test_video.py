import numpy as np
import pytest

from blurgen.errors import InputError
from blurgen.io.video import VideoInfo, iter_video_frames, probe_video


def _write_video(path, frames, fps=240, faststart=True):
    import imageio.v2 as iio

    params = ["-movflags", "+faststart"] if faststart else []
    w = iio.get_writer(str(path), format="FFMPEG", fps=fps, codec="libx264", quality=9,
                       macro_block_size=16, output_params=params)
    for f in frames:
        w.append_data(f)
    w.close()


def _ramp_frames(n=24, h=48, w=64):
    """Frames whose brightness grows with the index, with a red bar on the left (RGB order)."""
    frames = []
    for i in range(n):
        f = np.full((h, w, 3), 20 + (200 * i) // n, np.uint8)
        f[:, :8] = (230, 20, 20)
        frames.append(f)
    return frames


def test_own_240fps_video(tmp_path):
    frames = _ramp_frames()
    p = tmp_path / "clip_240.mp4"
    _write_video(p, frames)
    assert probe_video(p) == VideoInfo(fps=240.0, n_frames=24, width=64, height=48)
    out = list(iter_video_frames(p))
    assert len(out) == 24
    for got, want in zip(out, frames):
        assert got.shape == (48, 64, 3) and got.dtype == np.uint8
        assert np.abs(got.astype(int) - want).mean() < 4
    assert out[0][:, :4].mean(axis=(0, 1))[0] > 200 and out[0][:, :4].mean(axis=(0, 1))[2] < 60
    out[0][0, 0] = 0  # writable
    tail = list(iter_video_frames(p, start=20))
    assert len(tail) == 4
    np.testing.assert_array_equal(tail[0], out[20])


def test_truncated_video_yields_good_frames_then_raises(tmp_path):
    p = tmp_path / "clip.mp4"
    _write_video(p, _ramp_frames(60, 96, 128))
    cut = tmp_path / "clip_cut.mp4"
    data = p.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    assert probe_video(cut).n_frames == 60  # from the container's index
    got = []
    with pytest.raises(InputError, match=r"clip_cut\.mp4.*truncated or corrupt video: decoded \d+ of 60") as e:
        for f in iter_video_frames(cut):
            got.append(f)
    assert 0 < len(got) < 60
    assert "clip_cut.mp4" in str(e.value)


def test_bad_video_files(tmp_path):
    with pytest.raises(InputError, match="nothere.mp4.*not found"):
        probe_video(tmp_path / "nothere.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="empty.mp4.*zero bytes"):
        next(iter_video_frames(tmp_path / "empty.mp4"))
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all" * 100)
    with pytest.raises(InputError, match="junk.mp4.*cannot"):
        next(iter_video_frames(tmp_path / "junk.mp4"))


def test_real_video(realdata, tmp_path):
    src = realdata / "video" / "realshort.mp4"
    info = probe_video(src)
    assert (info.width, info.height, info.n_frames) == (320, 240, 36)
    assert info.fps == pytest.approx(30, abs=0.1)
    n = 0
    for f in iter_video_frames(src):
        assert f.shape == (240, 320, 3) and f.dtype == np.uint8
        n += 1
    assert n == 36
    # This file keeps its index at the end: a cut copy fails at open, before any frame.
    cut = tmp_path / "realshort_cut.mp4"
    cut.write_bytes(src.read_bytes()[:50_000])
    with pytest.raises(InputError, match="realshort_cut.mp4"):
        next(iter_video_frames(cut))
