"""``get_estimator``: one entry point for classical and learned flow estimators."""

from __future__ import annotations

import os

from blurgen.errors import ConfigError
from blurgen.flow.base import FlowEstimator
from blurgen.flow.classical import DISFlow, FarnebackFlow, ZeroFlow
from blurgen.flow.learned import PtlflowEstimator

CLASSICAL = ("dis", "dis-medium", "dis-fast", "dis-ultrafast", "farneback", "zero")


def is_classical(name: str) -> bool:
    """True for the OpenCV estimators (and ``zero``), which need no weights."""
    return name.strip().lower() in CLASSICAL


def get_estimator(
    name: str,
    ckpt: str | os.PathLike | None = None,
    device: str | None = None,
    batch_size: int | None = None,
) -> FlowEstimator:
    """Build a flow estimator by name.

    Args:
        name: ``dis`` (DIS, medium preset), ``dis-fast``, ``dis-ultrafast``,
            ``farneback``, ``zero`` (baseline), or any ptlflow model name (``pwcnet``,
            ``flownet2``, ``fastflownet``, ``raft_small``, ...).
        ckpt: learned models only: None (the ``things`` checkpoint, as in the paper), a
            ptlflow checkpoint name (``things``, ``sintel``, ...), a local file, or
            ``"random"`` (random weights: for timing and tests, meaningless flow).
        device: learned models only: None (GPU when present), ``cpu``, ``cuda``, ``cuda:N``.
        batch_size: learned models only: pairs per forward pass.

    Raises ConfigError for an unknown name or a checkpoint or device given to a classical estimator,
    InputError when a checkpoint cannot be found offline (the message says which file to
    get and where to put it).
    """
    key = name.strip().lower()
    if key in CLASSICAL:
        if ckpt is not None:
            raise ConfigError(f"flow estimator {key} needs no checkpoint (got {os.fspath(ckpt)!r})")
        if device is not None:
            raise ConfigError(f"--device {device} has no effect here: it applies to learned flow models; "
                              f"{key} runs on the CPU")
        if key == "zero":
            return ZeroFlow()
        if key == "farneback":
            return FarnebackFlow()
        return DISFlow("medium" if key in ("dis", "dis-medium") else key.split("-", 1)[1])

    return PtlflowEstimator(name.strip(), ckpt=ckpt, device=device, batch_size=batch_size)
