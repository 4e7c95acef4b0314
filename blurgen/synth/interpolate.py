"""Intermediate frames between the two frames of a pair, and the rule that says how many.

Conventions (docs/internals.md): images ``(H, W, 3)``, RGB; the interpolators take and
return float32 in ``[0, 255]`` (uint8 input is accepted); flow ``(H, W, 2)`` float32 in
pixels, ``[..., 0]`` = x; ``flow01`` maps a pixel ``p`` of frame 0 to ``p + flow01[p]`` in
frame 1, ``flow10`` the other way. Time ``t`` runs from 0 (frame 0) to 1 (frame 1).

Every interpolator has ``name``, ``frames(img0, img1, flow01, flow10, times)`` (an iterator
of ``(H, W, 3)`` float32 frames, one per time) and ``sum_frames(...)`` (their sum, made
without holding more than one frame). ``blurgen.synth.blur`` averages them into a blurred
image.

- :class:`LinearInterpolator`: cross-fade ``(1 - t) I0 + t I1``; ghosts, the baseline.
- :class:`FlowGuidedInterpolator`: uses the pair's ground-truth flows in both directions,
  no weights. ``method="splat"`` (default) forward-splats ``I0`` along ``t F01`` and ``I1``
  along ``(1 - t) F10`` in depth layers found from forward-backward consistency;
  ``"slomo"`` uses Super-SloMo's approximated intermediate flows and backward warps.
  docs/monkaa.md compares them.
- :class:`SuperSloMoInterpolator`: the network of Jiang et al. (torch, imported lazily).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator

import numpy as np

INTERPOLATORS = ("flow-guided", "superslomo", "linear")


# ----------------------------------------------------------------------------- the rule
def max_displacement(flow: np.ndarray) -> float:
    """``s``: the largest flow magnitude ``sqrt(u^2 + v^2)`` over the image, pixels.

    flow: ``(H, W, 2)`` float. Returns a Python float (``inf`` or ``nan`` pass through, so
    callers must check the flow is finite first).
    """
    f = np.asarray(flow, dtype=np.float32)
    return float(np.sqrt(np.max(f[..., 0] * f[..., 0] + f[..., 1] * f[..., 1])))


def frame_count(s: float, min_n: int = 5) -> int:
    """``n = max(ceil(s), min_n)``: intermediate frames for a pair whose largest motion is s px."""
    if not math.isfinite(s) or s < 0:
        raise ValueError(f"s must be a finite non-negative number of pixels, got {s}")
    # A tiny tolerance so that s = 12.0000001 from float32 arithmetic still gives 12.
    return max(int(math.ceil(s - 1e-6)), int(min_n))


def blur_times(n: int) -> np.ndarray:
    """Times of the ``n + 2`` frames a blurred image averages: ``k / (n + 1)``, k = 0..n+1.

    Returns ``(n + 2,)`` float64; the first is 0 (frame 0) and the last 1 (frame 1).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return np.arange(n + 2, dtype=np.float64) / (n + 1)


# ----------------------------------------------------------------------------- helpers
def _as_float_image(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def _as_flow(flow: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    f = np.asarray(flow)
    if f.shape != (*shape, 2):
        raise ValueError(f"expected flow of shape {(*shape, 2)}, got {f.shape}")
    return np.ascontiguousarray(f, dtype=np.float32)


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return gx, gy


def _remap(img: np.ndarray, mx: np.ndarray, my: np.ndarray):
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
    gx, gy = _grid(h, w)
    tx = gx + flow_ab[..., 0]
    ty = gy + flow_ab[..., 1]
    back = _remap(flow_ba, tx, ty)
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
    gx, gy = _grid(h, w)
    tx = np.rint(gx + flow_ab[..., 0]).astype(np.int64)
    ty = np.rint(gy + flow_ab[..., 1]).astype(np.int64)
    ok = (tx >= 0) & (tx < w) & (ty >= 0) & (ty < h)
    out = np.zeros((h, w), bool)
    out[ok] = mask_b[ty[ok], tx[ok]]
    return out


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
    mag = np.sqrt(f[..., 0] * f[..., 0] + f[..., 1] * f[..., 1])
    edge = np.zeros((h, w), bool)
    # horizontal and vertical neighbour pairs whose flows jump
    d = f[:, 1:] - f[:, :-1]
    thr = tol + rel * np.maximum(mag[:, 1:], mag[:, :-1])
    jump = d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] > thr * thr
    edge[:, 1:] |= jump
    edge[:, :-1] |= jump
    d = f[1:] - f[:-1]
    thr = tol + rel * np.maximum(mag[1:], mag[:-1])
    jump = d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] > thr * thr
    edge[1:] |= jump
    edge[:-1] |= jump
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
            hits = np.bincount(labels, weights=front.ravel(), minlength=n)
            size = np.bincount(labels, weights=vis.ravel(), minlength=n)
            grow = hits >= share * np.maximum(size, 1)
            front = front | (vis & grow[labels].reshape(front.shape))
        out.append(front)
    return out[0], out[1]


