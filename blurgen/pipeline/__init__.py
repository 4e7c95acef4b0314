"""The one loop every dataset command runs (docs/internals.md).

``run(job, out, ...)`` (``loop.py``): plan shards from the task keys alone (``plan.py``, hash
order as TFDS does), make each shard's samples in parallel through the executors of
``blurgen.parallel`` (loky, sequential, dask or ray; ``worker.py`` is what runs there),
write the shard atomically in planned order, then rewrite ``OUT/manifest.json``
(``book.py``). One run per output folder (``lock.py``); a signal, a full disk or an
unwritable output ends the run with one line saying how to finish it (``interrupt.py``).
``rerun(manifest, root, out)`` (``rebuild.py``) rebuilds a dataset from its manifest.
"""

from blurgen.jobs.base import Task
from blurgen.parallel import BACKENDS, check_backend, executor
from blurgen.pipeline.loop import run
from blurgen.pipeline.plan import ON_ERROR, Settings, ShardPlan, auto_samples_per_shard, plan_shards, resolve_settings
from blurgen.pipeline.rebuild import rerun
from blurgen.pipeline.worker import BadInput, Made, Skipped, make_one

__all__ = [
    "BACKENDS", "ON_ERROR", "BadInput", "Made", "Settings", "ShardPlan", "Skipped", "Task", "auto_samples_per_shard",
    "check_backend", "executor", "make_one", "plan_shards", "rerun", "resolve_settings", "run",
]
