"""Image files and numbered frame folders.

Images in memory are ``(H, W, 3)`` uint8 RGB. Reading decodes the file's bytes with OpenCV
(so non-ASCII paths work) and rejects empty, corrupt and truncated files with InputError.
"""

from __future__ import annotations

import os
import re
import struct
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from blurgen.errors import InputError
from blurgen.io._decode import decoding
from blurgen.utils import atomic_write_bytes

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".ppm", ".webp", ".tif", ".tiff", ".bmp")
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"IEND\xaeB`\x82"  # chunk type + CRC of the last chunk
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, order=True)
class Frame:
    """One numbered image of a sequence: ``index`` is the last run of digits in the stem."""

    index: int
    path: Path


def _check_complete(path: Path, data: bytes) -> None:
    """Reject files whose container says they were cut short (OpenCV decodes those partially)."""
    if data.startswith(_PNG_SIG):
        if data.rfind(_PNG_IEND) < 0:
            raise InputError(path, "cannot decode image (truncated PNG: no IEND chunk)")
    elif data.startswith(b"\xff\xd8"):
        # EOI must follow the last start-of-scan (an EXIF thumbnail has its own EOI earlier).
        if data.rfind(b"\xff\xd9") < max(data.rfind(b"\xff\xda"), 2):
            raise InputError(path, "cannot decode image (truncated JPEG: no end-of-image marker)")
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        size = struct.unpack("<I", data[4:8])[0] + 8
        if len(data) < size:
            raise InputError(path, f"cannot decode image (truncated WebP: {len(data)} of {size} bytes)")
    elif data[:2] == b"BM" and len(data) >= 6:
        size = struct.unpack("<I", data[2:6])[0]
        if len(data) < size:
            raise InputError(path, f"cannot decode image (truncated BMP: {len(data)} of {size} bytes)")
    elif data[:2] in (b"P5", b"P6"):
        _, w, h, maxval, offset = _pnm_header(path, data)
        need = w * h * (3 if data[:2] == b"P6" else 1) * (2 if maxval > 255 else 1)
        if len(data) - offset < need:
            raise InputError(
                path, f"cannot decode image (truncated PPM: {len(data) - offset} of {need} data bytes)"
            )


def _pnm_header(path: Path, data: bytes) -> tuple[bytes, int, int, int, int]:
    """(magic, width, height, maxval, data offset) of a binary PGM/PPM; '#' comments allowed."""
    tokens: list[bytes] = []
    pos, n = 0, len(data)
    while len(tokens) < 4:
        while pos < n and (data[pos : pos + 1].isspace() or data[pos : pos + 1] == b"#"):
            if data[pos : pos + 1] == b"#":
                end = data.find(b"\n", pos)
                pos = n if end < 0 else end
            pos += 1
        start = pos
        while pos < n and not data[pos : pos + 1].isspace():
            pos += 1
        if start == pos:
            raise InputError(path, "cannot decode image (bad PPM header)")
        tokens.append(data[start:pos])
    try:
        w, h, maxval = int(tokens[1]), int(tokens[2]), int(tokens[3])
    except ValueError:
        raise InputError(path, "cannot decode image (bad PPM header)") from None
    if w <= 0 or h <= 0 or not 0 < maxval < 65536:
        raise InputError(path, f"cannot decode image (bad PPM header: {w}x{h}, maxval {maxval})")
    return tokens[0], w, h, maxval, pos + 1


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(path, f"cannot read image ({e.strerror or e})") from None
    if not data:
        raise InputError(path, "cannot decode image (zero bytes)")
    return data


