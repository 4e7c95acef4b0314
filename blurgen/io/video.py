"""Video files, read with the ffmpeg binary shipped by imageio-ffmpeg.

Frames are streamed one at a time as ``(H, W, 3)`` uint8 RGB, in decode order, with the
pixels as stored (rotation metadata is not applied) and no frames dropped or duplicated
(``-fps_mode passthrough``), so a 240 fps video gives every captured frame.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from blurgen.errors import InputError
from blurgen.io._decode import decoding


@dataclass(frozen=True)
class VideoInfo:
    """The first video stream of a file.

    ``fps``: average frame rate (frames per second) as the container reports it.
    ``n_frames``: for MP4/MOV, the sample count of the video track's sample table (read from
    the container, no decoding); for other containers, the number of video packets that
    ffmpeg demuxes (a stream copy, no decoding). ``width``, ``height``: pixels as stored.
    """

    fps: float
    n_frames: int
    width: int
    height: int


def _ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _check_exists(path: Path) -> None:
    if not path.is_file():
        raise InputError(path, "video file not found" if not path.exists() else "not a file")
    if path.stat().st_size == 0:
        raise InputError(path, "cannot open video (zero bytes)")


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "no message from ffmpeg"


# ---- MP4 / MOV sample table -------------------------------------------------------------

_TOP_LEVEL = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pdin", b"uuid", b"meta"}


def _iter_boxes(buf: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the ISO-BMFF boxes in ``buf[start:end]``."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", buf[pos : pos + 8])
        head = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack(">Q", buf[pos + 8 : pos + 16])[0]
            head = 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            return
        yield kind, pos + head, pos + size
        pos += size


def _find(buf: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for k, a, b in _iter_boxes(buf, start, end):
        if k == kind:
            return a, b
    return None


def _mp4_sample_count(path: Path) -> int | None:
    """Sample count of the first video track of an MP4/MOV, or None (other or fragmented)."""
    with open(path, "rb") as f:
        size_total = os.fstat(f.fileno()).st_size
        pos = 0
        moov = None
        first = True
        while pos + 8 <= size_total:
            f.seek(pos)
            head = f.read(16)
            if len(head) < 8:
                return None
            size, kind = struct.unpack(">I4s", head[:8])
            if first and kind not in _TOP_LEVEL:
                return None
            first = False
            if size == 1 and len(head) == 16:
                size = struct.unpack(">Q", head[8:16])[0]
            elif size == 0:
                size = size_total - pos
            if size < 8 or pos + size > size_total:
                return None  # a box beyond the end of the file: let ffmpeg judge the file
            if kind == b"moov":
                f.seek(pos)
                moov = f.read(size)
                break
            pos += size
    if moov is None or len(moov) < 8:
        return None
    if _find(moov, 8, len(moov), b"mvex") is not None:  # fragmented MP4: tables are empty
        return None
    for kind, a, b in _iter_boxes(moov, 8, len(moov)):
        if kind != b"trak":
            continue
        mdia = _find(moov, a, b, b"mdia")
        if mdia is None:
            continue
        hdlr = _find(moov, *mdia, b"hdlr")
        if hdlr is None or moov[hdlr[0] + 8 : hdlr[0] + 12] != b"vide":
            continue
        minf = _find(moov, *mdia, b"minf")
        stbl = minf and _find(moov, *minf, b"stbl")
        if not stbl:
            return None
        for table in (b"stsz", b"stz2"):
            box = _find(moov, *stbl, table)
            if box is not None and box[1] - box[0] >= 12:
                return struct.unpack(">I", moov[box[0] + 8 : box[0] + 12])[0]
        return None
    return None


# ---- ffmpeg ---------------------------------------------------------------------------

_SIZE = re.compile(r"(?<![\w.])([1-9]\d{0,4})x([1-9]\d{0,4})(?![\w.])")
_FPS = re.compile(r"([\d.]+)(k?) (fps|tbr)\b")
_FRAME = re.compile(r"frame=\s*(\d+)")


def _parse_stream(path: Path, text: str) -> tuple[int, int, float]:
    line = next((ln for ln in text.splitlines() if re.search(r"Stream #\d+:\d+.*: Video:", ln)), None)
    if line is None:
        kinds = sorted(set(re.findall(r"Stream #\d+:\d+.*?: (\w+):", text)))
        if re.search(r"^Input #\d+", text, re.MULTILINE):  # the container opened: it holds no video
            raise InputError(path, f"no video stream in this file (its streams: {', '.join(kinds) or 'none'})")
        raise InputError(path, f"cannot open video ({_last_line(text)})")
    size = _SIZE.search(line.split(": Video:", 1)[1])
    rates = {m.group(3): float(m.group(1)) * (1000 if m.group(2) else 1) for m in _FPS.finditer(line)}
    fps = rates.get("fps") or rates.get("tbr") or 0.0
    if size is None or fps <= 0:
        raise InputError(path, f"cannot read the video stream's size and frame rate from: {line.strip()}")
    return int(size.group(1)), int(size.group(2)), fps


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame rate, frame count and size of the first video stream (see :class:`VideoInfo`).

    Raises InputError for a missing, empty or unreadable file (e.g. an MP4 cut before its
    index).
    """
    path = Path(path)
    _check_exists(path)
    ffmpeg = _ffmpeg_exe()
    with decoding(path, "video"):
        n = _mp4_sample_count(path)
        cmd = [ffmpeg, "-nostdin", "-hide_banner", "-i", f"file:{path}"]
        if n is None:  # count packets: demux only, no decoding
            cmd += ["-map", "0:v:0", "-c", "copy", "-f", "null", "-"]
        res = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        text = res.stderr.decode("utf-8", errors="replace")
        width, height, fps = _parse_stream(path, text)
        if n is None:
            counts = _FRAME.findall(text)
            if res.returncode != 0 or not counts:
                raise InputError(path, f"cannot count video frames ({_last_line(text)})")
            n = int(counts[-1])
    return VideoInfo(fps=fps, n_frames=int(n), width=width, height=height)


