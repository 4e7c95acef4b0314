"""Video files as frame sources: any file the ffmpeg of imageio-ffmpeg reads.

``--root`` is a video file or a folder of them (searched at any depth by extension,
:data:`VIDEO_EXTS`). Each video is one sequence named by its path relative to the root
without the extension (the file's stem for a single file); frames are numbered from 0 in
presentation order, every frame the file holds (no frame-rate conversion). The frame rate
comes from the container; ``--fps`` overrides the value recorded in the samples (a phone's
slow-motion file often says 30 fps for 240 fps capture). The override changes no pixels.

Decoding a window: a window's frames are decoded by one ffmpeg call that seeks to the
window (ffmpeg decodes from the keyframe before it and drops the frames before the
window), so a window costs its own frames plus at most one group of pictures, never the
whole stream before it. Seeking goes by the frames' presentation times, read once per
video from the container (:func:`frame_times`: packets only, no decoding), and is checked:
ffmpeg reports the time of every frame it returns, and a window whose times differ from
the expected ones is decoded again exactly from the stream (slow but exact; recorded in
the sample's meta as ``decode: "stream"``).

Consecutive windows (a run that covers a whole video) are decoded together instead
(:class:`WindowStream`): one ffmpeg call seeks to the first of them, as above, and then
reads on, every frame's time checked the same way, so the windows cost their share of one
stream decode plus one seek. A window the stream cannot give (a time that differs, an
error) is decoded by :func:`read_window` instead; the frames are the same either way.

A truncated file holds fewer frames than its container lists: the windows inside the
frames present are kept, the ones after are recorded as skipped with the reason, and a
window that reaches a frame ffmpeg cannot decode fails with InputError.
"""

from __future__ import annotations

import bisect
import os
import queue
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blurgen.errors import InputError
from blurgen.io import decoding
from blurgen.io.video import iter_video_frames, read_frame_bytes
from blurgen.sources.frames import describe_folder, walk_inputs

VIDEO_EXTS = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".mts", ".m2ts",
              ".ts", ".wmv", ".flv", ".3gp", ".y4m")
LAYOUT = "a video file, or a folder of video files (" + " ".join(VIDEO_EXTS[:6]) + " ...)"
# Presentation times of the returned frames must match the expected ones to this tolerance
# (seconds), and to a quarter of the shortest frame interval.
TIME_TOL = 1e-3
# How far a stream group's decoding may run ahead of the worker (FrameReadAhead): a few
# windows of 1280x720 frames, at least two frames of any size.
READ_AHEAD_BYTES = 64 << 20


@dataclass(frozen=True)
class VideoFile:
    """One video of a video source: ``name`` (key part), ``path`` posix relative to the root
    (``"."`` when the root is the file itself)."""

    name: str
    path: str


def find_videos(root: str | os.PathLike) -> list[VideoFile]:
    """The videos of ``--root`` (a file, or a folder searched at any depth), sorted by name.

    Raises InputError for a missing root, a folder without videos, or two videos whose names
    differ only by extension.
    """
    root = Path(root)
    if root.is_file():
        return [VideoFile(root.stem, ".")]
    if not root.is_dir():
        raise InputError(root, f"no video: found {describe_folder(root)}", f"expected {LAYOUT}")
    out: dict[str, VideoFile] = {}
    for folder, filenames in walk_inputs(root):
        for fn in filenames:
            p = folder / fn
            if fn.startswith(".") or p.suffix.lower() not in VIDEO_EXTS:
                continue
            rel = p.relative_to(root)
            name = rel.with_suffix("").as_posix()
            if name in out:
                raise InputError(p, f"two videos named {name} ({out[name].path} and {rel.as_posix()})",
                                 "rename one of them")
            out[name] = VideoFile(name, rel.as_posix())
    if not out:
        raise InputError(root, f"no video files found; found {describe_folder(root)}", f"expected {LAYOUT}")
    return [out[k] for k in sorted(out)]


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class FrameTimes:
    """Presentation times of a video's frames, read from the container's packets.

    ``times``: seconds, ascending, one per frame present in the file; ``start``: the
    container's start time (seconds; ffmpeg's ``-ss`` counts from it); ``partial``: True
    when the demuxer met the end of the data inside the file (a truncated file);
    ``keyframes``: indices (into ``times``) of the frames whose packets are keyframes, where
    decoding can start.
    """

    times: tuple[float, ...]
    start: float
    partial: bool
    keyframes: tuple[int, ...] = ()

    def keyframe_between(self, a: int, b: int) -> bool:
        """Whether a keyframe lies in frames ``a + 1 .. b``: a seek to frame ``b`` then
        decodes fewer than ``b - a`` frames before it."""
        i = bisect.bisect_right(self.keyframes, a)
        return i < len(self.keyframes) and self.keyframes[i] <= b

    def seek_position(self, first: int) -> float | None:
        """The ``-ss`` value that makes ffmpeg start at frame ``first`` (None for frame 0):
        halfway between the frame and the one before it, relative to the start time."""
        if first <= 0:
            return None
        return (self.times[first - 1] + self.times[first]) / 2.0 - self.start