# ----------------------------------------------------------------------------- linear
class LinearInterpolator:
    """Cross-fade ``(1 - t) I0 + t I1``: no motion, so moving edges ghost. The baseline."""

    name = "linear"

    def frames(self, img0, img1, flow01=None, flow10=None, times: Iterable[float] = ()) -> Iterator[np.ndarray]:
        a, b = _as_float_image(img0), _as_float_image(img1)
        for t in times:
            yield ((1.0 - t) * a + t * b).astype(np.float32)

    def sum_frames(self, img0, img1, flow01=None, flow10=None, times: Iterable[float] = ()) -> np.ndarray:
        a, b = _as_float_image(img0), _as_float_image(img1)
        ts = np.asarray(list(times), dtype=np.float64)
        return (float(np.sum(1.0 - ts)) * a + float(np.sum(ts)) * b).astype(np.float32)


# ----------------------------------------------------------------------------- flow-guided
class FlowGuidedInterpolator:
    """Intermediate frames from the pair's exact flows in both directions (no network).

    method:
      - ``"splat"``: ``I0``'s pixel ``p`` is splatted (bilinear) to ``p + t F01(p)`` with
        weight ``1 - t`` and ``I1``'s pixel ``q`` to ``q + (1 - t) F10(q)`` with weight ``t``,
        each into one of three layers drawn front to back: occluders (pixels that hide
        something during the pair, :func:`occluders`), other pixels seen in both frames,
        pixels hidden in the other frame (:func:`consistency` below 0.5). A layer covers
        the ones behind it by its splat weight (at most 1). Pixels no splat reaches
        (stretching) take the mean of the splats in their 5x5 neighbourhood, else the
        cross-fade. See :mod:`blurgen.synth._splat`.
      - ``"slomo"``: Super-SloMo's intermediate flows ``F_t0 = -t(1-t) F01 + t^2 F10``,
        ``F_t1 = (1-t)^2 F01 - t(1-t) F10``, backward warps, visibility = consistency.
    """

    name = "flow-guided"
    METHODS = ("splat", "slomo")

    def __init__(self, method: str = "splat", *, tol: float = 0.5, rel: float = 0.02,
                 floor: float = 1e-3, hole_fill: int = 5, compiled: bool = True):
        if method not in self.METHODS:
            raise ValueError(f"method must be one of {self.METHODS}, got {method!r}")
        self.method = method
        self.tol, self.rel, self.floor = tol, rel, floor
        self.hole_fill = hole_fill
        self.compiled = compiled  # numba kernels when available; False = the numpy reference

    # -- public API
    def frames(self, img0, img1, flow01, flow10, times: Iterable[float], *,
               accel0: np.ndarray | None = None, accel1: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """Frames at ``times``. accel0, accel1: optional ``(H, W, 2)`` accelerations of
        frame 0's and frame 1's pixels (:func:`accelerations`); with them the splatted
        paths are parabolas instead of lines (``method="splat"`` only)."""
        a, b = _as_float_image(img0), _as_float_image(img1)
        f01 = _as_flow(flow01, a.shape[:2])
        f10 = _as_flow(flow10, a.shape[:2])
        c0 = consistency(f01, f10, tol=self.tol, rel=self.rel, floor=self.floor)
        c1 = consistency(f10, f01, tol=self.tol, rel=self.rel, floor=self.floor)
        ts = [float(t) for t in times]
        if self.method == "splat":
            yield from self._splat_frames(a, b, f01, f10, c0, c1, ts, *self._accels(a, accel0, accel1))
        else:
            yield from self._slomo_frames(a, b, f01, f10, c0, c1, ts)

    def sum_frames(self, img0, img1, flow01, flow10, times: Iterable[float], *,
                   accel0: np.ndarray | None = None, accel1: np.ndarray | None = None) -> np.ndarray:
        from blurgen.synth import _splat

        if self.method == "splat" and self.compiled and _splat.HAVE_NUMBA:
            a, b = _as_float_image(img0), _as_float_image(img1)
            f01 = _as_flow(flow01, a.shape[:2])
            f10 = _as_flow(flow10, a.shape[:2])
            return self._splat_sum(a, b, f01, f10, [float(t) for t in times], *self._accels(a, accel0, accel1))
        acc = None
        for fr in self.frames(img0, img1, flow01, flow10, times, accel0=accel0, accel1=accel1):
            if acc is None:
                acc = fr.copy()
            else:
                acc += fr
        if acc is None:
            return np.zeros(np.asarray(img0).shape, np.float32)
        return acc

    # -- forward splatting (blurgen.synth._splat)
    def _layers(self, f01, f10, c0, c1):
        """Layer of every source pixel: 0 occluder, 1 seen in both frames, 2 hidden at the other end."""
        vis0, vis1 = c0 >= 0.5, c1 >= 0.5
        front0, front1 = occluders(f01, f10, vis0, vis1)
        layer0 = np.where(front0, 0, np.where(vis0, 1, 2)).astype(np.int8)
        layer1 = np.where(front1, 0, np.where(vis1, 1, 2)).astype(np.int8)
        return layer0, layer1

    @staticmethod
    def _accels(a, accel0, accel1):
        shape = a.shape[:2]
        a0 = np.zeros((*shape, 2), np.float32) if accel0 is None else _as_flow(accel0, shape)
        a1 = np.zeros((*shape, 2), np.float32) if accel1 is None else _as_flow(accel1, shape)
        return a0, a1

    def _splat_frames(self, a, b, f01, f10, c0, c1, times, a0, a1):
        from blurgen.synth import _splat

        layer0, layer1 = self._layers(f01, f10, c0, c1)
        if _splat.HAVE_NUMBA and self.compiled:
            canvas = np.zeros((_splat.N_LAYERS, *a.shape[:2], _splat.N_CH), np.float32)
            for t in times:
                yield _splat.splat_frame_numba(a, b, f01, f10, layer0, layer1, t, self.hole_fill,
                                               accel0=a0, accel1=a1, canvas=canvas)
        else:
            for t in times:
                yield _splat.splat_frame_numpy(a, b, f01, f10, layer0, layer1, t, self.hole_fill,
                                               accel0=a0, accel1=a1)

    def _splat_sum(self, a, b, f01, f10, times, a0, a1):
        from blurgen.synth import _splat

        c0 = consistency(f01, f10, tol=self.tol, rel=self.rel, floor=self.floor)
        c1 = consistency(f10, f01, tol=self.tol, rel=self.rel, floor=self.floor)
        layer0, layer1 = self._layers(f01, f10, c0, c1)
        acc = np.zeros(a.shape, np.float32)
        canvas = np.zeros((_splat.N_LAYERS, *a.shape[:2], _splat.N_CH), np.float32)
        for t in times:
            _splat.splat_frame_numba(a, b, f01, f10, layer0, layer1, t, self.hole_fill,
                                     accel0=a0, accel1=a1, out=acc, accumulate=True, canvas=canvas)
        return acc

    # -- Super-SloMo's intermediate-flow equations
    def _slomo_frames(self, a, b, f01, f10, c0, c1, times):
        h, w = a.shape[:2]
        gx, gy = _grid(h, w)
        src0 = np.concatenate([a, c0[..., None]], axis=2)
        src1 = np.concatenate([b, c1[..., None]], axis=2)
        for t in times:
            ft0 = -t * (1 - t) * f01 + t * t * f10
            ft1 = (1 - t) ** 2 * f01 - t * (1 - t) * f10
            g0 = _remap(src0, gx + ft0[..., 0], gy + ft0[..., 1])
            g1 = _remap(src1, gx + ft1[..., 0], gy + ft1[..., 1])
            w0 = (1 - t) * g0[..., 3]
            w1 = t * g1[..., 3]
            den = np.maximum(w0 + w1, 1e-6)
            yield ((w0[..., None] * g0[..., :3] + w1[..., None] * g1[..., :3]) / den[..., None]).astype(np.float32)


# ----------------------------------------------------------------------------- Super-SloMo
class SuperSloMoInterpolator:
    """Super-SloMo (blurgen.models.superslomo) on numpy frames; torch is imported lazily.

    The flow network runs once per pair; the interpolation network takes all times of a
    pair in batches of ``max_batch`` (by default as many as half the free memory of the
    device holds, at about 1.5 KiB per padded pixel and time; at most 128 on a GPU, 8 on
    the CPU). Frames are padded to
    multiples of 32 (edge values) and cropped back; ``flow01`` / ``flow10`` are ignored
    (the network estimates its own).
    """

    name = "superslomo"
    BYTES_PER_PIXEL_AND_TIME = 1536

    def __init__(self, model, device: str = "cpu", max_batch: int | None = None):
        self.model = model
        self.device = device
        self.max_batch = max_batch

    @classmethod
    def from_checkpoint(cls, path, *, trust: bool = False, device: str | None = None,
                        max_batch: int | None = None) -> "SuperSloMoInterpolator":
        from blurgen.models.superslomo import load_checkpoint

        dev = resolve_device(device)
        return cls(load_checkpoint(path, trust=trust, device=dev), dev, max_batch)

    def batch_size(self, h: int, w: int) -> int:
        """Times per interpolation pass for padded frames of ``h x w`` pixels."""
        if self.max_batch:
            return max(1, int(self.max_batch))
        import torch

        per_t = self.BYTES_PER_PIXEL_AND_TIME * h * w
        if str(self.device).startswith("cuda"):
            free = torch.cuda.mem_get_info(torch.device(self.device))[0]
            cap = 128
        else:
            try:
                free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            except (ValueError, OSError, AttributeError):
                free = 4 << 30
            cap = 8  # a CPU pass is compute-bound; several workers may share the memory
        return int(max(1, min(cap, (free // 2) // per_t)))

    def _prepare(self, img0, img1):
        import torch

        from blurgen.models.superslomo import MEAN, pad_to_multiple

        mean = torch.tensor(MEAN, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)

        def to_t(img):
            x = torch.from_numpy(_as_float_image(img)).to(self.device).permute(2, 0, 1)[None] / 255.0
            return x - mean

        i0, size = pad_to_multiple(to_t(img0))
        i1, _ = pad_to_multiple(to_t(img1))
        return i0, i1, size, mean

    def _batches(self, img0, img1, times):
        import torch

        ts = [float(t) for t in times]
        if not ts:
            return
        i0, i1, (h, w), mean = self._prepare(img0, img1)
        bs = self.batch_size(i0.shape[-2], i0.shape[-1])
        with torch.inference_mode():
            f01, f10 = self.model.flows(i0, i1)
            for k in range(0, len(ts), bs):
                out = self.model.interpolate(i0, i1, f01, f10, ts[k:k + bs])
                yield ((out[:, :, :h, :w] + mean) * 255.0).clamp_(0.0, 255.0)

    def frames(self, img0, img1, flow01=None, flow10=None, times: Iterable[float] = ()) -> Iterator[np.ndarray]:
        for batch in self._batches(img0, img1, times):
            for fr in batch.permute(0, 2, 3, 1).cpu().numpy():
                yield np.ascontiguousarray(fr, dtype=np.float32)

    def sum_frames(self, img0, img1, flow01=None, flow10=None, times: Iterable[float] = ()) -> np.ndarray:
        acc = None
        for batch in self._batches(img0, img1, times):
            s = batch.sum(0)
            acc = s if acc is None else acc + s
        if acc is None:
            return np.zeros(np.asarray(img0).shape, np.float32)
        return acc.permute(1, 2, 0).cpu().numpy().astype(np.float32)


def resolve_device(device: str | None) -> str:
    """``None`` / ``"auto"`` -> ``"cuda"`` when a GPU is present, else ``"cpu"``."""
    if device in (None, "", "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)
