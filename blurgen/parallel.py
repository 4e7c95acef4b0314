"""Where samples are made: ``executor(workers, backend, scheduler)`` gives a joblib-style
``Parallel`` for one backend.

``par(delayed(fn)(*args) for ...)`` returns an iterator of the results in submission order
on every backend, so the process that writes shards sees the same sequence whoever made
each sample, and the shards are byte-identical across backends and worker counts.

Backends: ``sequential`` (default for 1 worker) and ``loky`` (local processes, default
otherwise) through joblib; ``dask`` through joblib's dask backend, on a dask.distributed
scheduler at ``scheduler`` or a LocalCluster of ``workers`` processes made for the run;
``ray`` through Ray tasks (:class:`RayParallel`), on the cluster at ``scheduler``
(``ray://HOST:10001``, ``auto`` or ``HOST:PORT``) or a local Ray runtime of ``workers``
CPUs started for the run and shut down after it.
"""

from __future__ import annotations

import collections
import contextlib
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from blurgen.errors import BlurgenError, ConfigError

BACKENDS = ("loky", "sequential", "dask", "ray")
# Backends that run on a cluster named by --scheduler.
CLUSTER_BACKENDS = ("dask", "ray")


def check_backend(workers: int, backend: str | None, scheduler: str | None = None) -> str:
    """The backend these settings run on; ``ConfigError`` (one line) for settings that
    cannot work together. Cheap: callers check before writing anything."""
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    given = backend
    backend = backend or ("sequential" if workers == 1 and not scheduler else "loky")
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if scheduler and backend not in CLUSTER_BACKENDS:
        which = f"--backend {backend}" if given else f"without --backend the run uses {backend}, which"
        raise ConfigError(f"--scheduler needs --backend dask or --backend ray ({which} runs on this machine)")
    return backend


@contextlib.contextmanager
def executor(workers: int, backend: str | None, scheduler: str | None = None) -> Iterator[Any]:
    """A callable ``par(calls) -> iterator of results in submission order`` for the backend.

    workers: processes (sequential: 1; loky; a dask LocalCluster; a local Ray runtime's
    CPUs); with ``scheduler`` the cluster's own size counts instead. scheduler: a dask
    scheduler or Ray cluster address; refused for ``loky`` and ``sequential``.
    """
    from joblib import Parallel, parallel_config

    backend = check_backend(workers, backend, scheduler)
    if backend in ("sequential", "loky"):
        n = 1 if backend == "sequential" else workers
        with Parallel(n_jobs=n, backend=backend, return_as="generator") as par:
            yield par
    elif backend == "dask":
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ConfigError("--backend dask needs dask[distributed] (pip install 'blurgen[dask]')") from None
        with contextlib.ExitStack() as stack:
            if scheduler:
                client = stack.enter_context(Client(scheduler, set_as_default=True))
            else:
                cluster = stack.enter_context(
                    LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
                )
                client = stack.enter_context(Client(cluster, set_as_default=True))
            stack.enter_context(parallel_config(backend="dask", wait_for_workers_timeout=60))
            n = sum(client.nthreads().values()) or workers
            with Parallel(n_jobs=n, return_as="generator") as par:
                yield par
    else:
        with ray_runtime(workers, scheduler) as n:
            yield RayParallel(n)


