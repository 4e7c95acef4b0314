"""What runs in a worker: make one sample and say how it went, as a small picklable result."""

from __future__ import annotations

import functools
import json
import os
import signal
from dataclasses import dataclass
from typing import Any, Union

from blurgen.errors import InputError, SkipSample
from blurgen.jobs.base import Job, Task
from blurgen.shards.packed import PackedSample, pack_sample
from blurgen.shards.schema import Sample, sample_digest, validate_sample
from blurgen.utils import rng_for


@dataclass(frozen=True)
class Made:
    """The sample and its content digest (what the manifest records); the sample packed
    for its shard when the worker was asked to (``pack``)."""

    sample: Sample | PackedSample
    digest: str


@dataclass(frozen=True)
class Skipped:
    """A deliberate skip (``SkipSample``): always recorded, never an error."""

    record: dict[str, Any]


@dataclass(frozen=True)
class BadInput:
    """Bad input (``InputError``): recorded under ``--on-error skip``, fatal under ``fail``.

    The error travels as its parts (``InputError`` does not pickle with its arguments).
    """

    record: dict[str, Any]
    path: str | None
    reason: str
    fix: str | None

    def error(self) -> InputError:
        return InputError(self.path, self.reason, self.fix)


Result = Union[Made, Skipped, BadInput]


def make_one(job: Job, task: Task, seed: int, pack: tuple[str, int] | None = None,
             own_process: bool = False) -> Result:
    """Make one sample with the rng of ``(seed, task.key)``. Other exceptions than a skip or
    bad input are bugs and propagate.

    pack: (compression, tile) to compress the sample for its shard here
    (``shards.packed.pack_sample``), where many workers share the work.
    own_process: this runs in a worker process the run started (loky): it ignores Ctrl-C,
    which the terminal sends to the whole process group; the run's main process handles it
    and stops the workers (they would otherwise print a traceback each).
    """
    if own_process:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        share_cores()
    try:
        sample = job.make(task, rng_for(seed, task.key))
    except SkipSample as e:
        return Skipped({"key": task.key, "kind": "skip", "reason": e.reason, **jsonable(e.info)})
    except InputError as e:
        record = {"key": task.key, "kind": "input-error", "reason": str(e), "path": e.path}
        return BadInput(record, e.path, e.reason, e.fix)
    if sample.key != task.key:
        raise ValueError(f"job {job.kind} made sample {sample.key!r} for task {task.key!r}")
    validate_sample(sample, task.size)
    digest = sample_digest(sample.key, sample.arrays, sample.meta)
    return Made(sample if pack is None else pack_sample(sample, *pack), digest)


def make_group(job: Job, tasks: list[Task], seed: int, pack: tuple[str, int] | None = None,
               own_process: bool = False) -> list[Result]:
    """:func:`make_one` for each of ``tasks`` (a group of the job's ``groups``), inside the
    job's ``group(tasks)``: the context in which the job shares work between them (a video
    decoded as one stream)."""
    if own_process:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        share_cores()
    with job.group(tasks):
        return [make_one(job, t, seed, pack) for t in tasks]


@functools.cache
def share_cores() -> int | None:
    """In a worker process of the run (loky), size OpenCV's thread pool to the worker's share
    of the cores, the number joblib gives OpenMP and BLAS there (``OMP_NUM_THREADS``: the
    cores divided by the workers). OpenCV does not read that variable, so each of N
    workers would otherwise run a pool as large as the machine: N times more threads than
    cores, and the time OpenCV spends sharing work between them (docs/real.md). Its
    results do not depend on the pool's size. Once per process; the size set, or None when
    the process has no such budget."""
    try:
        n = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return None
    if n < 1:
        return None
    import cv2

    cv2.setNumThreads(n)
    return n


def jsonable(info: dict[str, Any]) -> dict[str, Any]:
    """``info`` with numpy scalars unwrapped and anything not JSON as its ``str``."""
    out = {}
    for k, v in info.items():
        if hasattr(v, "item"):
            v = v.item()
        try:
            json.dumps(v, allow_nan=False)
        except (TypeError, ValueError):
            v = str(v)
        out[k] = v
    return out
