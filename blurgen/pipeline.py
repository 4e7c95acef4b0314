"""The one loop every dataset command runs (see docs/internals.md).

``run(job, out, ...)``: plan shards from the task keys alone (hash order, as TFDS does),
make each shard's samples in parallel (``blurgen.parallel.executor``: loky, sequential, dask or ray),
write the shard atomically in planned order, then rewrite ``OUT/manifest.json``. The same
job, seed and settings give byte-identical shards whatever the worker count, backend or
the order in which workers finish, and ``resume=True`` after a kill gives the same
dataset as an uninterrupted run. ``rerun(manifest, root, out)`` rebuilds a dataset from
its manifest and the input root.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import socket
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from blurgen.errors import BlurgenError, ConfigError, InputError, SkipSample
from blurgen.parallel import BACKENDS, check_backend, executor  # noqa: F401  (BACKENDS: re-exported)

ON_ERROR = ("skip", "fail")
# Default shard size: about this many uncompressed bytes of blur + flow + flow_bwd
# (19 bytes per pixel), so a compressed shard is a few hundred MB.
TARGET_SHARD_BYTES = 512 * 2**20
SPLIT_RE = re.compile(r"^[A-Za-z0-9_.]+$")


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


@dataclass(frozen=True)
class ShardPlan:
    """One planned shard: its file name, split, frame size (H, W) and tasks in order."""

    name: str
    split: str
    size: tuple[int, int]
    tasks: tuple[Task, ...]


@dataclass(frozen=True)
class Settings:
    """The pipeline settings that fix a dataset's bytes (recorded in the manifest).

    samples_per_shard: int, or None for ``auto_samples_per_shard`` per frame size;
    compression: a ``blurgen.shards.writer.COMPRESSIONS`` name; tile: chunk edge in px
    (0: one chunk per sample); limit: keep the first N tasks in hash order (None: all).
    """

    samples_per_shard: int | None = None
    compression: str = "gzip-1"
    tile: int = 64
    limit: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "samples_per_shard": self.samples_per_shard,
            "compression": self.compression,
            "tile": self.tile,
            "limit": self.limit,
        }


def auto_samples_per_shard(size: tuple[int, int]) -> int:
    """Samples per shard for frames of ``size`` (H, W): ~512 MiB of raw blur + flows."""
    h, w = size
    return max(1, TARGET_SHARD_BYTES // (h * w * 19))


def _hash_order(task: Task) -> tuple[int, str]:
    from blurgen.utils import key_digest

    return (key_digest(task.key), task.key)


def plan_shards(tasks: Sequence[Task], samples_per_shard: int | None = None, limit: int | None = None) -> list[ShardPlan]:
    """Assign tasks to shards from their keys alone.

    Tasks are ordered by ``key_digest(key)`` (ties by key); ``limit`` keeps the first N in
    that order. Then per split (sorted), per frame size (sorted), consecutive runs of at
    most ``samples_per_shard`` tasks form shards numbered per split across sizes:
    ``{split}-{i:05d}-of-{n:05d}.h5``. Duplicate keys raise ``ConfigError``.
    """
    seen: set[str] = set()
    for t in tasks:
        if t.key in seen:
            raise ConfigError(f"duplicate sample key {t.key!r}: every sample of a run needs its own key")
        seen.add(t.key)
        if not SPLIT_RE.match(t.split):
            raise ConfigError(f"sample {t.key}: split {t.split!r} must be letters, digits, '_' or '.'")
        if len(t.size) != 2 or min(t.size) < 1:
            raise ConfigError(f"sample {t.key}: size {t.size!r} is not (H, W)")
    if samples_per_shard is not None and samples_per_shard < 1:
        raise ConfigError(f"samples per shard must be >= 1, got {samples_per_shard}")
    if limit is not None and limit < 0:
        raise ConfigError(f"--limit must be >= 0, got {limit}")
    ordered = sorted(tasks, key=_hash_order)
    if limit is not None:
        ordered = ordered[:limit]
    groups: dict[str, dict[tuple[int, int], list[Task]]] = {}
    for t in ordered:
        groups.setdefault(t.split, {}).setdefault((int(t.size[0]), int(t.size[1])), []).append(t)
    plans: list[ShardPlan] = []
    for split in sorted(groups):
        chunks: list[tuple[tuple[int, int], list[Task]]] = []
        for size in sorted(groups[split]):
            group = groups[split][size]
            per = samples_per_shard or auto_samples_per_shard(size)
            chunks += [(size, group[i : i + per]) for i in range(0, len(group), per)]
        n = len(chunks)
        for i, (size, chunk) in enumerate(chunks):
            plans.append(ShardPlan(f"{split}-{i:05d}-of-{n:05d}.h5", split, size, tuple(chunk)))
    return plans


# -- the run lock ----------------------------------------------------------------------
def _proc_start(pid: int) -> str | None:
    """Start time of process ``pid`` (Linux /proc, clock ticks since boot); None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _pid_alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        if stat[stat.rfind(")") + 2 :].split()[0] in ("Z", "X"):
            return False
    except OSError:
        pass
    if start is not None:
        now = _proc_start(pid)
        if now is not None and now != start:
            return False  # the pid was reused by another process
    return True