def read_frame_bytes(pipe, frame_bytes: int) -> tuple[bytearray, int]:
    """Up to ``frame_bytes`` bytes from ``pipe`` into a fresh buffer; (buffer, bytes read)."""
    buf = bytearray(frame_bytes)
    view = memoryview(buf)
    got = 0
    while got < frame_bytes:
        r = pipe.readinto(view[got:])
        if not r:
            break
        got += r
    return buf, got


def iter_video_frames(path: str | os.PathLike, start: int = 0) -> Iterator[np.ndarray]:
    """Yield the frames of the first video stream from index ``start`` as ``(H, W, 3)`` uint8 RGB.

    Streams through an ffmpeg pipe (one frame in memory at a time); frames before ``start``
    are decoded but not converted or copied. Each array is a fresh, writable buffer. When
    the file is truncated or corrupt (ffmpeg reports an error, or fewer frames decode than
    :func:`probe_video` counted) InputError is raised after the last good frame; a file that
    cannot be opened raises before any frame.
    """
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    path = Path(path)
    info = probe_video(path)
    w, h = info.width, info.height
    cmd = [_ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-noautorotate",
           "-i", f"file:{path}", "-map", "0:v:0", "-fps_mode", "passthrough"]
    if start > 0:
        cmd += ["-vf", f"select=gte(n\\,{int(start)})"]
    cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    frame_bytes = w * h * 3
    with tempfile.TemporaryFile() as errf:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errf, bufsize=0)
        try:
            k = 0
            partial = False
            while True:
                with decoding(path, "video"):
                    buf, got = read_frame_bytes(proc.stdout, frame_bytes)
                if got == 0:
                    break
                if got < frame_bytes:
                    partial = True
                    break
                yield np.frombuffer(buf, np.uint8).reshape(h, w, 3)
                k += 1
            rc = proc.wait()
            errf.seek(0)
            err = errf.read().decode("utf-8", errors="replace").strip()
            decoded = start + k
            if rc != 0 or err or partial or decoded < info.n_frames:
                detail = f"; ffmpeg: {_last_line(err)}" if err else ""
                raise InputError(
                    path,
                    f"truncated or corrupt video: decoded {decoded} of {info.n_frames} frames{detail}",
                )
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
