"""Portable Float Map (PFM) files, as used by SceneFlow (Monkaa) for flow and disparity.

Layout: line 1 ``PF`` (3 channels) or ``Pf`` (1 channel); line 2 ``W H``; line 3 the scale,
negative for little endian, positive for big endian; then ``H*W*C`` float32 values with the
rows stored bottom to top. Arrays in memory are always top to bottom.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from blurgen.errors import InputError
from blurgen.io._decode import decoding
from blurgen.utils import atomic_write_bytes

_MAX_SIDE = 1 << 16


def _parse_header(path: Path, data: bytes) -> tuple[int, int, int, str, int]:
    """Return (channels, width, height, byte-order char, data offset) of a PFM file."""
    if len(data) == 0:
        raise InputError(path, "not a PFM file (zero bytes)")
    tokens: list[bytes] = []
    pos = 0
    n = len(data)
    while len(tokens) < 4:
        while pos < n and data[pos : pos + 1].isspace():
            pos += 1
        start = pos
        while pos < n and not data[pos : pos + 1].isspace():
            pos += 1
        if start == pos or pos - start > 32:
            raise InputError(path, "bad PFM header (expected 'PF|Pf', 'W H', scale)")
        tokens.append(data[start:pos])
        if len(tokens) == 1 and tokens[0] not in (b"PF", b"Pf"):
            raise InputError(
                path, f"not a PFM file (magic {tokens[0][:8]!r}, expected b'PF' or b'Pf')"
            )
    if pos >= n:
        raise InputError(path, "truncated PFM file (header without data)")
    pos += 1  # exactly one whitespace character ends the header
    try:
        width, height, scale = int(tokens[1]), int(tokens[2]), float(tokens[3])
    except ValueError:
        raise InputError(path, f"bad PFM header: size {tokens[1]!r} {tokens[2]!r} scale {tokens[3]!r}") from None
    if not (0 < width <= _MAX_SIDE and 0 < height <= _MAX_SIDE):
        raise InputError(path, f"bad PFM header: size {width}x{height} out of range")
    if scale == 0 or not np.isfinite(scale):
        raise InputError(path, f"bad PFM header: scale {scale} (must be non-zero)")
    channels = 3 if tokens[0] == b"PF" else 1
    return channels, width, height, "<" if scale < 0 else ">", pos


def _read_view(path: Path) -> np.ndarray:
    """The file's values as a read-only view, rows already top to bottom (no copy)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(path, f"cannot read PFM file ({e.strerror or e})") from None
    with decoding(path, "PFM file"):
        return _view(path, data)


def _view(path: Path, data: bytes) -> np.ndarray:
    channels, width, height, order, offset = _parse_header(path, data)
    expected = width * height * channels * 4
    found = len(data) - offset
    if found < expected:
        raise InputError(
            path,
            f"truncated PFM data: expected {expected} bytes for {width}x{height}x{channels}, found {found}",
        )
    if found > expected:
        raise InputError(
            path,
            f"PFM size mismatch: header says {width}x{height}x{channels} ({expected} bytes) "
            f"but {found} bytes follow",
        )
    arr = np.frombuffer(data, dtype=order + "f4", count=width * height * channels, offset=offset)
    shape = (height, width) if channels == 1 else (height, width, 3)
    return arr.reshape(shape)[::-1]  # stored bottom to top


def read_pfm(path: str | os.PathLike) -> np.ndarray:
    """Read a PFM file.

    Returns float32 ``(H, W)`` for ``Pf`` or ``(H, W, 3)`` for ``PF``, rows top to bottom,
    values as stored (the scale's magnitude is ignored; its sign gives the byte order).
    Raises InputError for a missing file, wrong magic, bad header, truncated or oversized data.
    """
    # The copy is contiguous, native-endian and writable.
    return np.ascontiguousarray(_read_view(Path(path)), dtype=np.float32)


def read_pfm_flow(path: str | os.PathLike) -> np.ndarray:
    """Read a flow field stored as a 3-channel PFM (SceneFlow layout).

    Returns ``(H, W, 2)`` float32 in pixels, ``[..., 0]`` = x (right), ``[..., 1]`` = y (down);
    the third channel (zeros) is dropped. Non-finite values raise InputError.
    """
    view = _read_view(Path(path))
    if view.ndim != 3:
        raise InputError(path, "PFM has 1 channel ('Pf'); a flow file needs 3 ('PF')")
    flow = np.ascontiguousarray(view[..., :2], dtype=np.float32)
    _check_finite(path, flow)
    return flow


def _check_finite(path: str | os.PathLike, flow: np.ndarray) -> None:
    finite = np.isfinite(flow)
    if not finite.all():
        n_nan = int(np.isnan(flow).sum())
        n_inf = int(flow.size - finite.sum() - n_nan)
        raise InputError(path, f"flow has non-finite values ({n_nan} NaN, {n_inf} inf)")


def _pfm_parts(arr: np.ndarray) -> tuple[bytes, np.ndarray]:
    """(header, body array in file order) of a little-endian PFM for ``arr``."""
    a = np.asarray(arr)
    if a.ndim == 2:
        magic, body = b"Pf", np.ascontiguousarray(a[::-1], dtype="<f4")
    elif a.ndim == 3 and a.shape[2] in (2, 3):
        magic = b"PF"
        body = np.zeros(a.shape[:2] + (3,), dtype="<f4")
        body[..., : a.shape[2]] = a[::-1]
    else:
        raise ValueError(f"write_pfm needs (H, W), (H, W, 2) or (H, W, 3), got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"write_pfm needs a non-empty array, got shape {a.shape}")
    h, w = a.shape[:2]
    return b"%s\n%d %d\n-1.0\n" % (magic, w, h), body


def write_pfm(path: str | os.PathLike, arr: np.ndarray) -> None:
    """Write ``arr`` as a little-endian PFM, atomically.

    ``(H, W)`` -> ``Pf``; ``(H, W, 3)`` -> ``PF``; ``(H, W, 2)`` (flow) -> ``PF`` with a zero
    third channel. Values are converted to float32; rows are written bottom to top.
    """
    header, body = _pfm_parts(arr)
    atomic_write_bytes(path, header, memoryview(body).cast("B"), fsync=False)
