"""What a job is: the contract between the dataset loop (``blurgen.pipeline``) and a kind of
dataset (``synth-monkaa``, ``real``, ``pattern``).

A job couples a source (which samples exist, found by listing the input root) with a maker
(how one sample is made, in a worker process). The loop plans shards from the tasks' keys,
calls ``make`` for each task in workers, and records ``params``, ``inputs()`` and
``checkpoints()`` in the manifest so that ``blurgen rerun`` can build the same job again
(``blurgen.jobs.build_job(kind, params, root)``). Jobs never import the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from blurgen.errors import InputError
from blurgen.shards.schema import Sample


@dataclass(frozen=True)
class Task:
    """One sample to make.

    key: deterministic sample key (unique in a run); split: e.g. "train" / "test";
    size: (H, W) of the sample's arrays (shards hold one size); payload: JSON data the
    maker needs (paths relative to the job's input root, frame indices, ...).
    """

    key: str
    split: str
    size: tuple[int, int]
    payload: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@runtime_checkable
class Job(Protocol):
    """A kind of dataset, built from JSON ``params`` and an input ``root``.

    - ``kind``: the name ``build_job`` knows it by; ``params``: JSON, no absolute paths:
      everything needed to build the same job again; ``root``: the input folder (or None).
    - ``tasks()``: every sample the run should make (cheap: lists files).
    - ``planned_skips()``: ``{"key", "reason", ...}`` dropped while planning; bad input found
      then carries ``"kind": "input-error"`` and ``"path"`` (relative to ``root``).
    - ``inputs()``: posix paths relative to ``root`` of every file the job reads.
    - ``checkpoints()``: paths of the weights it uses.
    - ``make(task, rng)``: runs in a worker; returns the ``Sample``, raises
      ``errors.SkipSample`` for a deliberate skip and ``errors.InputError`` for bad input.

    Optional, for jobs whose samples share work when made together (the real job's videos:
    one stream decode for consecutive windows): ``groups(tasks) -> list[list[int]] | None``
    (indices into ``tasks`` to make together, in making order; None: one at a time, in
    the order given) and ``group(tasks)``, a context manager the worker makes one group's
    tasks in, in order. Each sample must be the one ``make`` alone gives.
    """

    kind: str
    root: Path | None
    params: dict[str, Any]

    def tasks(self) -> list[Task]: ...

    def planned_skips(self) -> list[dict[str, Any]]: ...

    def inputs(self) -> list[str]: ...

    def checkpoints(self) -> list[str]: ...

    def make(self, task: Task, rng: np.random.Generator) -> Sample: ...


class PlannedJob:
    """A job whose plan (tasks and planned skips) is worked out once from its input root.

    Subclasses implement :meth:`_plan`; the plan is cached, checked for duplicate keys, and
    left behind when the job is pickled for a worker (workers need only ``make``).
    """

    root: Path

    def _plan(self) -> tuple[list[Task], list[dict[str, Any]]]:
        raise NotImplementedError

    def _planned(self) -> tuple[list[Task], list[dict[str, Any]]]:
        cached = self.__dict__.get("_plan_cache")
        if cached is None:
            cached = self._plan()
            keys = [t.key for t in cached[0]]
            if len(set(keys)) != len(keys):
                seen: set[str] = set()
                dup = sorted({k for k in keys if k in seen or seen.add(k)})[:3]
                raise InputError(self.root, f"two samples share a key ({', '.join(dup)})",
                                 "sequence and scene names must be unique")
            self._plan_cache = cached
        return cached

    def tasks(self) -> list[Task]:
        return list(self._planned()[0])

    def planned_skips(self) -> list[dict[str, Any]]:
        return [dict(s) for s in self._planned()[1]]

    def __getstate__(self) -> dict[str, Any]:
        # Workers get the job once per call (or once per worker): leave the plan behind.
        state = dict(self.__dict__)
        state.pop("_plan_cache", None)
        return state
