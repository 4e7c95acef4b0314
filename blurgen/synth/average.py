"""Temporal averaging of sharp frames into one blurred image.

Three ways to average, all on ``(H, W, 3) uint8`` RGB frames, all returning
``(H, W, 3) uint8``:

``srgb``
    The paper's plain mean of the stored pixel values. Exact integer arithmetic: the
    frames are summed in ``uint16`` (``uint32`` beyond 257 frames) and the result is
    ``(sum + n // 2) // n``.
``gamma``
    GoPro's blur: ``(mean(x ** 2.2)) ** (1 / 2.2)`` on values ``x = v / 255`` in
    ``[0, 1]``, scaled back to ``[0, 255]``. Sums are float64.
``crf``
    Average in signal space through an inverse camera response: a ``(256, 3)`` table
    ``T`` (REDS ships one per camera) maps pixel value ``v`` of channel ``c`` to the
    signal ``T[v, c]``. The frames' signals are averaged and mapped back through the
    response, i.e. the piecewise-linear inverse of ``T[:, c]``. Without a table the
    sRGB transfer function (IEC 61966-2-1) is used: ``T[v] = v/255/12.92`` for
    ``v/255 <= 0.04045``, else ``((v/255 + 0.055) / 1.055) ** 2.4``, the same for all
    three channels (:func:`default_crf`).

Rounding to uint8 is **round half up** in all three modes (``floor(x + 0.5)``), the
rule the integer formula of ``srgb`` implements. With an odd number of frames the srgb
mean never falls on a half; with an even number it does, and half goes up (a mean of
2.5 stores 3, where numpy's ``rint`` would store 2).

Pure functions: no file I/O except :func:`load_crf`, which reads a table file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from blurgen.errors import ConfigError, InputError

MODES = ("srgb", "gamma", "crf")
GAMMA = 2.2

# uint16 holds 257 * 255 = 65535 exactly: the largest frame count summed in uint16
# (the rounding offset n // 2 needs one frame less: 256 * 255 + 128 < 65536).
_UINT16_MAX_FRAMES = 257


def default_crf() -> np.ndarray:
    """The default inverse camera response: the sRGB transfer function.

    Returns ``(256, 3) float64``, values in ``[0, 1]`` (linear signal), strictly
    increasing down each column; the three columns are equal.
    """
    v = np.arange(256, dtype=np.float64) / 255.0
    lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return np.repeat(lin[:, None], 3, axis=1)


def check_crf(table: np.ndarray, source: str | os.PathLike | None = None) -> np.ndarray:
    """Validate an inverse camera response and return it as ``(256, 3) float64``.

    Accepts ``(256, 3)``, ``(3, 256)`` (transposed) or ``(256,)`` (one curve for all
    channels). Each channel must be finite and strictly increasing, so that it can be
    inverted. Raises ``InputError`` naming ``source`` otherwise.
    """
    t = np.asarray(table, dtype=np.float64)
    if t.shape == (256,):
        t = np.repeat(t[:, None], 3, axis=1)
    elif t.shape == (3, 256):
        t = t.T
    if t.shape != (256, 3):
        raise InputError(
            source,
            f"inverse camera response table has shape {tuple(np.shape(table))}, expected (256, 3)",
            "give 256 rows (pixel values 0..255) and 3 columns (R, G, B)",
        )
    if not np.all(np.isfinite(t)):
        raise InputError(source, "inverse camera response table has non-finite values",
                         "replace NaN / inf entries")
    if not np.all(np.diff(t, axis=0) > 0):
        raise InputError(source, "inverse camera response table is not strictly increasing in each column",
                         "each column must map 0..255 to increasing signal values")
    return np.ascontiguousarray(t)


def load_crf(path: str | os.PathLike) -> np.ndarray:
    """Read an inverse camera response table from ``.npy`` or text (``.txt``, ``.csv``).

    Text files hold 256 rows of 3 numbers (whitespace or comma separated; ``#``
    comments). Returns ``(256, 3) float64`` checked by :func:`check_crf`.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "inverse camera response file not found", "check --crf-file")
    try:
        if p.suffix.lower() == ".npy":
            table = np.load(p, allow_pickle=False)
        else:
            text = p.read_text()
            delim = "," if "," in text else None
            table = np.loadtxt(p, dtype=np.float64, delimiter=delim, comments="#")
    except (ValueError, OSError) as e:
        raise InputError(p, f"cannot read inverse camera response table: {e}",
                         "use a .npy array or a text file of 256 rows x 3 columns") from None
    return check_crf(table, p)


