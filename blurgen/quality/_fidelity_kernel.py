"""Coverage of the frame by both end frames' pixels at intermediate times (numba).

For each time ``t`` of ``times`` and each pixel ``p`` of frame 0 the nearest pixel of
``p + t flow01(p)`` is marked in ``cov[k]``, and each pixel ``q`` of frame 1 at ``q + (1 - t)
flow10(q)`` the same (straight paths; targets outside the frame and non-finite flows mark
nothing). Float32 arithmetic without fast-math, so the marks do not depend on the
processor. Importing this module imports numba.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _mark(flow, scale, cov):  # pragma: no cover - compiled
    h, w = cov.shape
    half = np.float32(0.5)
    for y in range(h):
        for x in range(w):
            tx = np.float32(x) + scale * flow[y, x, 0]
            ty = np.float32(y) + scale * flow[y, x, 1]
            if not (tx == tx and ty == ty):  # NaN
                continue
            tx = np.floor(tx + half)
            ty = np.floor(ty + half)
            if tx >= 0 and ty >= 0 and tx < w and ty < h:
                cov[int(ty), int(tx)] = 1


@numba.njit(cache=True, nogil=True)
def coverage(flow01, flow10, times, cov):  # pragma: no cover - compiled
    """Fill ``cov`` ((len(times), H, W) uint8, zeros) as the module doc says."""
    one = np.float32(1.0)
    for k in range(times.shape[0]):
        t = np.float32(times[k])
        _mark(flow01, t, cov[k])
        _mark(flow10, one - t, cov[k])
