"""Synthetic blur: the average of a pair's end frames and its interpolated frames.

The paper's recipe (B2F-net, Monkaa): interpolate ``n`` frames between frame 0 and
frame 1 and average first, intermediates and last, each with the same weight. The
frames are accumulated into one running sum; all ``n`` frames are never held at once.
"""

from __future__ import annotations

import numpy as np

from blurgen.synth.interpolate import blur_times


def synthesize_blur(interpolator, img0: np.ndarray, img1: np.ndarray, flow01: np.ndarray | None,
                    flow10: np.ndarray | None, n: int, **extra) -> np.ndarray:
    """Blurred image of a pair: mean of ``I0``, the ``n`` frames at ``k / (n + 1)`` and ``I1``.

    img0, img1: ``(H, W, 3)`` uint8 or float, RGB, values in [0, 255]; flow01, flow10:
    ``(H, W, 2)`` float32 pixels (ignored by the linear interpolator); ``extra`` goes to
    the interpolator's ``sum_frames`` (the flow-guided one takes ``accel0``, ``accel1``).
    Returns ``(H, W, 3)`` float32 in [0, 255] (not rounded; see :func:`to_uint8`).
    """
    a = np.asarray(img0, dtype=np.float32)
    b = np.asarray(img1, dtype=np.float32)
    times = blur_times(n)[1:-1]
    acc = interpolator.sum_frames(a, b, flow01, flow10, times, **extra).astype(np.float32, copy=False)
    acc = acc + a + b
    return acc / np.float32(n + 2)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Round a float image in [0, 255] to uint8 (clipped)."""
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB between two images of the same shape (values in [0, peak])."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    mse = float(np.mean(d * d))
    if mse == 0:
        return float("inf")
    return 10.0 * np.log10(peak * peak / mse)
