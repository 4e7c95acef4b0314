"""Distributed data parallel helpers: detect a torchrun launch and set up the process group.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK (and MASTER_ADDR / MASTER_PORT). With
WORLD_SIZE > 1 we join a process group: NCCL when training on CUDA, gloo on the CPU.
Without them (a plain ``blurgen train``), everything runs as rank 0 of 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from blurgen.errors import ConfigError


@dataclass
class DistInfo:
    """rank / world_size of this process, its device, and whether a group was started."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    initialized: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_world() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) without it."""
    try:
        rank = int(os.environ.get("RANK", "0"))
        world = int(os.environ.get("WORLD_SIZE", "1"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as e:
        raise ConfigError(f"bad RANK/WORLD_SIZE/LOCAL_RANK in the environment ({e})") from None
    return rank, world, local


def pick_device(pref: str, local_rank: int = 0) -> torch.device:
    """'auto' -> cuda:LOCAL_RANK when CUDA is available, else cpu; 'cuda' needs CUDA."""
    if pref == "cpu":
        return torch.device("cpu")
    if pref == "auto" and not torch.cuda.is_available():
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(f"--device {pref}: CUDA is not available on this machine (use --device cpu)")
    if pref.startswith("cuda:"):
        return torch.device(pref)
    return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))


def setup(device_pref: str = "auto") -> DistInfo:
    """Join the torchrun process group when WORLD_SIZE > 1; pick this process's device."""
    rank, world, local = env_world()
    device = pick_device(device_pref, local)
    info = DistInfo(rank, world, local, device, False)
    if world > 1:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        backend = "nccl" if device.type == "cuda" else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend=backend)
        info.initialized = True
    return info


def cleanup(info: DistInfo) -> None:
    if info.initialized and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum of ``t`` over ranks (a copy; ``t`` itself unchanged)."""
    t = t.detach().clone()
    if info.initialized:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def gather_objects(obj, info: DistInfo) -> list:
    """Every rank's picklable ``obj``, in rank order (just ``[obj]`` without a group)."""
    if not info.initialized:
        return [obj]
    out = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(info: DistInfo) -> None:
    if info.initialized:
        dist.barrier()