class RunLock:
    """``OUT/.blurgen.lock``: JSON {pid, host, start, started}. One run per OUT at a time.

    A lock whose pid is dead on this host is stale: ``take_stale=True`` (``--resume``)
    takes it over; otherwise the message says how to go on.
    """

    def __init__(self, out: Path, take_stale: bool):
        from blurgen.manifest import LOCK_NAME

        self.path = Path(out) / LOCK_NAME
        self.take_stale = take_stale
        self.held = False

    def __enter__(self) -> RunLock:
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "start": _proc_start(os.getpid()),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        tmp = self.path.with_name(f"{self.path.name}.new-{os.getpid()}")
        tmp.write_text(json.dumps(me))
        try:
            for _ in range(3):
                try:
                    os.link(tmp, self.path)  # atomic: fails if a lock exists; never half-written
                    self.held = True
                    return self
                except FileExistsError:
                    pass
                try:
                    holder = json.loads(self.path.read_text())
                except FileNotFoundError:
                    continue
                except (OSError, ValueError):
                    holder = {}
                pid, host = holder.get("pid"), holder.get("host")
                out = self.path.parent
                if host == me["host"] and isinstance(pid, int) and not _pid_alive(pid, holder.get("start")):
                    if not self.take_stale:
                        raise ConfigError(
                            f"{out} has a lock left by a killed run (pid {pid} on {host}); "
                            "finish that run with --resume, or choose another --out"
                        )
                    stale = self.path.with_name(f"{self.path.name}.stale-{os.getpid()}")
                    with contextlib.suppress(FileNotFoundError):
                        os.rename(self.path, stale)
                        stale.unlink()
                    continue
                if host and host != me["host"]:
                    raise ConfigError(
                        f"{out} is locked by pid {pid} on host {host} (since {holder.get('started')}); "
                        f"if that run is dead, delete {self.path} and use --resume"
                    )
                raise ConfigError(
                    f"{out} is being written by another run (pid {pid}, since {holder.get('started')}); "
                    "wait for it to finish or choose another --out"
                )
            raise ConfigError(f"could not take the lock {self.path}; try again")
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def __exit__(self, *exc) -> None:
        if self.held:
            with contextlib.suppress(OSError, ValueError):
                if json.loads(self.path.read_text()).get("pid") == os.getpid():
                    self.path.unlink()
            self.held = False


# -- workers ---------------------------------------------------------------------------
def make_one(job, task: Task, seed: int) -> tuple[str, Any, Any]:
    """Make one sample in a worker: ``("ok", Sample, digest)``, ``("skip", record, None)``
    or ``("input-error", record, (path, reason, fix))``. Other exceptions are bugs and
    propagate."""
    from blurgen.shards.schema import sample_digest, validate_sample
    from blurgen.utils import rng_for

    try:
        sample = job.make(task, rng_for(seed, task.key))
    except SkipSample as e:
        return "skip", {"key": task.key, "kind": "skip", "reason": e.reason, **_jsonable(e.info)}, None
    except InputError as e:
        record = {"key": task.key, "kind": "input-error", "reason": str(e), "path": e.path}
        return "input-error", record, (e.path, e.reason, e.fix)
    if sample.key != task.key:
        raise ValueError(f"job {job.kind} made sample {sample.key!r} for task {task.key!r}")
    validate_sample(sample, task.size)
    return "ok", sample, sample_digest(sample.key, sample.arrays, sample.meta)


def _jsonable(info: dict[str, Any]) -> dict[str, Any]:
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


