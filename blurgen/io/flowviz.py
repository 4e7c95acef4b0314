"""Optical flow as colour, with the Middlebury colour wheel (Baker et al., IJCV 2011).

Hue gives the direction, saturation the magnitude: zero flow is white, flow of magnitude
``max_mag`` is the fully saturated wheel colour (``+x`` = red), and longer flow is the same
colour darkened to 75 %. NaN flow is black.
"""

from __future__ import annotations

import os

import numpy as np

from blurgen.io.frames import write_image

# Hue transitions of the wheel: red-yellow, yellow-green, green-cyan, cyan-blue,
# blue-magenta, magenta-red (55 colours).
RY, YG, GC, CB, BM, MR = 15, 6, 4, 11, 13, 6


def make_colorwheel() -> np.ndarray:
    """The ``(55, 3)`` float64 RGB colour wheel, values 0..255."""
    ncols = RY + YG + GC + CB + BM + MR
    wheel = np.zeros((ncols, 3))
    col = 0
    # (segment length, channel that ramps, ramp up?, channel held at 255)
    for n, ramp, up, full in ((RY, 1, True, 0), (YG, 0, False, 1), (GC, 2, True, 1),
                              (CB, 1, False, 2), (BM, 0, True, 2), (MR, 2, False, 0)):
        r = np.floor(255 * np.arange(n) / n)
        wheel[col : col + n, ramp] = r if up else 255 - r
        wheel[col : col + n, full] = 255
        col += n
    return wheel


_WHEEL = make_colorwheel()


def flow_to_color(flow: np.ndarray, max_mag: float | None = None) -> np.ndarray:
    """Colour-code ``(H, W, 2)`` flow (pixels, ``[..., 0]`` = x) as ``(H, W, 3)`` uint8 RGB.

    Magnitudes are divided by ``max_mag`` (default: the largest finite magnitude in ``flow``),
    so the colours of different fields are comparable only with a shared ``max_mag``.
    Pixels with a NaN or inf component are black.
    """
    f = np.asarray(flow, dtype=np.float64)
    if f.ndim != 3 or f.shape[2] != 2:
        raise ValueError(f"flow_to_color needs (H, W, 2) flow, got shape {f.shape}")
    bad = ~np.isfinite(f).all(axis=2)
    u = np.where(bad, 0.0, f[..., 0])
    v = np.where(bad, 0.0, f[..., 1])
    rad = np.sqrt(u * u + v * v)
    if max_mag is None:
        max_mag = float(rad.max()) if rad.size else 0.0
    elif not max_mag > 0:
        raise ValueError(f"max_mag must be > 0, got {max_mag}")
    rad = rad / (float(max_mag) + 1e-5) if max_mag > 0 else rad

    ncols = _WHEEL.shape[0]
    angle = np.arctan2(-v, -u) / np.pi  # -1..1; +x -> -1 (red)
    fk = (angle + 1) / 2 * (ncols - 1)
    k0 = np.floor(fk).astype(np.int64)
    k1 = (k0 + 1) % ncols
    frac = (fk - k0)[..., None]
    col = ((1 - frac) * _WHEEL[k0] + frac * _WHEEL[k1]) / 255
    r = rad[..., None]
    inside = r <= 1
    col = np.where(inside, 1 - r * (1 - col), col * 0.75)
    out = np.floor(255 * col).astype(np.uint8)
    out[bad] = 0
    return out


def write_flow_png(path: str | os.PathLike, flow: np.ndarray, max_mag: float | None = None) -> None:
    """Write :func:`flow_to_color` of ``flow`` as a PNG (atomically)."""

    write_image(path, flow_to_color(flow, max_mag))
