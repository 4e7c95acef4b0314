"""What a pair's two flows say about the scene: which pixels are consistent both ways, the
layers of things that move together, which layer is in front where they overlap, and the
acceleration of each pixel's path. The flow-guided interpolator builds its frames on these.

Flow ``(H, W, 2)`` float32 in pixels, ``[..., 0]`` = x; ``flow_ab`` maps a pixel ``p`` of
frame a to ``p + flow_ab[p]`` in frame b. Masks are ``(H, W)`` bool.
"""

from __future__ import annotations

import numpy as np


def pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return gx, gy


def remap(img: np.ndarray, mx: np.ndarray, my: np.ndarray):
    """Bilinear backward warp ``out[y, x] = img[my[y, x], mx[y, x]]``; borders replicated."""
    import cv2

    return cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistency(flow_ab: np.ndarray, flow_ba: np.ndarray, *, tol: float = 0.5,
                rel: float = 0.02, floor: float = 1e-3) -> np.ndarray:
    """Forward-backward consistency of ``flow_ab`` in frame a: ``(H, W)`` float32 in (0, 1].

    ``err = |F_ab(p) + F_ba(p + F_ab(p))|`` (F_ba sampled bilinearly); the weight is
    ``floor + (1 - floor) * exp(-(err / (tol + rel * |F_ab|))^2)``: about 1 where the pixel
    is seen in both frames, about ``floor`` where it is hidden in frame b. Pixels whose
    target lies outside frame b leave the picture rather than being hidden: weight 1.
    """
    h, w = flow_ab.shape[:2]
    gx, gy = pixel_grid(h, w)
    tx = gx + flow_ab[..., 0]
    ty = gy + flow_ab[..., 1]
    back = remap(flow_ba, tx, ty)
    ex = flow_ab[..., 0] + back[..., 0]
    ey = flow_ab[..., 1] + back[..., 1]
    mag = np.sqrt(flow_ab[..., 0] ** 2 + flow_ab[..., 1] ** 2)
    scale = tol + rel * mag
    c = floor + (1.0 - floor) * np.exp(-(ex * ex + ey * ey) / (scale * scale))
    outside = (tx < 0) | (tx > w - 1) | (ty < 0) | (ty > h - 1)
    c[outside] = 1.0
    return c.astype(np.float32)


def accelerations(flow01: np.ndarray, flow0m: np.ndarray, flow10: np.ndarray, flow12: np.ndarray):
    """Per-pixel accelerations of both frames of a pair from the flows to their other neighbours.

    flow01 (0 -> 1), flow0m (0 -> -1, Monkaa's into_past of frame 0), flow10 (1 -> 0),
    flow12 (1 -> 2, into_future of frame 1), all ``(H, W, 2)`` float32 px. A point moving
    on a parabola through its positions at times -1, 0, 1 has ``A0 = F01 + F0m``; at times
    0, 1, 2 (seen from frame 1) ``A1 = F12 + F10`` (px per frame^2). Returns ``(A0, A1)``.
    """
    return (np.asarray(flow01, np.float32) + flow0m).astype(np.float32), \
        (np.asarray(flow12, np.float32) + flow10).astype(np.float32)


