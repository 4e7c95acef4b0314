"""Middlebury ``.flo`` optical-flow files.

Layout: float32 tag 202021.25 (bytes ``PIEH``), int32 W, int32 H, then ``H*W*2`` float32
values ``(u, v)`` row by row, top to bottom; all little endian.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from blurgen.errors import InputError
from blurgen.io._decode import decoding
from blurgen.io.pfm import _check_finite
from blurgen.utils import atomic_write_bytes

TAG = 202021.25
_TAG_BYTES = np.float32(TAG).astype("<f4").tobytes()  # b"PIEH"
_MAX_SIDE = 1 << 16


def read_flo(path: str | os.PathLike, allow_nonfinite: bool = False) -> np.ndarray:
    """Read a Middlebury ``.flo`` file.

    Returns ``(H, W, 2)`` float32 flow in pixels, ``[..., 0]`` = u (x, right),
    ``[..., 1]`` = v (y, down). Raises InputError on a wrong tag, absurd size, truncated or
    oversized data, and (unless ``allow_nonfinite``) NaN or inf values.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(path, f"cannot read .flo file ({e.strerror or e})") from None
    with decoding(path, ".flo file"):
        flow = _decode_flo(path, data)
    if not allow_nonfinite:
        _check_finite(path, flow)
    return flow


def _decode_flo(path: Path, data: bytes) -> np.ndarray:
    """``(H, W, 2)`` float32 (a writable copy) from the bytes of a .flo file."""
    if len(data) < 12:
        raise InputError(path, f"truncated .flo file: {len(data)} bytes, header needs 12")
    if data[:4] != _TAG_BYTES:
        tag = float(np.frombuffer(data, "<f4", 1)[0])
        raise InputError(path, f"not a Middlebury .flo file (tag {tag!r}, expected {TAG})")
    width, height = (int(x) for x in np.frombuffer(data, "<i4", 2, offset=4))
    if not (0 < width <= _MAX_SIDE and 0 < height <= _MAX_SIDE):
        raise InputError(path, f"bad .flo header: size {width}x{height} out of range")
    expected = width * height * 8
    found = len(data) - 12
    if found < expected:
        raise InputError(
            path, f"truncated .flo data: expected {expected} bytes for {width}x{height}, found {found}"
        )
    if found > expected:
        raise InputError(
            path, f".flo size mismatch: header says {width}x{height} ({expected} bytes) but {found} bytes follow"
        )
    flow = np.frombuffer(data, "<f4", width * height * 2, offset=12).reshape(height, width, 2)
    return flow.astype(np.float32)  # native order, writable copy


def _flo_parts(flow: np.ndarray) -> tuple[bytes, np.ndarray]:
    f = np.asarray(flow)
    if f.ndim != 3 or f.shape[2] != 2 or f.shape[0] == 0 or f.shape[1] == 0:
        raise ValueError(f"write_flo needs a non-empty (H, W, 2) array, got shape {f.shape}")
    h, w = f.shape[:2]
    return _TAG_BYTES + np.array([w, h], "<i4").tobytes(), np.ascontiguousarray(f, "<f4")


def write_flo(path: str | os.PathLike, flow: np.ndarray) -> None:
    """Write ``(H, W, 2)`` flow (pixels; converted to float32) as a ``.flo`` file, atomically."""
    header, body = _flo_parts(flow)
    atomic_write_bytes(path, header, memoryview(body).cast("B"), fsync=False)