@dataclass(frozen=True)
class Averaging:
    """How to average: ``mode`` in :data:`MODES`; ``crf`` the ``(256, 3)`` table for crf."""

    mode: str = "srgb"
    crf: np.ndarray | None = None

    def __post_init__(self):
        if self.mode not in MODES:

            raise ConfigError(f"unknown averaging {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.mode == "crf":
            object.__setattr__(self, "crf", check_crf(default_crf() if self.crf is None else self.crf))


class Accumulator:
    """Streaming average: ``add`` frames one at a time, then ``result``.

    Memory is one accumulator of the frame size, whatever the number of frames, so a
    caller can decode, add and drop each frame in turn.
    """

    def __init__(self, averaging: Averaging | str = "srgb"):
        self.averaging = Averaging(averaging) if isinstance(averaging, str) else averaging
        self.n = 0
        self._acc: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None
        mode = self.averaging.mode
        if mode == "gamma":
            self._lut = (np.arange(256, dtype=np.float64) / 255.0) ** GAMMA  # (256,)
        elif mode == "crf":
            self._lut = self.averaging.crf  # (256, 3)

    def add(self, frame: np.ndarray) -> None:
        """Add one ``(H, W, 3) uint8`` frame; every frame must have the first one's shape."""
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) uint8 frame, got {frame.shape} {frame.dtype}")
        if self._shape is None:
            self._shape = frame.shape
        elif frame.shape != self._shape:
            raise ValueError(f"frame of shape {frame.shape} after frames of shape {self._shape}")
        mode = self.averaging.mode
        if mode == "srgb":
            if self._acc is None:
                self._acc = frame.astype(np.uint16)
            else:
                if self.n + 1 > _UINT16_MAX_FRAMES and self._acc.dtype == np.uint16:
                    self._acc = self._acc.astype(np.uint32)
                np.add(self._acc, frame, out=self._acc)
        elif mode == "gamma":
            lin = self._lut[frame]
            self._acc = lin if self._acc is None else np.add(self._acc, lin, out=self._acc)
        else:  # crf: per-channel table lookup
            lin = np.empty(frame.shape, np.float64)
            for c in range(3):
                lin[..., c] = self._lut[frame[..., c], c]
            self._acc = lin if self._acc is None else np.add(self._acc, lin, out=self._acc)
        self.n += 1

    def result(self) -> np.ndarray:
        """The blurred image, ``(H, W, 3) uint8``, rounded half up."""
        if self.n == 0 or self._acc is None:
            raise ValueError("no frames to average")
        n = self.n
        mode = self.averaging.mode
        if mode == "srgb":
            # In place on a copy (fast); uint16 holds sum + n // 2 for n <= 256 frames.
            acc = self._acc.astype(np.uint32 if n > _UINT16_MAX_FRAMES - 1 else self._acc.dtype)
            acc += n // 2
            acc //= n
            return acc.astype(np.uint8)
        mean = self._acc / n
        if mode == "gamma":
            out = np.power(mean, 1.0 / GAMMA) * 255.0
            return _round_half_up(out)
        table = self._lut
        out = np.empty(mean.shape, np.uint8)
        for c in range(3):
            out[..., c] = _invert_table(mean[..., c], table[:, c])
        return out


def _round_half_up(x: np.ndarray) -> np.ndarray:
    """float array in about [0, 255] -> uint8 by floor(x + 0.5), clipped to [0, 255]."""
    return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)


def _invert_table(signal: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Map signal values back to uint8 pixels through one increasing table column.

    The response is the piecewise-linear inverse of ``column`` (256 increasing values),
    clamped to ``[0, 255]``, then rounded half up. Rounding the interpolated value to
    ``k`` is the same as ``signal`` lying in ``[m[k-1], m[k])`` where ``m`` are the
    column's midpoints ``(column[k] + column[k+1]) / 2``, so a ``searchsorted`` gives the
    rounded result directly. (A midpoint itself interpolates to ``k + 0.5`` and rounds up,
    hence ``side="right"``.)
    """
    mids = (column[:-1] + column[1:]) / 2.0
    return np.searchsorted(mids, signal, side="right").astype(np.uint8)


def average_frames(frames: Iterable[np.ndarray], averaging: Averaging | str = "srgb") -> np.ndarray:
    """Average ``(H, W, 3) uint8`` frames into one ``(H, W, 3) uint8`` image.

    ``averaging`` is a mode name (``"srgb"``, ``"gamma"``, ``"crf"`` with the default
    table) or an :class:`Averaging`. See the module docstring for the formulas and the
    rounding rule.
    """
    acc = Accumulator(averaging)
    for f in frames:
        acc.add(f)
    return acc.result()


def srgb_mean_reference(frames: Sequence[np.ndarray]) -> np.ndarray:
    """The srgb mean computed the slow, obvious way (float64 mean, round half up).

    For checks and benchmarks; :func:`average_frames` gives the same bytes faster.
    """
    stack = np.stack([np.asarray(f, dtype=np.float64) for f in frames])
    return _round_half_up(stack.mean(axis=0))