def decode_image(data: bytes, path: str | os.PathLike = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to ``(H, W, 3)`` uint8 RGB (see :func:`read_image`)."""
    import cv2

    path = Path(path)
    if not data:
        raise InputError(path, "cannot decode image (zero bytes)")
    with decoding(path, "image"):
        _check_complete(path, data)
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None or img.size == 0:
            raise InputError(path, "cannot decode image (corrupt or unsupported format)")
        if img.dtype == np.uint16:
            img = ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
        elif img.dtype != np.uint8:
            raise InputError(path, f"cannot decode image (unsupported sample type {img.dtype})")
        if img.ndim == 2 or img.shape[2] == 1:
            return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
        if img.shape[2] == 4:
            return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG, JPEG, PPM/PGM, WebP, TIFF (the first page) or BMP file as ``(H, W, 3)`` uint8 RGB.

    Grayscale is replicated to three channels, 16-bit samples are scaled to 8 bits
    (round(x / 257)), an alpha channel is dropped; EXIF orientation is ignored (pixels as
    stored). Empty, corrupt or truncated files raise InputError naming the file.
    """
    path = Path(path)
    return decode_image(_read_bytes(path), path)


def encode_image(rgb: np.ndarray, suffix: str, jpeg_quality: int = 95) -> bytes:
    """Encode ``(H, W, 3)`` uint8 RGB (or ``(H, W)`` gray) for ``suffix`` .png/.jpg/.jpeg/.ppm."""
    import cv2

    a = np.asarray(rgb)
    if a.dtype != np.uint8 or not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise ValueError(f"write_image needs (H, W, 3) or (H, W) uint8, got {a.dtype} {a.shape}")
    suffix = suffix.lower()
    if suffix not in (".png", ".jpg", ".jpeg", ".ppm"):
        raise ValueError(f"write_image writes .png, .jpg, .jpeg or .ppm, not {suffix!r}")
    bgr = a if a.ndim == 2 else cv2.cvtColor(a, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if suffix in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(suffix, bgr, params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {a.shape} image as {suffix}")
    return buf.tobytes()


def write_image(path: str | os.PathLike, rgb: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write ``(H, W, 3)`` uint8 RGB as PNG, JPEG or PPM chosen by the suffix, atomically."""
    path = Path(path)
    atomic_write_bytes(path, encode_image(rgb, path.suffix, jpeg_quality), fsync=False)


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(H, W)`` of an image, from the header for PNG, JPEG and PPM (else by decoding).

    A header declaring a zero side raises InputError; a declared size is not checked
    further here (reading the image is: OpenCV refuses more than 2**30 pixels).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f, decoding(path, "image header"):
            size = _header_size(path, f)
    except OSError as e:
        raise InputError(path, f"cannot read image ({e.strerror or e})") from None
    if size is None:
        size = read_image(path).shape[:2]
    if min(size) < 1:
        raise InputError(path, f"cannot decode image (header declares {size[1]}x{size[0]} pixels)")
    return int(size[0]), int(size[1])


def common_size(paths: Sequence[str | os.PathLike], probes: int = 3
                ) -> tuple[tuple[int, int] | None, list[InputError]]:
    """The frame size of a sequence of image files, from a few headers: ``(size, errors)``.

    Reads the headers of frames spread over the sequence (first, middle, last, then the
    others in order) until ``probes`` of them read, and returns the ``(H, W)`` most of them
    declare (ties: the earliest), so that one bad frame cannot set the size of every window.
    ``size`` is None when no header reads; ``errors`` are the headers that did not.
    """
    n = len(paths)
    spread = [0, n // 2, n - 1] if probes >= 3 else [0]
    order = list(dict.fromkeys([i for i in spread if 0 <= i < n] + list(range(n))))
    sizes: list[tuple[int, int]] = []
    errors: list[InputError] = []
    for i in order:
        if len(sizes) == probes:
            break
        try:
            sizes.append(image_size(paths[i]))
        except InputError as e:
            errors.append(e)
    if not sizes:
        return None, errors
    return Counter(sizes).most_common(1)[0][0], errors


def _header_size(path: Path, f) -> tuple[int, int] | None:
    """``(H, W)`` from a PNG, PPM or JPEG header, or None for other formats."""
    head = f.read(64)
    if head.startswith(_PNG_SIG) and head[12:16] == b"IHDR":
        w, h = struct.unpack(">II", head[16:24])
        return h, w
    if head[:2] in (b"P5", b"P6"):
        _, w, h, _, _ = _pnm_header(path, head + f.read(1024))
        return h, w
    if head.startswith(b"\xff\xd8"):
        return _jpeg_size(f)
    return None


def _jpeg_size(f) -> tuple[int, int] | None:
    """Walk JPEG markers from the start to the first SOFn; ``(H, W)`` or None."""
    f.seek(2)
    while True:
        if f.read(1) != b"\xff":
            return None
        b = f.read(1)
        while b == b"\xff":  # fill bytes
            b = f.read(1)
        if not b:
            return None
        marker = b[0]
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any SOF
            return None
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            continue
        seg = f.read(2)
        if len(seg) < 2:
            return None
        length = struct.unpack(">H", seg)[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            body = f.read(5)
            if len(body) < 5:
                return None
            h, w = struct.unpack(">HH", body[1:5])
            return h, w
        f.seek(length - 2, os.SEEK_CUR)


def image_files(folder: Path, exts: Iterable[str] | None = None) -> list[Path]:
    """The image files directly in ``folder`` (suffix in ``exts``, default
    :data:`IMAGE_EXTS`, any case; hidden files left out), sorted by name."""
    return [p for p in _named_like_images(folder, exts) if p.is_file()]


def _named_like_images(folder: Path, exts: Iterable[str] | None) -> list[Path]:
    wanted = {e.lower() if e.startswith(".") else "." + e.lower() for e in (exts or IMAGE_EXTS)}
    return sorted(p for p in Path(folder).iterdir() if not p.name.startswith(".") and p.suffix.lower() in wanted)


def not_files(folder: Path, exts: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """Entries of ``folder`` named like image files (as :func:`image_files` selects them)
    that are no regular file: ``(name, what it is)``, sorted by name. They are not frames;
    a run reports them, as a missing frame alone would not say why it is missing."""
    out = []
    for p in _named_like_images(folder, exts):
        if p.is_file():
            continue
        if p.is_dir():
            what = "a folder"
        elif p.is_symlink() and not p.exists():
            what = "a broken link"
        else:
            what = "not a regular file"
        out.append((p.name, what))
    return out


def number_position(stems: Iterable[str]) -> int:
    """Which run of digits in the file stems is the frame number: when every stem holding
    digits has the same count of runs, the last run whose value differs between them
    (``frame0001_cam2`` -> ``0001``; ``GOPR0384_11_00_000123`` -> ``000123``); else, or
    when none differs (one file), the last run (-1)."""
    runs = [r for r in (_DIGITS.findall(s) for s in stems) if r]
    counts = {len(r) for r in runs}
    if len(counts) == 1:
        k = counts.pop()
        for j in range(k - 1, -1, -1):
            if len({int(r[j]) for r in runs}) > 1:
                return j
    return -1


def list_frames(
    folder: str | os.PathLike,
    exts: Iterable[str] | None = None,
    ignore_non_numeric: bool = False,
) -> list[Frame]:
    """The image files of ``folder`` as Frames, sorted by index.

    The index is the run of digits in the file stem that numbers the frames
    (:func:`number_position`: ``frame_0012.png`` -> 12, ``GOPR0384_11_00_000123.png`` ->
    123, ``frame0012_cam2.png`` -> 12). ``exts`` (default :data:`IMAGE_EXTS`) are matched
    case-insensitively; hidden files are skipped. A file without digits raises
    InputError unless ``ignore_non_numeric``; two files with the same index raise InputError.
    An empty folder gives ``[]``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        what = "not a folder" if folder.exists() else "folder not found"
        raise InputError(folder, what, "give a folder of numbered image files")
    files = []
    for p in image_files(folder, exts):
        if not _DIGITS.search(p.stem):
            if ignore_non_numeric:
                continue
            raise InputError(
                p, "frame file name has no number", "rename it or pass ignore_non_numeric=True"
            )
        files.append(p)
    pos = number_position(p.stem for p in files)
    by_index: dict[int, Path] = {}
    for p in files:
        idx = int(_DIGITS.findall(p.stem)[pos])
        if idx in by_index:
            a, b = sorted([by_index[idx].name, p.name])
            raise InputError(folder, f"two frames with index {idx}: {a} and {b}", "remove one of them")
        by_index[idx] = p
    return [Frame(i, by_index[i]) for i in sorted(by_index)]


def find_gaps(indices: Iterable[int]) -> list[tuple[int, int]]:
    """Missing index ranges between the smallest and largest index, as ``(first, last)`` inclusive.

    ``find_gaps([1, 2, 5, 7])`` -> ``[(3, 4), (6, 6)]``.
    """
    idx = sorted(set(int(i) for i in indices))
    return [(a + 1, b - 1) for a, b in zip(idx, idx[1:]) if b - a > 1]
