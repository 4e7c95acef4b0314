"""``--backend threads``: calls in threads of the run's process, in submission order, each
thread on its own copy of the job; the shards are those of the other backends."""

import threading
import time

import pytest
from joblib import delayed

from blurgen.errors import InputError
from blurgen.parallel import ThreadParallel, executor


class Counter:
    """Stateful like a job that keeps an open stream: calls on one object must not interleave."""

    def __init__(self):
        self.calls = 0
        self.threads: set[int] = set()

    def step(self, i: int, delay: float) -> tuple[int, int, int]:
        self.calls += 1
        mine = self.calls
        self.threads.add(threading.get_ident())
        time.sleep(delay)
        # another thread on this same object would have changed it meanwhile
        return i, id(self), int(self.calls == mine and len(self.threads) == 1)


def _step(obj: Counter, i: int, delay: float):
    return obj.step(i, delay)


def test_results_come_in_submission_order_and_each_thread_has_its_own_copy():
    shared = Counter()
    delays = [0.05, 0.0, 0.03, 0.0, 0.02, 0.0, 0.01, 0.0] * 2
    out = list(ThreadParallel(3)(delayed(_step)(shared, i, d) for i, d in enumerate(delays)))
    assert [i for i, _, _ in out] == list(range(len(delays)))  # the slow first call does not reorder
    assert all(ok for _, _, ok in out)  # no copy was used by two threads at once
    copies = {c for _, c, _ in out}
    assert 1 < len(copies) <= 3 and id(shared) not in copies  # per thread, never the caller's object
    assert shared.calls == 0


def _fail(obj, i: int):
    if i == 3:
        raise InputError("frames/000003.png", "cannot decode image")
    return i


def test_an_error_in_a_thread_is_raised_as_itself():
    with pytest.raises(InputError, match="000003.png: cannot decode image"):
        list(ThreadParallel(2)(delayed(_fail)(object(), i) for i in range(8)))


def test_the_executor_gives_threads_and_refuses_a_scheduler():
    with executor(2, "threads") as par:
        assert isinstance(par, ThreadParallel) and par.n_jobs == 2
    from blurgen.errors import ConfigError

    with pytest.raises(ConfigError, match="--scheduler needs --backend dask or --backend ray"):
        with executor(2, "threads", "tcp://h:8786"):
            pass
