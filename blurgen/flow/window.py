"""Pseudo-ground-truth flow for a window of consecutive high-speed frames.

A real-blur sample averages frames ``0 .. K-1`` (K = 7 at 240 fps); its label is the flow
between the end frames, in both directions. Three ways to get it (``mode``):

- ``"direct"``: estimate ``0 -> K-1`` and ``K-1 -> 0`` from the end frames alone (the
  paper's way; 2 estimator passes).
- ``"chained"``: estimate the K-1 small steps ``i -> i+1`` (and ``i+1 -> i``), then
  compose them (``compose_flows``); 2(K-1) passes, each on a small motion.
- ``"chained-init"``: the chained result initialises the direct estimate (only for
  estimators with ``supports_init``: the classical ones); 2K passes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from blurgen.errors import ConfigError
from blurgen.flow.base import FlowEstimator
from blurgen.flow.consistency import flow_at_targets

WINDOW_MODES = ("direct", "chained", "chained-init")


def compose_flows(steps: Sequence[np.ndarray]) -> np.ndarray:
    """Compose flows ``0 -> 1, 1 -> 2, ..., (K-2) -> (K-1)`` into the flow ``0 -> K-1``.

    ``F_{0->k+1}(p) = F_{0->k}(p) + f_{k->k+1}(p + F_{0->k}(p))`` with bilinear sampling;
    a path that leaves the frame continues with the flow at the nearest border pixel.
    Each step is ``(H, W, 2) float32`` in pixels; returns the same.
    """
    if len(steps) == 0:
        raise ValueError("compose_flows needs at least one flow")
    total = np.array(steps[0], dtype=np.float32)
    for step in steps[1:]:
        total = total + flow_at_targets(np.asarray(step, dtype=np.float32), total)
    return total


def estimate_window(
    estimator: FlowEstimator,
    frames: Sequence[np.ndarray],
    mode: str = "direct",
    names: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Flow first -> last and last -> first of a window of consecutive frames.

    Args:
        estimator: from ``get_estimator``.
        frames: K >= 2 images ``(H, W, 3) uint8`` RGB in time order, one size.
        mode: ``"direct"``, ``"chained"`` or ``"chained-init"`` (module docstring).
        names: optional file names of the frames, for error messages.

    Returns:
        ``(flow_fwd, flow_bwd)``, each ``(H, W, 2) float32`` in pixels: frame 0 -> K-1 and
        K-1 -> 0. All estimator passes of a mode go through one batched ``estimate`` call
        (two for ``chained-init``).
    """
    if mode not in WINDOW_MODES:
        raise ConfigError(f"unknown flow window mode {mode!r}; choose from {', '.join(WINDOW_MODES)}")
    frames = list(frames)
    if len(frames) < 2:
        raise ConfigError(f"a flow window needs at least 2 frames, got {len(frames)}")
    if mode == "chained-init" and not estimator.supports_init:
        raise ConfigError(
            f"flow window mode 'chained-init' needs an estimator that takes an initial flow; "
            f"{estimator.name} does not (use 'chained' or 'direct', or a classical estimator)"
        )
    names = list(names) if names is not None else None
    first, last = frames[0], frames[-1]
    end_names = None if names is None else [names[0], names[-1]]
    rev_names = None if names is None else [names[-1], names[0]]
    if mode == "direct":
        flows = estimator.estimate([first, last], [last, first], names1=end_names, names2=rev_names)
        return flows[0], flows[1]

    k = len(frames) - 1
    a = frames[:-1] + frames[1:]  # i, then i+1
    b = frames[1:] + frames[:-1]  # i+1, then i
    n_a = None if names is None else names[:-1] + names[1:]
    n_b = None if names is None else names[1:] + names[:-1]
    steps = estimator.estimate(a, b, names1=n_a, names2=n_b)
    fwd = compose_flows(steps[:k])  # 0->1, 1->2, ..., k-1->k
    bwd = compose_flows(steps[k:][::-1])  # k->k-1, ..., 1->0
    if mode == "chained":
        return fwd, bwd
    flows = estimator.estimate(
        [first, last], [last, first], init=np.stack([fwd, bwd]), names1=end_names, names2=rev_names
    )
    return flows[0], flows[1]