# -- the run ---------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _clean_temporaries(out: Path) -> None:
    """Remove what killed runs left in ``out`` (the caller holds the lock): shard and
    manifest temporaries (``.NAME.tmp-PID``, only ever written under the lock) and lock
    candidates (``.blurgen.lock.new-PID``, ``.stale-PID``) of processes that are gone; a
    live process's lock candidate is its own to remove."""
    for p in out.iterdir():
        name = p.name
        if not name.startswith("."):
            continue
        if ".tmp-" in name:
            gone = True
        elif ".new-" in name or ".stale-" in name:
            pid = name.rsplit("-", 1)[-1]
            gone = not pid.isdigit() or not _pid_alive(int(pid), None)
        else:
            continue
        if gone:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def _compare_inputs(recorded: Sequence[dict], current: Sequence[dict]) -> list[str]:
    """One line per input that differs between two ``[{path, size, sha256}]`` lists."""
    a = {f["path"]: f for f in recorded}
    b = {f["path"]: f for f in current}
    diffs = []
    for p in sorted(set(a) | set(b)):
        if p not in b:
            diffs.append(f"{p} (in the manifest, not read now)")
        elif p not in a:
            diffs.append(f"{p} (read now, not in the manifest)")
        elif a[p]["size"] != b[p]["size"]:
            diffs.append(f"{p} (size {b[p]['size']}, manifest says {a[p]['size']})")
        elif a[p]["sha256"] != b[p]["sha256"]:
            diffs.append(f"{p} (sha256 differs)")
    return diffs


def _diff_line(what: str, diffs: list[str], limit: int = 8) -> str:
    more = f"; and {len(diffs) - limit} more" if len(diffs) > limit else ""
    return f"{what}: " + "; ".join(diffs[:limit]) + more


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """While a run goes on, SIGTERM, SIGHUP and Ctrl-C stop it with a ``KeyboardInterrupt``
    in the main thread, so the lock and temporary files are cleaned up and the user is told
    how to resume. Outside the main thread: no change."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        name = "Ctrl-C (SIGINT)" if signum == signal.SIGINT else signal.Signals(signum).name
        _STOP.append(name)
        raise KeyboardInterrupt(name)

    def unraisable(info):  # a stop swallowed by a finaliser: raised again by _check_stop
        if not (_STOP and isinstance(info.exc_value, KeyboardInterrupt)):
            old_hook(info)

    _STOP.clear()
    old_hook = sys.unraisablehook
    sys.unraisablehook = unraisable
    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        sys.unraisablehook = old_hook


# The signal that asked the current run to stop. A KeyboardInterrupt raised while Python
# runs a finaliser or weakref callback is only printed ("Exception ignored in ..."), so the
# loop also checks this flag between samples and after each shard.
_STOP: list[str] = []


def _check_stop() -> None:
    if _STOP:
        raise KeyboardInterrupt(_STOP[0])


_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_ACCESS_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR)


def _remove_own_temporaries(out: Path) -> None:
    """Remove this process's ``.NAME.tmp-PID`` files in ``out`` (the lock is already released)."""
    mine = f"-{os.getpid()}"
    with contextlib.suppress(OSError):
        for p in out.iterdir():
            if p.name.startswith(".") and ".tmp-" in p.name and p.name.endswith(mine):
                p.unlink()


