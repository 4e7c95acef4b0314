"""Synthetic scenes with exactly known flow for the flow tests."""

from __future__ import annotations

import numpy as np


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture (H, W, 3) uint8 with detail at several scales."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for sigma, amp in ((1.0, 40), (3.0, 60), (8.0, 90)):
        noise = rng.standard_normal((h, w, 3)).astype(np.float32)
        blurred = cv2.GaussianBlur(noise, (0, 0), sigma)
        img += amp * blurred / blurred.std()
    return np.clip(128 + img, 0, 255).astype(np.uint8)


def translating_frames(n: int, h: int, w: int, dx: int, dy: int, seed: int = 0) -> list[np.ndarray]:
    """n crops of one texture; the content moves by (dx, dy) px per frame, so the exact
    flow frame 0 -> frame t is (t*dx, t*dy) everywhere (integer shifts: no resampling)."""
    pad = (n - 1) * max(abs(dx), abs(dy)) + 2
    big = texture(h + 2 * pad, w + 2 * pad, seed)
    return [big[pad - t * dy : pad - t * dy + h, pad - t * dx : pad - t * dx + w].copy() for t in range(n)]
