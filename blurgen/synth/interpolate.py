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

from blurgen.synth.scene import consistency, occluders, pixel_grid, remap

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
        pair = self._compiled_pair(img0, img1, flow01, flow10, accel0, accel1)
        if pair is not None:
            for t in times:
                yield pair.frame(float(t))
            return
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
        pair = self._compiled_pair(img0, img1, flow01, flow10, accel0, accel1)
        if pair is not None:
            return pair.sum([float(t) for t in times])
        acc = None
        for fr in self.frames(img0, img1, flow01, flow10, times, accel0=accel0, accel1=accel1):
            if acc is None:
                acc = fr.copy()
            else:
                acc += fr
        if acc is None:
            return np.zeros(np.asarray(img0).shape, np.float32)
        return acc

    # -- forward splatting (blurgen.synth._splat, blurgen.synth._splat_numba)
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

    def _compiled_pair(self, img0, img1, flow01, flow10, accel0, accel1):
        """The pair set up for the compiled splat (consistency, layers and everything else
        that does not depend on t: :class:`blurgen.synth._splat_numba.SplatPair`), or None
        for the numpy reference and the slomo method."""
        from blurgen.synth import _splat

        if self.method != "splat" or not (self.compiled and _splat.HAVE_NUMBA):
            return None
        from blurgen.synth._splat_numba import SplatPair

        a, b = _as_float_image(img0), _as_float_image(img1)
        shape = a.shape[:2]
        f01 = _as_flow(flow01, shape)
        f10 = _as_flow(flow10, shape)
        c0 = consistency(f01, f10, tol=self.tol, rel=self.rel, floor=self.floor)
        c1 = consistency(f10, f01, tol=self.tol, rel=self.rel, floor=self.floor)
        layer0, layer1 = self._layers(f01, f10, c0, c1)
        a0 = None if accel0 is None else _as_flow(accel0, shape)
        a1 = None if accel1 is None else _as_flow(accel1, shape)
        return SplatPair(a, b, f01, f10, layer0, layer1, a0, a1, hole=self.hole_fill)

    def _splat_frames(self, a, b, f01, f10, c0, c1, times, a0, a1):
        """Frames of the numpy reference (:func:`blurgen.synth._splat.splat_frame_numpy`)."""
        from blurgen.synth import _splat

        layer0, layer1 = self._layers(f01, f10, c0, c1)
        for t in times:
            yield _splat.splat_frame_numpy(a, b, f01, f10, layer0, layer1, t, self.hole_fill,
                                           accel0=a0, accel1=a1)

    # -- Super-SloMo's intermediate-flow equations
    def _slomo_frames(self, a, b, f01, f10, c0, c1, times):
        h, w = a.shape[:2]
        gx, gy = pixel_grid(h, w)
        src0 = np.concatenate([a, c0[..., None]], axis=2)
        src1 = np.concatenate([b, c1[..., None]], axis=2)
        for t in times:
            ft0 = -t * (1 - t) * f01 + t * t * f10
            ft1 = (1 - t) ** 2 * f01 - t * (1 - t) * f10
            g0 = remap(src0, gx + ft0[..., 0], gy + ft0[..., 1])
            g1 = remap(src1, gx + ft1[..., 0], gy + ft1[..., 1])
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
