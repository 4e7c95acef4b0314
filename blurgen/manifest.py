"""What a run records (``OUT/manifest.json``, schema 1, DESIGN.md section 5) and ``verify``.

The manifest is written atomically (temporary name, fsync, rename) after each completed
shard, so a killed run leaves one that says exactly which shards are done. Layout::

    schema: 1, status: "complete" | "partial"
    command: [argv...], job: {kind, params}, recipe: {...}, recipe_digest: hex
    seed: int, pipeline: {samples_per_shard, compression, tile, limit, on_error}
    blurgen: {version, git_commit, git_dirty}, versions: {python, numpy, torch, ...}
    inputs: {root, files: [{path, size, sha256}], digest}
    checkpoints: [{path, size, sha256}]
    plan: {tasks, shards: [{name, split, size: [H, W], tasks}]}
    shards: [{name, split, size: [H, W], samples, sha256, bytes}]      (complete shards)
    samples: [{key, split, shard, index, digest}]                      (content digests)
    skipped: [{key, kind: planned | skip | input-error, reason, ...}]
    timings: {runs: [{started, seconds, samples}], seconds, samples_per_s}
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from blurgen import __version__
from blurgen.errors import ConfigError, InputError
from blurgen.shards.reader import SHARD_RE, ShardReader
from blurgen.shards.schema import sample_digest
from blurgen.utils import LOCK_NAME, MANIFEST_NAME, TMP_MARK, atomic_write_text, file_sha256

MANIFEST_SCHEMA = 1
VERSIONED = ("torch", "numpy", "opencv-python", "h5py", "ptlflow", "torchvision", "joblib")


# -- paths -----------------------------------------------------------------------------
def check_relpath(path: str, what: str = "input path") -> str:
    """``path`` if it is a relative POSIX path that stays inside its root; else ConfigError."""
    if not isinstance(path, str) or not path:
        raise ConfigError(f"manifest {what} {path!r} is not a relative path")
    p = PurePosixPath(path)
    if p.is_absolute() or path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        raise ConfigError(f"manifest {what} {path!r} is absolute; only paths inside the root are allowed")
    if any(part == ".." for part in p.parts) or "\\" in path:
        raise ConfigError(f"manifest {what} {path!r} escapes the root ('..'); refusing it")
    return path


def check_shard_name(name: str) -> str:
    """A shard name must be a plain file name ``SPLIT-iiiii-of-nnnnn.h5`` (no folders)."""

    if not isinstance(name, str) or "/" in name or "\\" in name or name in (".", "..") or not SHARD_RE.match(name):
        raise ConfigError(f"manifest shard name {name!r} is not a plain 'SPLIT-00000-of-00001.h5' name; refusing it")
    return name


# -- hashing ---------------------------------------------------------------------------
def hash_inputs(root: Path | None, rel_paths: Sequence[str], workers: int = 2) -> list[dict[str, Any]]:
    """``[{path, size, sha256}]`` for each input file (sorted by path), hashed in threads.

    A missing or unreadable file raises ``InputError`` naming it.
    """
    rel = sorted(set(check_relpath(p) for p in rel_paths))
    if rel and root is None:
        raise ConfigError("the job lists input files but has no input root")

    def one(p: str) -> dict[str, Any]:
        full = Path(root) / p
        try:
            return {"path": p, "size": full.stat().st_size, "sha256": file_sha256(full)}
        except FileNotFoundError:
            raise InputError(full, "input file not found") from None
        except OSError as e:
            raise InputError(full, f"cannot read input ({e.strerror})") from None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, rel))


def inputs_digest(files: Sequence[dict[str, Any]]) -> str:
    """sha256 over the sorted ``path size sha256`` lines of the inputs list."""
    lines = "".join(f"{f['path']}\t{f['size']}\t{f['sha256']}\n" for f in sorted(files, key=lambda f: f["path"]))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def hash_checkpoints(paths: Sequence[str]) -> list[dict[str, Any]]:
    """``[{path, size, sha256}]`` of model weights a job uses."""
    out = []
    for p in paths:
        try:
            out.append({"path": str(p), "size": Path(p).stat().st_size, "sha256": file_sha256(p)})
        except OSError as e:
            raise InputError(p, f"cannot read checkpoint ({e.strerror})") from None
    return out


# -- environment -----------------------------------------------------------------------
def package_versions(names: Sequence[str] = VERSIONED) -> dict[str, str | None]:
    """Installed versions (from package metadata; nothing is imported)."""
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    return out


def git_state() -> dict[str, Any]:
    """blurgen's version and, when it runs from a git checkout, the commit and dirty flag."""
    here = Path(__file__).resolve().parent.parent
    state: dict[str, Any] = {"version": __version__, "git_commit": None, "git_dirty": None}
    if not (here / ".git").exists():
        return state
    try:
        commit = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if commit.returncode == 0:
            state["git_commit"] = commit.stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no", "--", "blurgen"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            state["git_dirty"] = bool(dirty.stdout.strip()) if dirty.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass
    return state


