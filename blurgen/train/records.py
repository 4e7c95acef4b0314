"""What a training run writes besides its checkpoints: ``RUN/run.json`` and, with
``--sync-report``, ``RUN/sync/rank-R.json``.

``run.json`` (``RUN_FORMAT``): the run's config, its training shards with the count and
sha256 of their keys, what selects ``best.pt`` (the holdout's rule, fraction, salt and
keys), the quality filters and weighting with what they left out, the crop, a note
that the test split is never read, and at the end the summary
(NaN as null). A sync report: a rank's step, the sha256 of its parameters
(``param_digest``) and the keys it trained on, so that DDP ranks can be compared.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import torch

from blurgen import __version__
from blurgen.train.config import TrainConfig
from blurgen.train.data import TEST_SPLIT, TrainData, keys_sha256
from blurgen.utils import atomic_write_bytes

RUN_FORMAT = "blurgen-train-run/1"


def param_digest(model: torch.nn.Module) -> str:
    """sha256 of every parameter and buffer (name order, float32 bytes on the CPU)."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def run_manifest(cfg: TrainConfig, data: TrainData, crop_auto: bool) -> dict[str, Any]:
    """The content of ``RUN/run.json`` when a run starts (``summary`` is filled at its end)."""
    return {
        "format": RUN_FORMAT, "blurgen": __version__, "config": cfg.to_dict(),
        "train": {"shards": [str(p) for p in data.train_paths], "n": len(data.train_keys),
                  "keys_sha256": keys_sha256(data.train_keys)},
        "selection": data.selection,
        "quality": data.quality or None,
        "test_split": f"never read: no '{TEST_SPLIT}' shard is opened by training; use blurgen eval",
        "crop": {"size": data.crop, "auto": crop_auto, "note": data.crop_note},
        "summary": None,
    }


def write_json(path: Path, obj: dict) -> None:
    """``obj`` as indented JSON (no NaN), written atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=1, allow_nan=False) + "\n").encode("utf-8"))


def finish_run_manifest(path: Path, summary: dict[str, Any]) -> None:
    """Fill ``summary`` (NaN as null, no validation detail) into the run.json at ``path``."""
    man = json.loads(path.read_text(encoding="utf-8"))
    man["summary"] = {k: (None if isinstance(v, float) and math.isnan(v) else v)
                      for k, v in summary.items() if k != "val"}
    write_json(path, man)


def write_sync_report(out: Path, rank: int, world_size: int, step: int, model: torch.nn.Module,
                      keys_seen: list[str]) -> None:
    """``out/sync/rank-R.json``: this rank's step, parameter sha256 and the keys it trained on."""
    rep = {"rank": rank, "world_size": world_size, "step": step, "param_sha256": param_digest(model),
           "keys_seen": keys_seen}
    (out / "sync").mkdir(parents=True, exist_ok=True)
    (out / "sync" / f"rank-{rank}.json").write_text(json.dumps(rep, indent=1))
