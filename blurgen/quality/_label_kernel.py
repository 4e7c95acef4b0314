"""The label signals of one direction in one compiled pass (numba).

For each pixel ``p`` of frame a: the target ``q = p + flow_ab(p)``; ``flow_ba`` and frame b's
grey image sampled bilinearly at ``q``, the coordinates clamped to the frame (the border
replicated, as ``cv2.remap`` with ``BORDER_REPLICATE`` does); then ``fb = |flow_ab(p) +
flow_ba(q)|`` and ``photo = |gray_b(q) - gray_a(p)|``. Where a flow is not finite, ``fb`` is
inf (and ``photo``, for a NaN target, 255): the uncertainty there is clipped to its maximum.
Float32 arithmetic without fast-math, so the result does not depend on the processor.
Importing this module imports numba.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def residuals(flow_ab, flow_ba, gray_a, gray_b, fb, photo):  # pragma: no cover - compiled
    """Fill ``fb`` and ``photo`` ((H, W) float32) from the flows ((H, W, 2) float32) and the
    grey images ((H, W) float32), as the module doc says."""
    h, w = gray_a.shape
    one = np.float32(1.0)
    zero = np.float32(0.0)
    for y in range(h):
        for x in range(w):
            f0 = flow_ab[y, x, 0]
            f1 = flow_ab[y, x, 1]
            tx = min(max(np.float32(x) + f0, zero), np.float32(w - 1))
            ty = min(max(np.float32(y) + f1, zero), np.float32(h - 1))
            if not (tx == tx and ty == ty):  # NaN
                fb[y, x] = np.inf
                photo[y, x] = np.float32(255.0)
                continue
            x0 = min(int(tx), max(w - 2, 0))
            y0 = min(int(ty), max(h - 2, 0))
            x1 = min(x0 + 1, w - 1)
            y1 = min(y0 + 1, h - 1)
            wx = tx - np.float32(x0)
            wy = ty - np.float32(y0)
            a00 = (one - wx) * (one - wy)
            a01 = wx * (one - wy)
            a10 = (one - wx) * wy
            a11 = wx * wy
            b0 = (a00 * flow_ba[y0, x0, 0] + a01 * flow_ba[y0, x1, 0]) + (a10 * flow_ba[y1, x0, 0] + a11 * flow_ba[y1, x1, 0])
            b1 = (a00 * flow_ba[y0, x0, 1] + a01 * flow_ba[y0, x1, 1]) + (a10 * flow_ba[y1, x0, 1] + a11 * flow_ba[y1, x1, 1])
            g = (a00 * gray_b[y0, x0] + a01 * gray_b[y0, x1]) + (a10 * gray_b[y1, x0] + a11 * gray_b[y1, x1])
            d0 = f0 + b0
            d1 = f1 + b1
            r = np.sqrt(d0 * d0 + d1 * d1)
            fb[y, x] = r if r == r else np.inf  # a NaN of flow_ba at the target: inf
            photo[y, x] = abs(g - gray_a[y, x])