@contextlib.contextmanager
def ray_runtime(workers: int, scheduler: str | None) -> Iterator[int]:
    """Connect to Ray for one run; yields the number of CPUs to keep busy.

    scheduler None: a new local runtime of ``workers`` CPUs (``address="local"``: never a
    cluster that happens to run on this machine), shut down afterwards. Otherwise
    ``ray.init(address=scheduler)``: ``ray://HOST:10001`` (Ray Client), ``auto`` (the
    cluster this machine belongs to, or ``RAY_ADDRESS``) or ``HOST:PORT`` (its GCS);
    the connection is closed afterwards, the cluster keeps running. A process already
    connected (``ray.init`` called by the caller) is used as it is.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend ray needs ray (pip install 'blurgen[ray]')") from None
    if ray.is_initialized():
        if scheduler:
            raise ConfigError(f"--scheduler {scheduler}: this process is already connected to Ray; "
                              "leave out --scheduler to use that connection")
        yield _ray_cpus(ray, workers)
        return
    quiet = {"logging_level": logging.WARNING}
    if scheduler:
        _check_reachable(scheduler)
        try:
            ray.init(address=scheduler, **quiet)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
            why = " ".join(str(e).split())[:300] or type(e).__name__
            raise ConfigError(f"--scheduler {scheduler}: cannot connect to a Ray cluster ({why}); "
                              "start one with `ray start --head` (README: From one machine to a cluster)") from None
    else:
        ray.init(address="local", num_cpus=workers, include_dashboard=False, **quiet)
    try:
        yield _ray_cpus(ray, workers) if scheduler else workers
    finally:
        ray.shutdown()


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Refuse (one line) a ``HOST:PORT`` or ``ray://HOST:PORT`` nothing answers at: Ray
    itself waits minutes for a GCS that is not there. ``auto`` is Ray's to resolve."""
    import socket

    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if address == "auto" or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise ConfigError(f"--scheduler {address}: nothing answers at {hostport} ({e.strerror or e}); start the "
                          "cluster with `ray start --head` (README: From one machine to a cluster)") from None


def _ray_cpus(ray, default: int) -> int:
    try:
        return max(1, int(ray.cluster_resources().get("CPU", default)))
    except Exception:  # a client that cannot list resources: fall back to --workers
        return default


# Worker side: the first argument of the calls (the job), fetched once per worker process
# while it stays the same, as loky keeps it per batch. {object ref hex: value}
_SHARED: dict[str, Any] = {}


def _call_with_shared(fn, boxed_ref: list, args: tuple, kwargs: dict):
    import ray

    key = boxed_ref[0].hex()
    if key not in _SHARED:
        _SHARED.clear()
        _SHARED[key] = ray.get(boxed_ref[0])
    return fn(_SHARED[key], *args, **kwargs)


class RayParallel:
    """``par(calls)``: joblib ``delayed`` calls as Ray tasks, results in submission order.

    At most ``2 * n_jobs`` tasks are in flight (the rest wait in the caller's generator),
    so memory stays bounded on long runs. The first positional argument of the calls (the
    job, the same object for every call) goes to Ray's object store once. A Blurgen error
    raised in a task is raised again as itself (one line for the CLI); other exceptions
    propagate as Ray reports them (with the remote traceback). Tasks still in flight when
    the iterator is closed are cancelled.
    """

    def __init__(self, n_jobs: int):
        import ray

        self.n_jobs = max(1, int(n_jobs))
        self._ray = ray
        self._remote = ray.remote(num_cpus=1, max_retries=0)(_call_with_shared)

    def __call__(self, calls: Iterable) -> Iterator[Any]:
        return self._results(iter(calls))

    def _results(self, calls: Iterator) -> Iterator[Any]:
        ray = self._ray
        pending: collections.deque = collections.deque()
        shared: list = [object(), None]  # [object, its ref]
        try:
            for fn, args, kwargs in calls:
                if not args:
                    raise TypeError("RayParallel calls take the shared object as their first argument")
                if args[0] is not shared[0]:
                    shared = [args[0], ray.put(args[0])]
                pending.append(self._remote.remote(fn, [shared[1]], tuple(args[1:]), dict(kwargs)))
                if len(pending) >= 2 * self.n_jobs:
                    yield self._get(pending.popleft())
            while pending:
                yield self._get(pending.popleft())
        finally:
            for ref in pending:
                with contextlib.suppress(Exception):
                    ray.cancel(ref)

    def _get(self, ref) -> Any:
        from ray.exceptions import RayTaskError

        try:
            return self._ray.get(ref)
        except RayTaskError as e:
            cause = getattr(e, "cause", None)
            if isinstance(cause, BlurgenError):
                raise cause from None
            raise