# -- reading and writing ---------------------------------------------------------------
def _flat(obj: Any) -> bool:
    scalar = (str, int, float, bool, type(None))
    if isinstance(obj, dict):
        return all(isinstance(v, scalar) or (isinstance(v, list) and all(isinstance(x, scalar) for x in v)) for v in obj.values())
    return isinstance(obj, list) and all(isinstance(x, scalar) for x in obj)


def dumps(obj: Any, indent: int = 0) -> str:
    """JSON text, indented, with each flat record (a sample, a shard, a file) on one line."""
    if isinstance(obj, (dict, list)) and obj and not _flat(obj):
        pad, inner = " " * indent, " " * (indent + 1)
        if isinstance(obj, dict):
            items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {dumps(v, indent + 1)}" for k, v in obj.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        return "[\n" + ",\n".join(inner + dumps(v, indent + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))


def write_manifest(out: str | os.PathLike, manifest: dict[str, Any]) -> Path:
    """Write ``OUT/manifest.json`` atomically (temporary file, fsync, rename)."""
    path = Path(out) / MANIFEST_NAME
    atomic_write_text(path, dumps(manifest) + "\n")
    return path


def load_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a manifest: schema, required fields, and that no input path or shard
    name escapes its root (absolute paths, '..'). ``path`` may be the file or its folder."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: manifest not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not a readable manifest ({e})") from None
    if not isinstance(data, dict) or data.get("schema") != MANIFEST_SCHEMA:
        got = data.get("schema") if isinstance(data, dict) else None
        raise ConfigError(f"{path}: manifest schema {got!r}, this blurgen reads schema {MANIFEST_SCHEMA}")
    for k in ("job", "seed", "pipeline", "inputs", "shards", "samples", "skipped", "plan", "status"):
        if k not in data:
            raise ConfigError(f"{path}: manifest has no {k!r} field")
    for f in data["inputs"].get("files", []):
        check_relpath(f.get("path"), "input path")
    for s in data["shards"]:
        check_shard_name(s.get("name"))
    for s in data["plan"].get("shards", []):
        check_shard_name(s.get("name"))
    for s in data["samples"]:
        check_shard_name(s.get("shard"))
    return data


