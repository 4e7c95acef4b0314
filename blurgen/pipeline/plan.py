"""The settings that fix a dataset's bytes, and the shard plan made from the task keys alone."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from blurgen.errors import ConfigError
from blurgen.jobs.base import Task
from blurgen.shards.writer import DEFAULT_COMPRESSION, DEFAULT_TILE, compression_options
from blurgen.utils import key_digest

ON_ERROR = ("skip", "fail")
# Default shard size: about this many uncompressed bytes of blur + flow + flow_bwd
# (19 bytes per pixel), so a compressed shard is a few hundred MB.
TARGET_SHARD_BYTES = 512 * 2**20
SPLIT_RE = re.compile(r"^[A-Za-z0-9_.]+$")


@dataclass(frozen=True)
class Settings:
    """The pipeline settings that fix a dataset's bytes (recorded in the manifest).

    samples_per_shard: int, or None for ``auto_samples_per_shard`` per frame size;
    compression: a ``blurgen.shards.writer.COMPRESSIONS`` name; tile: chunk edge in px
    (0: one chunk per sample); limit: keep the first N tasks in hash order (None: all).
    """

    samples_per_shard: int | None = None
    compression: str = DEFAULT_COMPRESSION
    tile: int = DEFAULT_TILE
    limit: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "samples_per_shard": self.samples_per_shard,
            "compression": self.compression,
            "tile": self.tile,
            "limit": self.limit,
        }


def resolve_settings(recipe: dict[str, Any], samples_per_shard: int | None = None, compression: str | None = None,
                     tile: int | None = None, limit: int | None = None) -> Settings:
    """The run's settings, resolved once: a flag given (not None) wins, then the recipe's
    ``[pipeline]`` table, then the defaults. A bad compression name fails here, before any work."""
    rp = recipe.get("pipeline", {}) if isinstance(recipe.get("pipeline"), dict) else {}
    settings = Settings(
        samples_per_shard=samples_per_shard if samples_per_shard is not None else rp.get("samples_per_shard"),
        compression=compression or rp.get("compression") or DEFAULT_COMPRESSION,
        tile=int(tile if tile is not None else rp.get("tile", DEFAULT_TILE)),
        limit=limit,
    )
    compression_options(settings.compression)
    return settings


@dataclass(frozen=True)
class ShardPlan:
    """One planned shard: its file name, split, frame size (H, W) and tasks in order."""

    name: str
    split: str
    size: tuple[int, int]
    tasks: tuple[Task, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "split": self.split, "size": list(self.size), "tasks": len(self.tasks)}


def auto_samples_per_shard(size: tuple[int, int]) -> int:
    """Samples per shard for frames of ``size`` (H, W): ~512 MiB of raw blur + flows."""
    h, w = size
    return max(1, TARGET_SHARD_BYTES // (h * w * 19))


def _check_tasks(tasks: Sequence[Task]) -> None:
    seen: set[str] = set()
    for t in tasks:
        if t.key in seen:
            raise ConfigError(f"duplicate sample key {t.key!r}: every sample of a run needs its own key")
        seen.add(t.key)
        if not SPLIT_RE.match(t.split):
            raise ConfigError(f"sample {t.key}: split {t.split!r} must be letters, digits, '_' or '.'")
        if len(t.size) != 2 or min(t.size) < 1:
            raise ConfigError(f"sample {t.key}: size {t.size!r} is not (H, W)")


def plan_shards(tasks: Sequence[Task], samples_per_shard: int | None = None, limit: int | None = None) -> list[ShardPlan]:
    """Assign tasks to shards from their keys alone.

    Tasks are ordered by ``key_digest(key)`` (ties by key); ``limit`` keeps the first N in
    that order. Then per split (sorted), per frame size (sorted), consecutive runs of at
    most ``samples_per_shard`` tasks form shards numbered per split across sizes:
    ``{split}-{i:05d}-of-{n:05d}.h5``. Duplicate keys raise ``ConfigError``.
    """
    _check_tasks(tasks)
    if samples_per_shard is not None and samples_per_shard < 1:
        raise ConfigError(f"samples per shard must be >= 1, got {samples_per_shard}")
    if limit is not None and limit < 0:
        raise ConfigError(f"--limit must be >= 0, got {limit}")
    ordered = sorted(tasks, key=lambda t: (key_digest(t.key), t.key))
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
        for i, (size, chunk) in enumerate(chunks):
            plans.append(ShardPlan(f"{split}-{i:05d}-of-{len(chunks):05d}.h5", split, size, tuple(chunk)))
    return plans