def _completed_note(out: Path) -> str:
    """``"3 of 8 shards are complete in OUT/manifest.json; "``, or "" without a manifest."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        man = json.loads((out / "manifest.json").read_text())
        return f"{len(man['shards'])} of {len(man['plan']['shards'])} shards are complete in {out / 'manifest.json'}; "
    return ""


def _interruptible(fn):
    """Turn a signal during ``run`` into ``Interrupted``, and a full disk or an output that
    cannot be written into ``InputError``: one line naming the file, saying what is
    complete in ``OUT/manifest.json`` and how to finish the run."""
    import functools

    @functools.wraps(fn)
    def wrapper(job, out, *args, **kwargs):
        from blurgen.errors import Interrupted

        with _signals_interrupt():
            try:
                return fn(job, out, *args, **kwargs)
            except KeyboardInterrupt as e:
                import signal

                # a second Ctrl-C or SIGTERM must not cut the clean-up short
                old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                try:
                    _remove_own_temporaries(Path(out))
                    done = _completed_note(Path(out))
                finally:
                    signal.signal(signal.SIGINT, old_int)
                what = e.args[0] if e.args else "Ctrl-C"
                raise Interrupted(f"{what} stopped the run: {done}finish it with the same command and --resume") from None
            except OSError as e:
                if e.errno not in _FULL_ERRNOS + _ACCESS_ERRNOS:
                    raise
                out = Path(out)
                _remove_own_temporaries(out)
                where = e.filename or out
                if Path(where).parent == out and Path(where).name.startswith("."):
                    where = out  # our lock or a temporary file: name the folder the user chose
                inside = Path(os.path.abspath(where)).is_relative_to(os.path.abspath(out)) or where == out
                done = _completed_note(out)
                if e.errno in _FULL_ERRNOS:
                    fix = f"{done}free some space, then finish with the same command and --resume"
                elif inside or not done:
                    fix = f"{done}choose a writable --out" + (" or fix it, then add --resume" if done else "")
                else:
                    fix = "check the file's permissions"
                raise InputError(where, e.strerror or str(e), fix) from None

    return wrapper


@_interruptible
def run(
    job,
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
    from blurgen import manifest as mf
    from blurgen.recipe import recipe_digest
    from blurgen.shards.writer import DEFAULT_COMPRESSION, DEFAULT_TILE, compression_options

    if on_error not in ON_ERROR:
        raise ConfigError(f"--on-error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
    check_backend(workers, backend, scheduler)  # before anything is written
    recipe = dict(recipe or {})
    rp = recipe.get("pipeline", {}) if isinstance(recipe.get("pipeline"), dict) else {}
    settings = Settings(
        samples_per_shard=samples_per_shard if samples_per_shard is not None else rp.get("samples_per_shard"),
        compression=compression or rp.get("compression") or DEFAULT_COMPRESSION,
        tile=int(tile if tile is not None else rp.get("tile", DEFAULT_TILE)),
        limit=limit,
    )
    compression_options(settings.compression)  # a bad name fails before any work
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()
    started = _now()

    with RunLock(out, take_stale=resume):
        old = None
        man_path = out / mf.MANIFEST_NAME
        if resume and man_path.exists():
            old = mf.load_manifest(man_path)
        elif not resume:
            existing = sorted(p.name for p in out.iterdir() if p.name != mf.LOCK_NAME)
            if existing:
                shown = ", ".join(existing[:3]) + (", ..." if len(existing) > 3 else "")
                raise ConfigError(
                    f"{out} already holds files ({shown}); add --resume to finish that run, or choose an empty --out"
                )
        _clean_temporaries(out)

        tasks = list(job.tasks())
        planned_skips = [{"kind": "planned", **_jsonable(s)} for s in job.planned_skips()]
        if on_error == "fail":  # bad input a job found while planning (kind "input-error")
            for s in planned_skips:
                if s["kind"] == "input-error":
                    where = s.get("path")
                    if where and job.root is not None and not os.path.isabs(where):
                        where = Path(job.root) / where
                    if where is not None and str(where) in s["reason"]:
                        where = None  # the reason names the file already
                    raise InputError(where, s["reason"], "repair or remove it, or use --on-error skip to record it and go on")
        plans = plan_shards(tasks, settings.samples_per_shard, settings.limit)
        inputs = mf.hash_inputs(job.root, job.inputs(), workers=max(2, workers))
        if expect_inputs is not None:
            diffs = _compare_inputs(expect_inputs, inputs)
            if diffs:
                raise InputError(job.root, _diff_line("inputs differ from the manifest", diffs), "rerun needs the same input files")
        checkpoints = mf.hash_checkpoints(job.checkpoints())
        r_digest = recipe_digest(recipe)
        identity = {
            "job": {"kind": job.kind, "params": job.params},
            "recipe_digest": r_digest,
            "seed": int(seed),
            "pipeline": settings.as_dict(),
        }
        timings_runs: list[dict[str, Any]] = []
        done: dict[str, dict[str, Any]] = {}  # shard name -> {"entry", "samples", "skipped"}
        if old is not None:
            for k, v in identity.items():
                if k == "pipeline":
                    v_old = {kk: old["pipeline"].get(kk) for kk in v}
                else:
                    v_old = old.get(k)
                if v_old != v:
                    raise ConfigError(
                        f"{out} holds a run with a different {k} ({json.dumps(v_old)[:120]} vs "
                        f"{json.dumps(v)[:120]}); --resume needs the same settings, or choose another --out"
                    )
            diffs = _compare_inputs(old["inputs"]["files"], inputs)
            if diffs:
                raise InputError(job.root, _diff_line("inputs changed since the run began", diffs), "start again in a new --out")
            timings_runs = list(old.get("timings", {}).get("runs", []))
            planned_names = {p.name: p for p in plans}
            for entry in old["shards"]:
                path = out / entry["name"]
                if entry["name"] not in planned_names or not path.is_file():
                    continue
                if path.stat().st_size != entry["bytes"] or mf.file_sha256(path) != entry["sha256"]:
                    continue  # damaged since: make it again
                done[entry["name"]] = {
                    "entry": entry,
                    "samples": [s for s in old["samples"] if s["shard"] == entry["name"]],
                    "skipped": [s for s in old["skipped"] if s.get("shard") == entry["name"]],
                }

        manifest: dict[str, Any] = {
            "schema": mf.MANIFEST_SCHEMA,
            "status": "partial",
            "command": list(command) if command is not None else ["blurgen", *sys.argv[1:]],
            "job": identity["job"],
            "recipe": recipe,
            "recipe_digest": r_digest,
            "seed": int(seed),
            "pipeline": {**settings.as_dict(), "on_error": on_error},
            "blurgen": mf.git_state(),
            "versions": mf.package_versions(),
            "inputs": {
                "root": None if job.root is None else str(job.root),
                "files": inputs,
                "digest": mf.inputs_digest(inputs),
            },
            "checkpoints": checkpoints,
            "plan": {
                "tasks": sum(len(p.tasks) for p in plans),
                "shards": [{"name": p.name, "split": p.split, "size": list(p.size), "tasks": len(p.tasks)} for p in plans],
            },
            **(extra or {}),
            "shards": [],
            "samples": [],
            "skipped": [],
            "timings": {},
        }
        made_now = Counter()

        def flush(status: str) -> dict[str, Any]:
            order = [p.name for p in plans if p.name in done]
            manifest["status"] = status
            manifest["shards"] = [done[n]["entry"] for n in order]
            manifest["samples"] = [s for n in order for s in done[n]["samples"]]
            manifest["skipped"] = planned_skips + [s for n in order for s in done[n]["skipped"]]
            seconds = time.monotonic() - t_start
            runs = timings_runs + [{"started": started, "seconds": round(seconds, 3), "samples": made_now["ok"]}]
            total_s = sum(r["seconds"] for r in runs)
            total_n = sum(r["samples"] for r in runs)
            manifest["timings"] = {
                "runs": runs,
                "seconds": round(total_s, 3),
                "samples_per_s": round(total_n / total_s, 3) if total_s > 0 else None,
            }
            mf.write_manifest(out, manifest)
            return manifest

        todo = [p for p in plans if p.name not in done]
        flush("partial" if todo else "complete")
        n_total = sum(len(p.tasks) for p in plans)
        n_done = sum(len(p.tasks) for p in plans if p.name in done)
        bar = _progress(n_total, n_done, quiet)
        try:
            if todo:
                from joblib import delayed

                with executor(workers, backend, scheduler) as par:
                    # one ordered stream over every remaining task: workers go on making the
                    # next shard's samples while this process writes the previous shard
                    results = iter(par(delayed(make_one)(job, t, seed) for p in todo for t in p.tasks))
                    for p in todo:
                        _write_planned_shard(job, p, results, on_error, settings, r_digest, out, done, made_now, bar)
                        flush("partial")
            _check_stop()
            flush("complete")
            # The dataset card and preview beside the shards: inside the lock and the stop
            # and full-disk handling, so every run (and rerun) writes them the same way.
            from blurgen.report import write_companions

            write_companions(out, manifest)
        finally:
            bar.close()
    if not quiet:
        print(summary_line(manifest, made_now, time.monotonic() - t_start, out), file=sys.stderr)
    return manifest


def _write_planned_shard(
    job, p: ShardPlan, results: Iterator, on_error, settings: Settings, r_digest, out: Path, done, made_now, bar
) -> None:
    """Take the next ``len(p.tasks)`` results (in planned order) from ``results``, write shard
    ``p`` with the samples made (skips left out, indices compacted) and record it in ``done``."""
    from blurgen.shards.writer import write_shard

    samples, digests, skipped = [], [], []
    # a refused or unreadable checkpoint spoils every sample: fatal whatever --on-error says
    weights = {os.path.abspath(c) for c in job.checkpoints()}
    for _ in p.tasks:
        _check_stop()
        kind, value, digest = next(results)
        bar.update(1)
        if kind == "ok":
            samples.append(value)
            digests.append(digest)
            made_now["ok"] += 1
        else:
            if kind == "input-error" and (on_error == "fail" or (digest[0] and os.path.abspath(digest[0]) in weights)):
                raise InputError(*digest)
            skipped.append({**value, "shard": p.name})
            made_now[kind] += 1
    attrs = {"recipe_digest": r_digest, "split": p.split}
    _check_stop()
    sha = write_shard(out / p.name, samples, attrs=attrs, compression=settings.compression, tile=settings.tile)
    size = (out / p.name).stat().st_size
    done[p.name] = {
        "entry": {"name": p.name, "split": p.split, "size": list(p.size), "samples": len(samples), "sha256": sha, "bytes": size},
        "samples": [
            {"key": s.key, "split": p.split, "shard": p.name, "index": i, "digest": d}
            for i, (s, d) in enumerate(zip(samples, digests))
        ],
        "skipped": skipped,
    }


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, initial: int, quiet: bool):
    if quiet or not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="sample", file=sys.stderr, dynamic_ncols=True)


def summary_line(manifest: dict[str, Any], made_now: Counter, seconds: float, out: Path) -> str:
    """``wrote N samples in S shards to OUT; skipped K (reason counts); T s, R samples/s``."""
    n = len(manifest["samples"])
    reasons = Counter(s["kind"] if s["kind"] != "skip" else s["reason"] for s in manifest["skipped"])
    skipped = sum(reasons.values())
    why = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))
    rate = made_now["ok"] / seconds if seconds > 0 else 0.0
    return (
        f"wrote {n} samples in {len(manifest['shards'])} shards to {out} ({made_now['ok']} made now); "
        f"skipped {skipped}{f' ({why})' if why else ''}; {seconds:.1f} s, {rate:.1f} samples/s"
    )


# -- rerun -----------------------------------------------------------------------------
def rerun(
    manifest_path: str | os.PathLike,
    root: str | os.PathLike | None,
    out: str | os.PathLike,
    *,
    workers: int = 1,
    backend: str | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    quiet: bool = False,
    command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Rebuild a dataset from ``manifest_path`` and the input ``root`` into ``out``.

    Refuses (``InputError`` naming the files) when the inputs' sizes or sha256 differ from
    the manifest, and (``ConfigError``) manifests whose paths escape the root or out. After
    the run, every sample's content digest is compared with the manifest: a difference
    raises ``BlurgenError`` naming the samples. Returns the new manifest.
    """
    from blurgen import manifest as mf
    from blurgen.jobs import build_job

    manifest_path = Path(manifest_path)
    if manifest_path.is_dir():  # the dataset folder: its manifest.json (hashed below)
        manifest_path = manifest_path / mf.MANIFEST_NAME
    old = mf.load_manifest(manifest_path)
    recorded_root = old["inputs"].get("root")
    if root is None:
        if old["inputs"].get("files"):
            if not recorded_root or not Path(recorded_root).is_dir():
                raise ConfigError(f"{manifest_path}: give the input folder with --root (recorded: {recorded_root})")
            root = recorded_root
    job = build_job(old["job"]["kind"], old["job"]["params"], root)
    for ck in old.get("checkpoints", []):
        p = Path(ck["path"])
        if not p.is_file() or mf.file_sha256(p) != ck["sha256"]:
            raise InputError(p, "checkpoint missing or its sha256 differs from the manifest", "rerun needs the same weights")
    pipe = old["pipeline"]
    new = run(
        job,
        out,
        seed=old["seed"],
        workers=workers,
        backend=backend,
        scheduler=scheduler,
        resume=resume,
        on_error=pipe.get("on_error", "skip"),
        limit=pipe.get("limit"),
        samples_per_shard=pipe.get("samples_per_shard"),
        compression=pipe.get("compression"),
        tile=pipe.get("tile"),
        quiet=quiet,
        command=command,
        recipe=old.get("recipe", {}),
        expect_inputs=old["inputs"]["files"],
        extra={"rerun_of": {"manifest": manifest_path.name, "sha256": mf.file_sha256(manifest_path)}},
    )
    want = {s["key"]: s for s in old["samples"]}
    got = {s["key"]: s for s in new["samples"]}
    diffs = []
    for k in sorted(set(want) | set(got)):
        if k not in got:
            diffs.append(f"{k} (missing)")
        elif k not in want:
            diffs.append(f"{k} (extra)")
        elif (want[k]["digest"], want[k]["shard"], want[k]["index"]) != (got[k]["digest"], got[k]["shard"], got[k]["index"]):
            diffs.append(f"{k} (digest or place differs)")
    if diffs:
        raise BlurgenError(_diff_line(f"rerun in {out} does not reproduce {manifest_path}", diffs))
    return new
