"""``run(job, out)``: the one loop every dataset command runs.

Plan shards from the task keys alone, make each shard's samples in parallel, write each
shard atomically in planned order (in a background thread, while the next shard's samples
are made), and rewrite ``OUT/manifest.json`` after each. The same
job, seed and settings give byte-identical shards whatever the worker count, backend or
finishing order; ``resume=True`` after a kill gives the same dataset as an uninterrupted run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joblib import delayed

from blurgen import manifest as mf
from blurgen.errors import ConfigError, InputError
from blurgen.jobs.base import Job, Task
from blurgen.parallel import check_backend, executor
from blurgen.pipeline.book import RunBook, check_same_run, compare_inputs, diff_line
from blurgen.pipeline.interrupt import StopSignals, ending_cleanly, remove_temporaries
from blurgen.pipeline.lock import RunLock
from blurgen.pipeline.packing import Pending, ShardPacker
from blurgen.pipeline.waiting import WaitingRoom
from blurgen.pipeline.plan import ON_ERROR, Settings, ShardPlan, plan_shards, resolve_settings
from blurgen.pipeline.worker import BadInput, Made, Skipped, jsonable, make_group, make_one
from blurgen.recipe import recipe_digest
from blurgen.report import write_companions


# Stream groups (Job.groups) make samples in another order than the shards take them: the
# samples made ahead wait, compressed, in memory up to GROUP_BUFFER_BYTES and past it in a
# temporary file (pipeline.waiting). Samples that are not packed (compressions the packer
# does not reproduce) cannot wait in the file: groups are used for them only when the
# run's samples fit in GROUP_BUFFER_BYTES, counted at RAW_BYTES_PER_PIXEL (blur, two
# flows, two masks, the two end frames).
GROUP_BUFFER_BYTES = 2 * 2**30
RAW_BYTES_PER_PIXEL = 3 + 8 + 8 + 1 + 1 + 6


def run(
    job: Job,
    out: str | os.PathLike,
    *,
    seed: int = 0,
    workers: int = 1,
    backend: str | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    on_error: str = "skip",
    limit: int | None = None,
    samples_per_shard: int | None = None,
    compression: str | None = None,
    tile: int | None = None,
    quiet: bool = False,
    command: Sequence[str] | None = None,
    recipe: dict[str, Any] | None = None,
    expect_inputs: Sequence[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Make every task of ``job`` into shards under ``out``; return the manifest (a dict).

    samples_per_shard / compression / tile: None takes the recipe's ``[pipeline]`` value,
    else the default. ``on_error="fail"`` stops at the first ``InputError`` (raised again
    after the completed shards and the manifest are safe on disk). ``expect_inputs``
    (``rerun``): the input list the manifest recorded; any difference is refused before
    anything is made. ``extra``: more top-level manifest fields.
    """
    if on_error not in ON_ERROR:
        raise ConfigError(f"--on-error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
    check_backend(workers, backend, scheduler)  # before anything is written
    recipe = dict(recipe or {})
    settings = resolve_settings(recipe, samples_per_shard, compression, tile, limit)
    out = Path(out)
    with ending_cleanly(out) as stop:
        out.mkdir(parents=True, exist_ok=True)
        with RunLock(out):
            previous = _previous_run(out, resume)
            remove_temporaries(out)
            book = _open_book(job, out, settings, seed=seed, on_error=on_error, recipe=recipe, workers=workers,
                              command=command, expect_inputs=expect_inputs, extra=extra, previous=previous)
            book.flush("partial" if book.todo() else "complete")
            with _progress(sum(len(p.tasks) for p in book.plans), book.tasks_done(), quiet) as bar:
                _make_shards(job, book, settings, seed, on_error, (workers, backend, scheduler), stop, bar)
            stop.check()
            manifest = book.flush("complete")
            # The dataset card and preview beside the shards: inside the lock and the stop
            # and full-disk handling, so every run (and rerun) writes them the same way.
            write_companions(out, manifest)
    if not quiet:
        print(book.summary_line(), file=sys.stderr)
    return manifest


def _previous_run(out: Path, resume: bool) -> dict[str, Any] | None:
    """The manifest ``--resume`` finishes (None: a new run); a new run needs an empty ``out``."""
    path = out / mf.MANIFEST_NAME
    if resume:
        return mf.load_manifest(path) if path.exists() else None
    existing = sorted(p.name for p in out.iterdir() if p.name != mf.LOCK_NAME)
    if existing:
        shown = ", ".join(existing[:3]) + (", ..." if len(existing) > 3 else "")
        raise ConfigError(f"{out} already holds files ({shown}); add --resume to finish that run, "
                          "or choose an empty --out")
    return None


def _planned_skips(job: Job, on_error: str) -> list[dict[str, Any]]:
    """The job's planned skips as manifest records; under ``fail`` bad input found while
    planning (kind ``input-error``) stops the run here, before any work."""
    skips = [{"kind": "planned", **jsonable(s)} for s in job.planned_skips()]
    for s in skips if on_error == "fail" else ():
        if s["kind"] == "input-error":
            where = s.get("path")
            if where and job.root is not None and not os.path.isabs(where):
                where = Path(job.root) / where
            if where is not None and str(where) in s["reason"]:
                where = None  # the reason names the file already
            raise InputError(where, s["reason"], "repair or remove it, or use --on-error skip to record it and go on")
    return skips


def _open_book(job: Job, out: Path, settings: Settings, *, seed: int, on_error: str, recipe: dict, workers: int,
               command, expect_inputs, extra, previous) -> RunBook:
    """Plan the run, hash its inputs and checkpoints, and check them against ``rerun``'s
    expectation or the run being resumed; the book that records the run."""
    planned_skips = _planned_skips(job, on_error)
    plans = plan_shards(job.tasks(), settings.samples_per_shard, settings.limit)
    inputs = mf.hash_inputs(job.root, job.inputs(), workers=max(2, workers))
    if expect_inputs is not None:
        diffs = compare_inputs(expect_inputs, inputs)
        if diffs:
            raise InputError(job.root, diff_line("inputs differ from the manifest", diffs), "rerun needs the same input files")
    identity = {"job": {"kind": job.kind, "params": job.params}, "recipe_digest": recipe_digest(recipe),
                "seed": int(seed), "pipeline": settings.as_dict()}
    if previous is not None:
        check_same_run(previous, identity, inputs, out, job.root)
    header = {
        "schema": mf.MANIFEST_SCHEMA, "status": "partial",
        "command": list(command) if command is not None else ["blurgen", *sys.argv[1:]],
        "job": identity["job"], "recipe": recipe, "recipe_digest": identity["recipe_digest"], "seed": int(seed),
        "pipeline": {**settings.as_dict(), "on_error": on_error},
        "blurgen": mf.git_state(), "versions": mf.package_versions(),
        "inputs": {"root": None if job.root is None else str(job.root), "files": inputs,
                   "digest": mf.inputs_digest(inputs)},
        "checkpoints": mf.hash_checkpoints(job.checkpoints()),
        "plan": {"tasks": sum(len(p.tasks) for p in plans), "shards": [p.as_dict() for p in plans]},
        **(extra or {}),
    }
    return RunBook(out, header, plans, planned_skips, previous)


def _make_shards(job: Job, book: RunBook, settings: Settings, seed: int, on_error: str, where: tuple,
                 stop: StopSignals, bar) -> None:
    """Make and write every shard still to do. ``where``: (workers, backend, scheduler)."""
    todo = book.todo()
    if not todo:
        return
    # a refused or unreadable checkpoint spoils every sample: fatal whatever --on-error says
    weights = {os.path.abspath(c) for c in job.checkpoints()}
    tasks = [t for p in todo for t in p.tasks]
    with executor(*where) as par, ShardPacker(settings.compression, settings.tile) as packer, \
            WaitingRoom(book.out, GROUP_BUFFER_BYTES) as room:
        # one ordered stream over every remaining task: the next shard's samples are made
        # (by the workers, or here) while the packer's writer thread writes the previous
        # shard, and each sample is compressed in the background while the next ones are made
        # loky's processes are the run's own: Ctrl-C (sent to the whole process group) is for
        # this process to handle, not theirs (a cluster's workers are left as they are)
        backend = check_backend(*where)
        own = backend == "loky"
        groups = _groups(job, tasks, packer)
        pack = packer.worker_packing(backend)
        if groups is None:
            results = iter(par(delayed(make_one)(job, t, seed, pack, own) for t in tasks))
        else:
            per_group = par(delayed(make_group)(job, [tasks[i] for i in g], seed, pack, own) for g in groups)
            results = _in_planned_order(groups, per_group, packer, room)
        writing = None  # the shard being written while the next shard's samples are made
        try:
            for plan in todo:
                made, skipped = _collect(plan, results, on_error, weights, book, stop, bar, packer)
                stop.check()
                _record(writing, book)
                writing = _write(plan, made, skipped, book, packer)
            _record(writing, book)
        finally:
            _record(writing, book, ending=True)


def _groups(job: Job, tasks: list[Task], packer: ShardPacker) -> list[list[int]] | None:
    """The job's groups of tasks to make together (``job.groups``), when it has them and
    they are worth it: some group holds more than one task, and the samples can wait for
    their shard (packed; or all of them fit in GROUP_BUFFER_BYTES). Else None: one task at
    a time, in planned order."""
    groups = job.groups(tasks) if hasattr(job, "groups") else None
    if not groups or max(len(g) for g in groups) < 2:
        return None
    raw = sum(t.size[0] * t.size[1] for t in tasks) * RAW_BYTES_PER_PIXEL
    return groups if packer.packs or raw <= GROUP_BUFFER_BYTES else None


def _in_planned_order(groups: list[list[int]], made: Iterator[list], packer: ShardPacker,
                      room: WaitingRoom) -> Iterator:
    """The results of ``made`` (one list per group, in the groups' order) in planned order
    (task index 0, 1, ...); made samples are handed to the packer as they come, so those
    waiting for their turn wait compressed, in memory or in the waiting room's file."""
    waiting: dict[int, Any] = {}
    next_index = 0
    for group, results in zip(groups, made):
        for i, r in zip(group, results):
            waiting[i] = packer.add(r) if isinstance(r, Made) else r
        room.settle(waiting)
        while next_index in waiting:
            yield waiting.pop(next_index)
            next_index += 1


def _collect(plan: ShardPlan, results: Iterator, on_error: str, weights: set[str], book: RunBook,
             stop: StopSignals, bar, packer: ShardPacker) -> tuple[list[Pending], list[dict]]:
    """The next ``len(plan.tasks)`` results, in planned order: the samples made (handed to
    the packer as they come) and the skips."""
    made: list[Pending] = []
    skipped: list[dict] = []
    for _ in plan.tasks:
        stop.check()
        r = next(results)
        bar.update(1)
        if isinstance(r, (Made, Pending)):
            made.append(packer.add(r) if isinstance(r, Made) else r)
            book.made["ok"] += 1
            continue
        if isinstance(r, BadInput) and (on_error == "fail" or (r.path and os.path.abspath(r.path) in weights)):
            raise r.error()
        assert isinstance(r, (Skipped, BadInput))
        skipped.append(r.record)
        book.made[r.record["kind"]] += 1
    return made, skipped


@dataclass
class _Writing:
    """A shard handed to the packer's writer thread, not yet in the book."""

    plan: ShardPlan
    path: Path
    sha: Future
    samples: list[tuple[str, str]]
    skipped: list[dict]
    recorded: bool = False


def _write(plan: ShardPlan, made: list[Pending], skipped: list[dict], book: RunBook, packer: ShardPacker) -> _Writing:
    """Start writing one shard (skips left out, indices compacted) in the writer thread."""
    path = book.out / plan.name
    attrs = {"recipe_digest": book.manifest["recipe_digest"], "split": plan.split}
    return _Writing(plan, path, packer.write_later(path, made, attrs), [(m.key, m.digest) for m in made], skipped)


def _record(writing: _Writing | None, book: RunBook, ending: bool = False) -> None:
    """Wait for the shard's write, record it in the book and rewrite the manifest.
    ``ending``: the run is ending on an exception; a write that failed too is left out
    (the exception under way is the one reported)."""
    if writing is None or writing.recorded or (ending and writing.sha.exception() is not None):
        return
    writing.recorded = True
    sha = writing.sha.result()
    book.record_shard(writing.plan, sha, writing.path.stat().st_size, writing.samples, writing.skipped)
    book.flush("partial")


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc) -> None:
        pass


def _progress(total: int, initial: int, quiet: bool):
    """A tqdm bar on a terminal (a context manager), else nothing."""
    if quiet or not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="sample", file=sys.stderr, dynamic_ncols=True)