def frame_times(path: str | os.PathLike) -> FrameTimes:
    """Read every video packet's presentation time (demux only: ``-c copy``, no decoding).

    Raises InputError when ffmpeg cannot open the file or finds no video packets.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "video file not found")
    if path.stat().st_size == 0:
        raise InputError(path, "cannot open video (zero bytes)")
    cmd = [_ffmpeg(), "-nostdin", "-hide_banner", "-copyts", "-i", f"file:{path}", "-map", "0:v:0",
           "-c", "copy", "-f", "framecrc", "-"]
    with decoding(path, "video"):
        res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, check=False)
        return _parse_frame_times(path, res)


def _parse_frame_times(path: Path, res: subprocess.CompletedProcess) -> FrameTimes:
    """FrameTimes from ffmpeg's framecrc output (stdout) and log (stderr)."""
    out = res.stdout.decode("ascii", errors="replace")
    err = res.stderr.decode("utf-8", errors="replace")
    tb = None
    pts: list[int] = []
    key_pts: list[int] = []
    for ln in out.splitlines():
        if ln.startswith("#tb 0:"):
            a, b = ln.split(":", 1)[1].strip().split("/")
            tb = (int(a), int(b))
        elif ln.startswith("0,"):
            fields = [x.strip() for x in ln.split(",")]
            if len(fields) >= 3 and fields[2].lstrip("-").isdigit():
                pts.append(int(fields[2]))
                # framecrc prints a packet's flags (F=0x..) unless they are exactly "key"
                flags = next((f[2:] for f in fields[6:] if f.startswith("F=")), "0x1")
                if int(flags, 16) & 1:
                    key_pts.append(pts[-1])
    if res.returncode != 0 and not pts:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        raise InputError(path, f"cannot open video ({lines[-1].strip() if lines else 'ffmpeg failed'})")
    if tb is None or not pts:
        raise InputError(path, "no video frames found", "is this a video file?")
    m = re.search(r"Duration: [^,]*, start: (-?[\d.]+)", err)
    start = float(m.group(1)) if m else 0.0
    order = sorted(pts)
    times = tuple(float(p) * tb[0] / tb[1] for p in order)
    partial = "partial file" in err or res.returncode != 0
    keyframes = tuple(sorted(bisect.bisect_left(order, p) for p in set(key_pts)))
    return FrameTimes(times=times, start=start, partial=partial, keyframes=keyframes)


