"""The dataset commands the suite injects faults into, each at a tiny size.

A ``Case`` builds the argument list of one dataset command for an output folder; every
case writes several small shards, so kill moments fall between and inside shard writes.
``pattern`` is the pipeline's own test job (no inputs, a fixed time per sample); the
others are the user-facing commands on the procedural sample (``blurgen sample``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Case:
    name: str
    requires: tuple[str, ...]        # blurgen commands that must be built
    args: tuple[str, ...]            # after the program, before --out
    module: str | None = None        # run as ``python -m MODULE`` instead of ``blurgen``
    root: str | None = None          # sub-folder of the sample the command reads (--root)
    extra: tuple[str, ...] = field(default=())
    default_moments: frozenset[int] = frozenset({3, 6})   # kill moments in the default run

    def argv(self, out: Path, sample: Path | None = None, *more: str) -> list[str]:
        prog = [sys.executable, "-m", self.module or "blurgen"]
        args = list(self.args)
        if self.root is not None:
            assert sample is not None
            args += ["--root", str(sample / self.root)]
        return [*prog, *args, *self.extra, "--out", str(out), *more]

    @property
    def label(self) -> str:
        """The command as the reliability table shows it."""
        if self.module:
            return f"python -m {self.module} " + " ".join(self.args)
        return "blurgen " + " ".join(self.args) + (f" --root {self.root}" if self.root else "")


PATTERN = Case(
    "pattern",
    (),
    ("--n", "24", "--size", "24x32", "--samples-per-shard", "3", "--delay", "0.03"),
    module="blurgen.commands.pattern",
)

SYNTH_MONKAA = Case(
    "synth-monkaa",
    ("sample", "synth-monkaa"),
    ("synth-monkaa", "--samples-per-shard", "2"),
    root="monkaa",
    default_moments=frozenset({2}),
)

REAL_GOPRO = Case(
    "real-gopro",
    ("sample", "real"),
    ("real", "--source", "gopro", "--flow-model", "dis", "--samples-per-shard", "2"),
    root="gopro",
    default_moments=frozenset({5}),
)

REAL_VIDEO = Case(
    "real-video",
    ("sample", "real"),
    ("real", "--source", "video", "--flow-model", "dis", "--samples-per-shard", "2"),
    root="video",
    default_moments=frozenset({4}),
)

CASES = {c.name: c for c in (PATTERN, SYNTH_MONKAA, REAL_GOPRO, REAL_VIDEO)}
