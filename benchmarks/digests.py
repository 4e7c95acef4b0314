"""Byte identity of the datasets blurgen makes: a table of digests to compare across changes.

Usage: python benchmarks/digests.py [--out DIR] [--json FILE] [--compare FILE] [--extra=ARGS]

Writes the procedural sample (320x180, seed 0), then makes from it, with 1 and 2 workers:
``synth-monkaa`` (the demo's settings: flow-guided, --store-ends) and ``real`` for the
gopro, nfs and video layouts (``--flow-model dis``), through the same CLI a user types.
For each dataset it prints the sha256 of every shard's bytes (combined) and of the manifest
less what legitimately differs between runs: its timings, the command line, the input
root's absolute path and blurgen's git state. A refactor or a speed-up that must not
change what is made keeps every row identical (``--compare`` a ``--json`` of an earlier
run: exit 1 and the differing rows otherwise). The same numbers with 1 and 2 workers show
that the worker count does not matter either. ``--extra`` appends arguments to every
dataset command (``--extra=--no-quality``: the datasets as made before the quality
estimates existed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATASETS = {
    "synth-monkaa": ["synth-monkaa", "--root", "{s}/monkaa", "--interpolator", "flow-guided", "--store-ends"],
    "real gopro": ["real", "--source", "gopro", "--root", "{s}/gopro", "--flow-model", "dis"],
    "real nfs": ["real", "--source", "nfs", "--root", "{s}/nfs", "--flow-model", "dis"],
    "real video": ["real", "--source", "video", "--root", "{s}/video", "--flow-model", "dis"],
}
# Manifest fields that differ between two runs making the same bytes.
VOLATILE = ("timings", "command", "blurgen")


def blurgen(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "blurgen", *args], check=True)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dataset_digests(out: Path) -> dict[str, object]:
    """{"shards": combined sha256 of the shard files in name order, "manifest": sha256 of the
    manifest less VOLATILE fields and the input root, "samples": count}."""
    man = json.loads((out / "manifest.json").read_text())
    shards = hashlib.sha256()
    for entry in man["shards"]:
        shards.update(entry["name"].encode())
        shards.update(bytes.fromhex(sha256((out / entry["name"]).read_bytes())))
    stable = {k: v for k, v in man.items() if k not in VOLATILE}
    stable["inputs"] = {k: v for k, v in man["inputs"].items() if k != "root"}
    text = json.dumps(stable, sort_keys=True, separators=(",", ":"))
    return {"shards": shards.hexdigest(), "manifest": sha256(text.encode()), "samples": len(man["samples"])}


def measure(work: Path, extra: list[str] = ()) -> dict[str, dict[str, object]]:
    sample = work / "sample"
    blurgen("sample", str(sample), "--size", "320x180", "--seed", "0", "--quiet")
    rows: dict[str, dict[str, object]] = {}
    for name, argv in DATASETS.items():
        for workers in (1, 2):
            out = work / f"{name.replace(' ', '-')}-w{workers}"
            t0 = time.perf_counter()
            blurgen(*[a.format(s=sample) for a in argv], *extra, "--out", str(out), "--workers", str(workers), "--quiet")
            rows[f"{name}, {workers} worker(s)"] = {**dataset_digests(out), "seconds": round(time.perf_counter() - t0, 1)}
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="work folder [a temporary one]")
    ap.add_argument("--json", type=Path, default=None, help="write the rows as JSON")
    ap.add_argument("--compare", type=Path, default=None, help="a --json of an earlier run to compare with")
    ap.add_argument("--extra", default="", help="arguments appended to every dataset command, e.g. --extra=--no-quality")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(a.out or Path(tmp), a.extra.split())
    print(f"{'dataset':<28} {'samples':>7}  {'shards sha256':<16}  {'manifest sha256':<16}  {'s':>5}")
    for name, r in rows.items():
        print(f"{name:<28} {r['samples']:>7}  {r['shards'][:16]}  {r['manifest'][:16]}  {r['seconds']:>5}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    if a.compare:
        old = json.loads(a.compare.read_text())
        diffs = [n for n in sorted(set(old) | set(rows))
                 if {k: v for k, v in old.get(n, {}).items() if k != "seconds"}
                 != {k: v for k, v in rows.get(n, {}).items() if k != "seconds"}]
        print("identical to " + str(a.compare) if not diffs else "DIFFERENT: " + "; ".join(diffs))
        return 1 if diffs else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