def _seek_command(path: Path, seek: float | None, count: int) -> list[str]:
    """ffmpeg from ``seek`` for ``count`` frames: raw RGB on stdout, each frame's time on stderr."""
    # level+info: showinfo's per-frame lines (level info) and errors, each line tagged
    cmd = [_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "level+info", "-copyts"]
    if seek is not None:
        cmd += ["-ss", f"{seek:.9f}"]
    return cmd + ["-noautorotate", "-i", f"file:{path}", "-map", "0:v:0", "-fps_mode", "passthrough",
                  "-vf", "showinfo=checksum=0", "-frames:v", str(int(count)),
                  "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]


_PTS_TIME = re.compile(r"\bpts_time:(-?[\d.]+)")


def _decode_seek(path: Path, seek: float | None, count: int, size: tuple[int, int]
                 ) -> tuple[list[np.ndarray], list[float], str]:
    """Run ffmpeg from ``seek``; return (frames, their presentation times, error text)."""
    h, w = size
    res = subprocess.run(_seek_command(path, seek, count), stdin=subprocess.DEVNULL, capture_output=True,
                         check=False)
    err = res.stderr.decode("utf-8", errors="replace")
    times = [float(t) for t in _PTS_TIME.findall(err)]
    errors = "\n".join(ln for ln in err.splitlines() if "[error]" in ln or "[fatal]" in ln)
    if res.returncode != 0 and not errors:
        errors = err.strip().splitlines()[-1] if err.strip() else f"ffmpeg exit status {res.returncode}"
    nbytes = h * w * 3
    data = res.stdout
    frames = [np.frombuffer(data, np.uint8, nbytes, k * nbytes).reshape(h, w, 3).copy()
              for k in range(len(data) // nbytes)]
    return frames, times, errors


def _strip_tags(line: str) -> str:
    """An ffmpeg log line without its ``[name @ 0x...]`` and ``[level]`` tags."""
    return re.sub(r"\[[^\]]*\]\s*", "", line).strip()


def _decode_stream(path: Path, first: int, count: int) -> list[np.ndarray]:
    """Frames ``first .. first + count - 1`` decoded from the start of the stream (exact, slow)."""

    out: list[np.ndarray] = []
    it = iter_video_frames(path, start=first)
    try:
        for frame in it:
            out.append(frame)
            if len(out) == count:
                break
    finally:
        it.close()
    return out


def read_window(path: str | os.PathLike, first: int, count: int, size: tuple[int, int],
                seek: float | None = None, expect: list[float] | None = None,
                tol: float = TIME_TOL) -> tuple[list[np.ndarray], str]:
    """Decode frames ``first .. first + count - 1`` of a video; return ``(frames, how)``.

    ``size`` is ``(H, W)``. ``seek`` (from :meth:`FrameTimes.seek_position`) and ``expect``
    (the frames' presentation times, seconds) enable the fast path: one ffmpeg call from
    the nearest keyframe, accepted when the returned frames' times match ``expect`` within
    ``tol`` seconds (``how = "seek"``). Otherwise, or without ``expect``, the frames are
    decoded from the start of the stream (``how = "stream"``).

    ``frames``: ``count`` arrays ``(H, W, 3) uint8`` RGB. Raises InputError when they cannot
    all be decoded (truncated or corrupt file).
    """
    path = Path(path)
    last = first + count - 1
    if expect is not None and (first == 0 or seek is not None):
        with decoding(path, f"frames {first}..{last}"):
            frames, got, errors = _decode_seek(path, seek, count, size)
        # ffmpeg reads and decodes ahead of the frames it returns: an error after the
        # window's frames (a truncated file's end) does not concern this window.
        if len(frames) < count and errors:
            raise InputError(path, f"cannot decode frames {first}..{last}: decoded {len(frames)}; "
                             f"ffmpeg: {_strip_tags(errors.splitlines()[-1])}")
        if len(frames) == count and len(got) >= count and np.allclose(got[:count], expect, rtol=0, atol=tol):
            return frames, "seek"
    frames = _decode_stream(path, first, count)
    if len(frames) < count:
        raise InputError(path, f"video ends at frame {first + len(frames) - 1}: window {first}..{last} "
                         "is incomplete (truncated or corrupt file)")
    return frames, "stream"


def time_tolerance(times: FrameTimes) -> float:
    """Tolerance (seconds) for matching frame times: TIME_TOL, at most a quarter frame."""
    steps = np.diff(times.times)
    return min(TIME_TOL, float(steps.min()) / 4) if len(steps) and steps.min() > 0 else TIME_TOL


class FrameReadAhead:
    """Frames read from an ffmpeg pipe by a thread, up to READ_AHEAD_BYTES ahead of the
    consumer: ffmpeg decodes the next frames while the worker averages and estimates flow
    (a pipe holds a fraction of a frame, so without it ffmpeg stops until the next read,
    and its decoding threads start cold). ``next()`` gives each frame's bytes in order, or
    None once the pipe gave fewer than ``frame_bytes`` (an error, the end); ``stop()``
    after the process is killed ends the thread."""

    def __init__(self, pipe, frame_bytes: int, n_frames: int):
        self._pipe, self._size, self._left = pipe, frame_bytes, n_frames
        self._queue: queue.Queue = queue.Queue(maxsize=max(2, READ_AHEAD_BYTES // max(frame_bytes, 1)))
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="blurgen-read-ahead", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while self._left > 0 and not self._stopping.is_set():
                buf, got = read_frame_bytes(self._pipe, self._size)
                self._left -= 1
                if got < self._size:
                    break
                self._put(buf)
        except (OSError, ValueError):  # the pipe failed or was closed: the end, as a short read
            pass
        finally:
            self._put(None)  # after the last frame, a short read or a failed read

    def _put(self, item) -> None:
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def next(self) -> bytearray | None:
        item = self._queue.get()
        if item is None:
            self._queue.put(None)  # every later call ends too
        return item

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()


class WindowStream:
    """Consecutive windows of one video from one ffmpeg call: a seek to the first frame
    (``seek``: :meth:`FrameTimes.seek_position`), then ``n_frames`` frames in order, each
    frame's presentation time read from ffmpeg's log and checked as :func:`read_window`
    checks a window's.

    ``window(first, count, expect, tol)`` returns the next window's frames (``(H, W, 3)``
    uint8 RGB), or None when the stream cannot give them: not the next frames, a time that
    differs, fewer frames than asked (an error, the end of a truncated file). After None
    the stream is closed; the caller decodes with :func:`read_window`, which then gives the
    frames or the error as it always does. A context manager (closes ffmpeg).
    """

    def __init__(self, path: str | os.PathLike, first: int, n_frames: int, size: tuple[int, int],
                 seek: float | None):
        self.path, self.first, self.next = Path(path), first, first
        self.size = size
        self._log = tempfile.TemporaryFile()
        self._read, self._pending = 0, b""
        self._times: list[float] = []
        with decoding(self.path, f"frames {first}..{first + n_frames - 1}"):
            self._proc = subprocess.Popen(_seek_command(self.path, seek, n_frames), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=self._log, bufsize=0)
        self._ahead = FrameReadAhead(self._proc.stdout, size[0] * size[1] * 3, n_frames)

    def __enter__(self) -> WindowStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def window(self, first: int, count: int, expect: list[float], tol: float = TIME_TOL) -> list[np.ndarray] | None:
        if self._proc is None or first != self.next:
            self.close()
            return None
        h, w = self.size
        frames = []
        for _ in range(count):
            buf = self._ahead.next()
            if buf is None:
                self.close()
                return None
            frames.append(np.frombuffer(buf, np.uint8).reshape(h, w, 3))
        got_times = self._logged_times(first - self.first + count)[first - self.first:]
        if len(got_times) < count or not np.allclose(got_times, expect, rtol=0, atol=tol):
            self.close()
            return None
        self.next = first + count
        return frames

    def _logged_times(self, n: int, wait_s: float = 1.0) -> list[float]:
        """The first ``n`` logged frame times (fewer if ffmpeg has logged fewer within
        ``wait_s`` or has ended)."""
        deadline = time.monotonic() + wait_s
        while len(self._read_times()) < n and self._proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        return self._read_times()[:n]

    def _read_times(self) -> list[float]:
        """The times of the frames ffmpeg has logged so far (a frame is logged before it is
        written to the pipe). ``pread``: ffmpeg shares the file's offset, which a seek or
        read here would move under it."""
        fd = self._log.fileno()
        while chunk := os.pread(fd, 1 << 16, self._read):
            self._read += len(chunk)
            self._pending += chunk
        end = self._pending.rfind(b"\n") + 1
        lines, self._pending = self._pending[:end], self._pending[end:]
        self._times += [float(t) for t in _PTS_TIME.findall(lines.decode("utf-8", errors="replace"))]
        return self._times

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._ahead.stop()
            self._proc.wait()
            self._proc.stdout.close()
            self._proc = None
        self._log.close()
