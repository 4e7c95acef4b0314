"""Classical flow estimators from OpenCV (no weights): DIS, Farneback, and zero flow.

All work on the grayscale image (ITU-R BT.601 luma, as ``cv2.cvtColor`` computes it) and
accept an initial flow, which is what the chained-then-refined window mode uses.
Flow ``(H, W, 2) float32``, pixels, ``[..., 0]`` = x.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from blurgen.flow.base import FlowEstimator

DIS_PRESETS = ("ultrafast", "fast", "medium")


def _gray(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


class ZeroFlow(FlowEstimator):
    """The baseline: flow 0 everywhere (an estimator that knows nothing)."""

    name = "zero"

    def _estimate(self, firsts, seconds, inits):
        h, w = firsts[0].shape[:2]
        return np.zeros((len(firsts), h, w, 2), np.float32)


class DISFlow(FlowEstimator):
    """OpenCV Dense Inverse Search (Kroeger et al., ECCV 2016) with one of its presets.

    ``preset``: ``"medium"`` (default; the ``dis`` estimator), ``"fast"`` or ``"ultrafast"``.
    Deterministic; uses OpenCV's thread pool (``cv2.setNumThreads``).
    """

    supports_init = True

    def __init__(self, preset: str = "medium"):
        if preset not in DIS_PRESETS:
            raise ValueError(f"unknown DIS preset {preset!r}; choose from {DIS_PRESETS}")
        self.preset = preset
        self.name = "dis" if preset == "medium" else f"dis-{preset}"
        self._dis = None

    def __getstate__(self):
        # the OpenCV object does not pickle: each process makes its own
        return {**self.__dict__, "_dis": None}

    def _solver(self, shape: tuple[int, ...], with_init: bool):
        """An OpenCV DIS object for images of ``shape``: one per estimator, process and size,
        reused between calls (a fresh one spends about a sixth of its first pass allocating),
        so each call computes what a fresh object per call computes. That holds while the
        object keeps its preset's scales: OpenCV lowers ``finest_scale`` for an image too
        small for them (under about 45 px for ``medium``, 90 px for the others) and keeps it
        lowered for the rest of the call's pairs, so such an object is dropped after its call
        (:meth:`_estimate`). With an initial flow, a fresh object each time: OpenCV crashes
        when an object that took one is used at another size."""
        import cv2

        if not with_init and self._dis is not None and self._dis[0] == shape:
            return self._dis[1]
        code = {
            "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
            "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
            "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
        }[self.preset]
        dis = cv2.DISOpticalFlow_create(code)
        if not with_init:
            self._dis = (shape, dis, _dis_settings(dis))
        return dis

    def _estimate(self, firsts, seconds, inits):
        dis = self._solver(firsts[0].shape, inits is not None)
        out = []
        for i, (a, b) in enumerate(zip(firsts, seconds)):
            # DIS starts from the flow passed in when it is (H, W, 2) float32, else from 0
            init = None if inits is None else np.array(inits[i], dtype=np.float32, order="C")
            out.append(dis.calc(_gray(a), _gray(b), init))
        if self._dis is not None and self._dis[1] is dis and _dis_settings(dis) != self._dis[2]:
            self._dis = None  # OpenCV changed its scales for this size: the next call starts afresh
        return np.stack(out).astype(np.float32, copy=False)


def _dis_settings(dis) -> tuple[int, ...]:
    """What OpenCV may change in a DIS object while computing: its pyramid and patches."""
    return (dis.getFinestScale(), dis.getPatchSize(), dis.getPatchStride())


@dataclass(frozen=True)
class FarnebackParams:
    """Arguments of ``cv2.calcOpticalFlowFarneback`` (OpenCV's sample values, 5 levels)."""

    pyr_scale: float = 0.5
    levels: int = 5
    winsize: int = 15
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.2


class FarnebackFlow(FlowEstimator):
    """OpenCV Farneback polynomial-expansion flow (Farneback, SCIA 2003)."""

    name = "farneback"
    supports_init = True

    def __init__(self, params: FarnebackParams | None = None):
        self.params = params or FarnebackParams()

    def _estimate(self, firsts, seconds, inits):
        import cv2

        p = self.params
        out = []
        for i, (a, b) in enumerate(zip(firsts, seconds)):
            if inits is None:
                flow, flags = None, 0
            else:
                flow, flags = np.array(inits[i], dtype=np.float32, order="C"), cv2.OPTFLOW_USE_INITIAL_FLOW
            flow = cv2.calcOpticalFlowFarneback(
                _gray(a), _gray(b), flow, p.pyr_scale, p.levels, p.winsize, p.iterations, p.poly_n, p.poly_sigma, flags
            )
            out.append(flow)
        return np.stack(out).astype(np.float32, copy=False)
