"""The one interface every flow estimator implements, and the input checks they share.

Images are ``(H, W, 3) uint8`` RGB. A call estimates N pairs at once:
``estimate(firsts, seconds) -> (N, H, W, 2) float32``, pixels, ``[..., 0]`` = x (right),
``[..., 1]`` = y (down); ``flow[n]`` maps a pixel ``p`` of ``firsts[n]`` to
``p + flow[n][p]`` in ``seconds[n]``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from blurgen.errors import ConfigError, InputError

ImageBatch = Sequence[np.ndarray] | np.ndarray  # list of (H, W, 3) uint8, or (N, H, W, 3) uint8


def _label(names: Sequence[str] | None, i: int, fallback: str) -> str:
    return str(names[i]) if names is not None and i < len(names) else fallback


def as_image_list(images: ImageBatch, what: str) -> list[np.ndarray]:
    """Return ``images`` as a list of ``(H, W, 3) uint8`` arrays; anything else -> InputError."""
    if isinstance(images, np.ndarray):
        if images.ndim != 4:
            raise InputError(
                None,
                f"{what}: expected a batch (N, H, W, 3) or a list of (H, W, 3) images, got shape {images.shape}",
            )
        images = list(images)
    out = []
    for i, img in enumerate(images):
        img = np.asarray(img)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise InputError(
                None,
                f"{what}[{i}]: expected an (H, W, 3) uint8 RGB image, got shape {img.shape} dtype {img.dtype}",
            )
        out.append(img)
    return out


def check_pairs(
    firsts: list[np.ndarray],
    seconds: list[np.ndarray],
    names1: Sequence[str] | None = None,
    names2: Sequence[str] | None = None,
) -> tuple[int, int]:
    """Check that every pair (and every pair of the call) has one frame size; return (H, W).

    ``names1`` / ``names2`` (file names, optional) are used in the error message.
    """
    if len(firsts) != len(seconds):
        raise InputError(None, f"{len(firsts)} first images but {len(seconds)} second images")
    if not firsts:
        raise InputError(None, "no image pairs to estimate flow for")
    h, w = firsts[0].shape[:2]
    for i, (a, b) in enumerate(zip(firsts, seconds)):
        if a.shape != b.shape:
            n1 = _label(names1, i, f"first image of pair {i}")
            n2 = _label(names2, i, f"second image of pair {i}")
            raise InputError(
                n1,
                f"size {a.shape[1]}x{a.shape[0]} differs from {n2} ({b.shape[1]}x{b.shape[0]})",
                "flow needs two images of the same size (W x H)",
            )
        if a.shape[:2] != (h, w):
            n1 = _label(names1, i, f"first image of pair {i}")
            raise InputError(
                n1,
                f"size {a.shape[1]}x{a.shape[0]} differs from the first pair's {w}x{h}",
                "estimate pairs of different sizes in separate calls",
            )
    return h, w


def check_finite_flows(flows: np.ndarray, estimator: str, names: Sequence[str] | None = None) -> None:
    """Raise InputError when an estimator returned NaN or inf in any flow of the batch."""
    bad = ~np.isfinite(flows)
    if bad.any():
        i = int(np.argmax(bad.reshape(len(flows), -1).any(axis=1)))
        raise InputError(
            names[i] if names is not None and i < len(names) else None,
            f"estimator {estimator} produced {int(bad[i].sum())} non-finite flow values "
            f"(pair {i} of the batch)",
            "check the images and the checkpoint, or use the classical estimator 'dis'",
        )


class FlowEstimator(ABC):
    """Dense optical flow between pairs of RGB images.

    Attributes:
        name: the estimator's name as ``get_estimator`` takes it (``"dis"``, ``"pwcnet"``).
        checkpoint: the checkpoint as asked for (``"things"``, a file name) or None.
        checkpoint_path: the weights file actually loaded, or None (classical, random).
        supports_init: True when ``estimate(..., init=...)`` accepts an initial flow.

    Objects are cheap to build and picklable; learned models are loaded on first use in
    each process and cached there.
    """

    name: str = ""
    checkpoint: str | None = None
    checkpoint_path: Path | None = None
    supports_init: bool = False

    @property
    def label(self) -> str:
        """Short description for sample metadata: ``"dis"``, ``"pwcnet/things"``."""
        if self.checkpoint is None:
            return self.name
        return f"{self.name}/{Path(self.checkpoint).name}"

    def estimate(
        self,
        firsts: ImageBatch,
        seconds: ImageBatch,
        init: Sequence[np.ndarray] | np.ndarray | None = None,
        names1: Sequence[str] | None = None,
        names2: Sequence[str] | None = None,
    ) -> np.ndarray:
        """Flow from ``firsts[n]`` to ``seconds[n]`` for every n.

        Args:
            firsts, seconds: N images each, ``(H, W, 3) uint8`` RGB, all of one size.
            init: optional ``(N, H, W, 2) float32`` initial flows (only where
                ``supports_init``; otherwise ConfigError).
            names1, names2: optional file names, used in error messages only.

        Returns:
            ``(N, H, W, 2) float32`` flows in pixels. Non-finite output -> InputError.
        """
        a = as_image_list(firsts, "first images")
        b = as_image_list(seconds, "second images")
        h, w = check_pairs(a, b, names1, names2)
        inits = None
        if init is not None:
            if not self.supports_init:
                raise ConfigError(f"estimator {self.name} cannot start from an initial flow")
            inits = np.asarray(init, dtype=np.float32)
            if inits.shape != (len(a), h, w, 2):
                raise ConfigError(f"initial flows have shape {inits.shape}, expected {(len(a), h, w, 2)}")
        flows = self._estimate(a, b, inits)
        if flows.shape != (len(a), h, w, 2):
            raise RuntimeError(f"estimator {self.name} returned shape {flows.shape}, expected {(len(a), h, w, 2)}")
        check_finite_flows(flows, self.label, names1)
        return flows.astype(np.float32, copy=False)

    def estimate_pair(self, first: np.ndarray, second: np.ndarray, init: np.ndarray | None = None) -> np.ndarray:
        """Flow ``(H, W, 2) float32`` from one image to another."""
        return self.estimate([first], [second], None if init is None else [init])[0]

    @abstractmethod
    def _estimate(
        self, firsts: list[np.ndarray], seconds: list[np.ndarray], inits: np.ndarray | None
    ) -> np.ndarray:
        """Checked inputs in, ``(N, H, W, 2)`` float32 out."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label!r})"
