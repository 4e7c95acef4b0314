"""Job kinds: a job couples a source (which samples exist) with a maker (how to make one).

See docs/internals.md. ``build_job(kind, params, root)`` is what ``blurgen rerun`` uses.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from blurgen.errors import ConfigError

# kind -> "module:function" with ``function(params: dict, root: Path | None) -> job``.
KINDS: dict[str, str] = {
    "synth-monkaa": "blurgen.jobs.monkaa:build",
    "real": "blurgen.jobs.real:build",
    "pattern": "blurgen.jobs.pattern:build",
}


def build_job(kind: str, params: dict[str, Any], root: str | Path | None):
    """The job of ``kind`` built from its JSON ``params`` and input ``root``."""
    if kind not in KINDS:
        raise ConfigError(f"unknown job kind {kind!r}; known: {', '.join(KINDS)}")
    module, func = KINDS[kind].split(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            raise ConfigError(f"job kind {kind!r} is not available in this version of blurgen") from None
        raise
    return getattr(mod, func)(dict(params), None if root is None else Path(root))
