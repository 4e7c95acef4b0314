"""The run's book-keeping: what the manifest says (identity, inputs, plan), which shards are
done, the timings; what a resumed run may take over from the manifest of the run it
finishes. The manifest is rewritten after every shard, so a killed run leaves one that
says exactly which shards are complete."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from blurgen import manifest as mf
from blurgen.errors import ConfigError, InputError
from blurgen.pipeline.plan import ShardPlan
from blurgen.utils import file_sha256


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def keyed_diffs(recorded: Sequence[dict], current: Sequence[dict], key: str, change: Callable[[dict, dict], str | None],
                only_recorded: str, only_current: str) -> list[str]:
    """One line per record that differs between two lists of dicts matched by ``key``:
    ``"K (only_recorded)"``, ``"K (only_current)"`` or ``"K (change(old, new))"``."""
    a = {r[key]: r for r in recorded}
    b = {r[key]: r for r in current}
    diffs = []
    for k in sorted(set(a) | set(b)):
        what = only_recorded if k not in b else only_current if k not in a else change(a[k], b[k])
        if what:
            diffs.append(f"{k} ({what})")
    return diffs


def _input_change(old: dict, new: dict) -> str | None:
    if old["size"] != new["size"]:
        return f"size {new['size']}, manifest says {old['size']}"
    return "sha256 differs" if old["sha256"] != new["sha256"] else None


def compare_inputs(recorded: Sequence[dict], current: Sequence[dict]) -> list[str]:
    """One line per input that differs between two ``[{path, size, sha256}]`` lists."""
    return keyed_diffs(recorded, current, "path", _input_change, "in the manifest, not read now",
                       "read now, not in the manifest")


def diff_line(what: str, diffs: list[str], limit: int = 8) -> str:
    more = f"; and {len(diffs) - limit} more" if len(diffs) > limit else ""
    return f"{what}: " + "; ".join(diffs[:limit]) + more


def check_same_run(old: dict[str, Any], identity: dict[str, Any], inputs: list[dict], out: Path, root) -> None:
    """Refuse to resume ``old`` with other settings or other inputs (one line naming them)."""
    for k, v in identity.items():
        v_old = {kk: old["pipeline"].get(kk) for kk in v} if k == "pipeline" else old.get(k)
        if v_old != v:
            raise ConfigError(
                f"{out} holds a run with a different {k} ({json.dumps(v_old)[:120]} vs "
                f"{json.dumps(v)[:120]}); --resume needs the same settings, or choose another --out"
            )
    diffs = compare_inputs(old["inputs"]["files"], inputs)
    if diffs:
        raise InputError(root, diff_line("inputs changed since the run began", diffs), "start again in a new --out")


def completed_shards(old: dict[str, Any], plans: Sequence[ShardPlan], out: Path) -> dict[str, dict[str, Any]]:
    """The shards of ``old`` that are planned again and still whole on disk (a damaged one is
    made again): ``{name: {"entry", "samples", "skipped"}}``."""
    planned = {p.name for p in plans}
    done: dict[str, dict[str, Any]] = {}
    for entry in old["shards"]:
        path = out / entry["name"]
        if entry["name"] not in planned or not path.is_file():
            continue
        if path.stat().st_size != entry["bytes"] or file_sha256(path) != entry["sha256"]:
            continue
        done[entry["name"]] = {
            "entry": entry,
            "samples": [s for s in old["samples"] if s["shard"] == entry["name"]],
            "skipped": [s for s in old["skipped"] if s.get("shard") == entry["name"]],
        }
    return done


class RunBook:
    """The manifest of one run as it goes: ``header`` (everything but the shards, samples,
    skips and timings), the planned shards, the ones done, and this run's counts.

    ``previous`` (resume): the manifest of the run being finished, whose complete shards and
    timings are taken over.
    """

    def __init__(self, out: Path, header: dict[str, Any], plans: Sequence[ShardPlan], planned_skips: list[dict],
                 previous: dict[str, Any] | None = None):
        self.out = out
        self.manifest = {**header, "shards": [], "samples": [], "skipped": [], "timings": {}}
        self.plans = list(plans)
        self.planned_skips = planned_skips
        self.done = completed_shards(previous, self.plans, out) if previous else {}
        self.earlier_runs = list((previous or {}).get("timings", {}).get("runs", []))
        self.made = Counter()  # this run's "ok" / "skip" / "input-error" counts
        self.started, self.t0 = _now(), time.monotonic()

    def todo(self) -> list[ShardPlan]:
        return [p for p in self.plans if p.name not in self.done]

    def tasks_done(self) -> int:
        return sum(len(p.tasks) for p in self.plans if p.name in self.done)

    def record_shard(self, plan: ShardPlan, sha256: str, size: int, samples: list[tuple[str, str]],
                     skipped: list[dict]) -> None:
        """A shard written: its sha256 and size in bytes, ``(key, digest)`` of its samples in
        index order, and the skips of its tasks."""
        self.done[plan.name] = {
            "entry": {"name": plan.name, "split": plan.split, "size": list(plan.size), "samples": len(samples),
                      "sha256": sha256, "bytes": size},
            "samples": [{"key": k, "split": plan.split, "shard": plan.name, "index": i, "digest": d}
                        for i, (k, d) in enumerate(samples)],
            "skipped": [{**s, "shard": plan.name} for s in skipped],
        }

    def flush(self, status: str) -> dict[str, Any]:
        """Rewrite ``OUT/manifest.json`` (atomically) with what is done; returns the manifest."""
        order = [p.name for p in self.plans if p.name in self.done]
        m = self.manifest
        m["status"] = status
        m["shards"] = [self.done[n]["entry"] for n in order]
        m["samples"] = [s for n in order for s in self.done[n]["samples"]]
        m["skipped"] = self.planned_skips + [s for n in order for s in self.done[n]["skipped"]]
        m["timings"] = self._timings()
        mf.write_manifest(self.out, m)
        return m

    def seconds(self) -> float:
        return time.monotonic() - self.t0

    def _timings(self) -> dict[str, Any]:
        runs = self.earlier_runs + [{"started": self.started, "seconds": round(self.seconds(), 3),
                                     "samples": self.made["ok"]}]
        total_s = sum(r["seconds"] for r in runs)
        total_n = sum(r["samples"] for r in runs)
        return {"runs": runs, "seconds": round(total_s, 3),
                "samples_per_s": round(total_n / total_s, 3) if total_s > 0 else None}

    def summary_line(self) -> str:
        """``wrote N samples in S shards to OUT (M made now); skipped K (reasons); T s, R samples/s``."""
        m, seconds = self.manifest, self.seconds()
        reasons = Counter(s["kind"] if s["kind"] != "skip" else s["reason"] for s in m["skipped"])
        why = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))
        rate = self.made["ok"] / seconds if seconds > 0 else 0.0
        return (f"wrote {len(m['samples'])} samples in {len(m['shards'])} shards to {self.out} "
                f"({self.made['ok']} made now); skipped {sum(reasons.values())}{f' ({why})' if why else ''}; "
                f"{seconds:.1f} s, {rate:.1f} samples/s")
