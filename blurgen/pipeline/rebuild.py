"""``rerun(manifest, root, out)``: rebuild a dataset from its manifest and the input root,
then check that every sample came out with the digest and place the manifest recorded."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from blurgen import manifest as mf
from blurgen.errors import BlurgenError, ConfigError, InputError
from blurgen.jobs import build_job
from blurgen.pipeline import loop
from blurgen.pipeline.book import diff_line, keyed_diffs
from blurgen.utils import file_sha256


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
    """Rebuild a dataset from ``manifest_path`` (or its folder) and the input ``root`` into ``out``.

    Refuses (``InputError`` naming the files) when the inputs' sizes or sha256 differ from
    the manifest, and (``ConfigError``) manifests whose paths escape the root or out. After
    the run, every sample's content digest is compared with the manifest: a difference
    raises ``BlurgenError`` naming the samples. Returns the new manifest.
    """
    manifest_path = Path(manifest_path)
    if manifest_path.is_dir():  # the dataset folder: its manifest.json (hashed below)
        manifest_path = manifest_path / mf.MANIFEST_NAME
    old = mf.load_manifest(manifest_path)
    job = build_job(old["job"]["kind"], old["job"]["params"], _input_root(old, root, manifest_path))
    for ck in old.get("checkpoints", []):
        p = Path(ck["path"])
        if not p.is_file() or file_sha256(p) != ck["sha256"]:
            raise InputError(p, "checkpoint missing or its sha256 differs from the manifest", "rerun needs the same weights")
    pipe = old["pipeline"]
    new = loop.run(job, out, seed=old["seed"], workers=workers, backend=backend, scheduler=scheduler, resume=resume,
              on_error=pipe.get("on_error", "skip"), limit=pipe.get("limit"),
              samples_per_shard=pipe.get("samples_per_shard"), compression=pipe.get("compression"),
              tile=pipe.get("tile"), quiet=quiet, command=command, recipe=old.get("recipe", {}),
              expect_inputs=old["inputs"]["files"],
              extra={"rerun_of": {"manifest": manifest_path.name, "sha256": file_sha256(manifest_path)}})
    diffs = _sample_diffs(old["samples"], new["samples"])
    if diffs:
        raise BlurgenError(diff_line(f"rerun in {out} does not reproduce {manifest_path}", diffs))
    return new


def _input_root(old: dict[str, Any], root, manifest_path: Path):
    """``root`` as given, else the root the manifest recorded (when the job reads inputs)."""
    if root is not None or not old["inputs"].get("files"):
        return root
    recorded = old["inputs"].get("root")
    if not recorded or not Path(recorded).is_dir():
        raise ConfigError(f"{manifest_path}: give the input folder with --root (recorded: {recorded})")
    return recorded


def _sample_diffs(want: list[dict], got: list[dict]) -> list[str]:
    def change(a: dict, b: dict) -> str | None:
        same = all(a[f] == b[f] for f in ("digest", "shard", "index"))
        return None if same else "digest or place differs"

    return keyed_diffs(want, got, "key", change, "missing", "extra")