def _land(mask: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Pixels of the other frame that the ``mask`` pixels land on (nearest), ``(H, W)`` bool."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    tx = np.rint(xs + flow[ys, xs, 0]).astype(np.int64)
    ty = np.rint(ys + flow[ys, xs, 1]).astype(np.int64)
    ok = (tx >= 0) & (tx < w) & (ty >= 0) & (ty < h)
    out = np.zeros(h * w, bool)
    out[ty[ok] * w + tx[ok]] = True
    return out.reshape(h, w)


def _pull(mask_b: np.ndarray, flow_ab: np.ndarray) -> np.ndarray:
    """``mask_b`` read at each pixel's nearest target ``p + flow_ab[p]`` (False outside)."""
    h, w = mask_b.shape
    if not mask_b.any():
        return np.zeros((h, w), bool)
    gx, gy = pixel_grid(h, w)
    tx = np.rint(gx + flow_ab[..., 0])
    ty = np.rint(gy + flow_ab[..., 1])
    ok = (tx >= 0) & (tx < w) & (ty >= 0) & (ty < h)
    idx = np.clip(ty, 0, h - 1).astype(np.int32) * w + np.clip(tx, 0, w - 1).astype(np.int32)
    return mask_b.ravel()[idx] & ok


def flow_regions(flow: np.ndarray, *, tol: float = 1.0, rel: float = 0.05) -> np.ndarray:
    """Label pieces of the image that move together: ``(H, W)`` int32 labels (>= 1).

    A pixel whose flow differs from a 4-neighbour's by more than ``tol + rel * |flow|``
    pixels lies on an outline (a flow discontinuity). The other pixels are labelled by
    connected components; each outline pixel then joins the neighbouring piece whose
    flow is closest to its own (pixels with no labelled neighbour keep a label of their
    own).
    """
    from scipy import ndimage

    h, w = flow.shape[:2]
    f = np.asarray(flow, np.float32)
    u, v = np.ascontiguousarray(f[..., 0]), np.ascontiguousarray(f[..., 1])
    mag = np.sqrt(u * u + v * v)
    edge = np.zeros((h, w), bool)
    # horizontal and vertical neighbour pairs whose flows jump
    for a, b in (((slice(None), slice(1, None)), (slice(None), slice(None, -1))),
                 ((slice(1, None), slice(None)), (slice(None, -1), slice(None)))):
        du = u[a] - u[b]
        dv = v[a] - v[b]
        thr = tol + rel * np.maximum(mag[a], mag[b])
        jump = du * du + dv * dv > thr * thr
        edge[a] |= jump
        edge[b] |= jump
    labels, n = ndimage.label(~edge)
    ys, xs = np.nonzero(edge)
    if len(ys):
        best = np.full(len(ys), np.inf, np.float32)
        pick = np.zeros(len(ys), np.int32)
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            ny, nx = ys + dy, xs + dx
            ok = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
            ny, nx = np.clip(ny, 0, h - 1), np.clip(nx, 0, w - 1)
            nl = labels[ny, nx]
            diff = f[ny, nx] - f[ys, xs]
            dd = diff[:, 0] * diff[:, 0] + diff[:, 1] * diff[:, 1]
            better = ok & (nl > 0) & (dd < best)
            best[better] = dd[better]
            pick[better] = nl[better]
        lone = pick == 0
        pick[lone] = n + 1 + np.arange(int(lone.sum()), dtype=np.int32)
        labels[ys, xs] = pick
    return labels.astype(np.int32)


def occluders(flow01: np.ndarray, flow10: np.ndarray, vis0: np.ndarray, vis1: np.ndarray,
              *, share: float = 0.25):
    """Pixels that hide something during the pair, in frame 0 and in frame 1.

    vis0, vis1: ``(H, W)`` bool, True where a pixel is seen in both frames (see
    :func:`consistency`). A pixel of frame 0 that is hidden in frame 1 lands (along
    ``flow01``) on the pixel that hides it; so the visible pixels where hidden pixels
    land are occluders, and so are the pixels of the other frame that map onto them.
    Such evidence covers only the part of an object that ends on hidden pixels, so it is
    spread to the whole piece that moves together (:func:`flow_regions`) when at least
    ``share`` of the piece's visible pixels carry it. Returns ``(front0, front1)``,
    ``(H, W)`` bool. Occluders are drawn in front of other visible pixels where both
    reach the same place at an intermediate time (background that passes behind an
    object and is seen again at the other end).
    """
    land1 = _land(~vis0, flow01)  # in frame 1: where pixels hidden in frame 1 went
    land0 = _land(~vis1, flow10)  # in frame 0: where pixels hidden in frame 0 came from
    front1 = vis1 & land1
    front0 = vis0 & land0
    front0_all = front0 | (vis0 & _pull(front1, flow01))
    front1_all = front1 | (vis1 & _pull(front0, flow10))
    out = []
    for front, vis, flow in ((front0_all, vis0, flow01), (front1_all, vis1, flow10)):
        if front.any() and share <= 1.0:
            labels = flow_regions(flow).ravel()
            n = labels.max() + 1
            hits = np.bincount(labels[front.ravel()], minlength=n)
            size = np.bincount(labels[vis.ravel()], minlength=n)
            grow = hits >= share * np.maximum(size, 1)
            front = front | (vis & grow[labels].reshape(front.shape))
        out.append(front)
    return out[0], out[1]
