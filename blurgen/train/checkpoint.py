"""Checkpoints that load with ``torch.load(weights_only=True)``: tensors and plain containers.

A B2F-net checkpoint is a dict:

- ``format``: "blurgen-b2fnet/1"; ``model``: state dict; ``model_config``: dict
  (``B2FNetConfig``); ``config``: the ``TrainConfig`` as a dict;
- ``optimizer``: Adam's state dict; ``scheduler``: MultiStepLR's state dict with its
  milestones as a plain dict;
- ``epoch`` (the epoch in progress), ``step_in_epoch`` (batches of it already done),
  ``step`` (optimiser steps in total), ``best_epe`` (float, NaN when none yet), ``val``
  (the last validation result);
- ``rng``: torch CPU state (uint8 tensor), CUDA states (list of tensors), numpy
  MT19937 state and Python's ``random`` state as int64 tensors;
- ``versions``: blurgen and torch versions (strings).

Files are written to a temporary name and renamed, so ``last.pt`` is always whole.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from blurgen.errors import InputError
from blurgen.models.b2fnet.config import B2FNetConfig
from blurgen.models.b2fnet.net import B2FNet
from blurgen.utils import atomic_path, load_refusal

FORMAT = "blurgen-b2fnet/1"


def rng_state() -> dict[str, Any]:
    """The process's RNG states as tensors and plain values."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    out: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": int(py_state[0]), "state": torch.tensor(py_state[1], dtype=torch.int64)},
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return out


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` returned."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), None))
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def scheduler_state(sched) -> dict[str, Any]:
    sd = dict(sched.state_dict())
    sd["milestones"] = {int(k): int(v) for k, v in sd["milestones"].items()}
    return sd


def load_scheduler_state(sched, sd: dict[str, Any]) -> None:
    sd = dict(sd)
    sd["milestones"] = Counter({int(k): int(v) for k, v in sd["milestones"].items()})
    sched.load_state_dict(sd)


def save_checkpoint(path: str | os.PathLike, ckpt: dict[str, Any]) -> None:
    """Write ``ckpt`` atomically (temporary name in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; a bad file raises ``InputError``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint not found", "pass the last.pt or best.pt of a training run")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # corrupt file, pickle with unsafe objects, ...
        raise InputError(path, f"cannot be read as a checkpoint with torch.load(weights_only=True) ({load_refusal(e)})",
                         "use a checkpoint written by `blurgen train`") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "model_config" not in ckpt:
        raise InputError(path, "not a B2F-net checkpoint (no 'model' / 'model_config')",
                         "use a checkpoint written by `blurgen train`")
    return ckpt


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu"):
    """(B2FNet in eval mode on ``device``, checkpoint dict) from a training checkpoint."""
    ckpt = load_checkpoint(path)
    model = B2FNet(B2FNetConfig.from_dict(ckpt["model_config"]))
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise InputError(path, f"weights do not fit the network ({str(e).splitlines()[0]})") from None
    return model.to(device).eval(), ckpt