# -- verify ----------------------------------------------------------------------------
@dataclass
class VerifyReport:
    """What ``verify`` found: ``problems`` (one line each; empty means all match)."""

    problems: list[str] = field(default_factory=list)
    shards: int = 0
    samples: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _files_under(out: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(out):
        dirnames.sort()
        for fn in sorted(filenames):
            found.append(Path(dirpath, fn).relative_to(out).as_posix())
    return found


def verify(out: str | os.PathLike) -> VerifyReport:
    """Check ``OUT`` against ``OUT/manifest.json``: recompute every shard's sha256 and every
    sample's content digest. Names each missing, extra, truncated or altered shard, each
    missing, extra or altered sample, and a partial run."""
    out = Path(out)
    if not out.is_dir():
        raise InputError(out, "not a folder", "give the --out folder of a dataset run")
    man = load_manifest(out / MANIFEST_NAME)
    rep = VerifyReport()
    by_shard: dict[str, list[dict[str, Any]]] = {}
    for s in man["samples"]:
        by_shard.setdefault(s["shard"], []).append(s)
    recorded = {s["name"] for s in man["shards"]}
    rep.problems += _listing_problems(out, man, by_shard, recorded)
    for entry in man["shards"]:
        rep.shards += 1
        _check_shard(out / entry["name"], entry, by_shard.get(entry["name"], []), rep)
    return rep


def _listing_problems(out: Path, man: dict[str, Any], by_shard: dict[str, list], recorded: set[str]) -> list[str]:
    """A partial run, planned shards that are not there, samples of unknown shards, extra files."""
    problems = []
    if man["status"] != "complete":
        problems.append(f"manifest status is {man['status']!r}: {len(man['shards'])} of "
                        f"{len(man['plan'].get('shards', []))} shards complete (finish it with --resume)")
        planned_missing = []
    else:
        planned_missing = [p["name"] for p in man["plan"].get("shards", []) if p["name"] not in recorded]
    problems += [f"missing shard {n}: planned but not in the manifest's shard list" for n in planned_missing]
    problems += [f"manifest lists samples in {n} but no such shard" for n in sorted(set(by_shard) - recorded)]
    # Companions a run or the user writes beside the shards: the dataset card and plots.
    expected = {MANIFEST_NAME, "README.md", "preview.png", "stats.png"} | recorded
    for rel in _files_under(out):
        if rel not in expected:
            why = " (a run's lock: a run is going on or was killed)" if rel == LOCK_NAME else ""
            if TMP_MARK in rel:
                why = " (a temporary file left by a killed run; --resume removes it)"
            problems.append(f"extra file {rel}{why}")
    return problems


def _check_shard(path: Path, entry: dict[str, Any], want: list[dict[str, Any]], rep: VerifyReport) -> None:
    """The shard's size and sha256, then each of its samples (``want``: the manifest's records)."""
    name = entry["name"]
    if not path.is_file():
        rep.problems.append(f"missing shard {name}")
        return
    size = path.stat().st_size
    if size < entry["bytes"]:
        rep.problems.append(f"truncated shard {name}: {size} bytes, manifest says {entry['bytes']}")
    elif size > entry["bytes"]:
        rep.problems.append(f"altered shard {name}: {size} bytes, manifest says {entry['bytes']}")
    elif file_sha256(path) != entry["sha256"]:
        rep.problems.append(f"altered shard {name}: sha256 differs from the manifest")
    try:
        with ShardReader(path) as r:
            keys = r.keys()
            for rec in want:
                rep.samples += 1
                problem = _sample_problem(r, keys, rec, name)
                if problem:
                    rep.problems.append(problem)
            listed = {rec["key"] for rec in want}
            rep.problems += [f"extra sample {k} in shard {name}: not in the manifest" for k in keys if k not in listed]
            if len(keys) != entry["samples"]:
                rep.problems.append(f"shard {name} holds {len(keys)} samples, manifest says {entry['samples']}")
    except (InputError, OSError, KeyError) as e:
        rep.problems.append(f"unreadable shard {name}: {e}")


def _sample_problem(r: ShardReader, keys: list[str], rec: dict[str, Any], name: str) -> str | None:
    i = rec["index"]
    where = f"(shard {name}, index {i})"
    if i >= len(keys) or keys[i] != rec["key"]:
        return f"missing sample {rec['key']} {where}"
    try:
        digest = sample_digest(keys[i], r.read(i), r.meta_text(i))
    except Exception as e:  # noqa: BLE001 - a corrupt chunk: whatever h5py raises
        return f"altered sample {rec['key']} {where}: unreadable ({e})"
    if digest != rec["digest"]:
        return f"altered sample {rec['key']} {where}: digest differs"
    return None
