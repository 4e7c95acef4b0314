"""Job kinds: a job couples a source (which samples exist) with a maker (how to make one).

See docs/internals.md. ``build_job(kind, params, root)`` is what ``blurgen rerun`` uses;
``prepare_job(kind, root, recipe, flags)`` is what the dataset commands use: it resolves
the settings once (flags > recipe > the job's defaults) and returns the job with the
recipe to record in the manifest.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from blurgen.errors import ConfigError
from blurgen.recipe import load_recipe

# kind -> "module:function" with ``function(params: dict, root: Path | None) -> job``.
# A kind whose module also has ``default_recipe(flags)``, ``params_from(recipe, flags)``,
# ``recipe_section(params)`` and ``RECIPE_SECTION`` can be prepared from a recipe and flags.
KINDS: dict[str, str] = {
    "synth-monkaa": "blurgen.jobs.monkaa:build",
    "real": "blurgen.jobs.real:build",
    "pattern": "blurgen.jobs.pattern:build",
}


def _kind_module(kind: str) -> tuple[ModuleType, str]:
    """The module of job ``kind`` (imported on first use: it loads numpy and more) and the
    name of its build function."""
    if kind not in KINDS:
        raise ConfigError(f"unknown job kind {kind!r}; known: {', '.join(KINDS)}")
    module, func = KINDS[kind].split(":")
    try:
        return importlib.import_module(module), func
    except ModuleNotFoundError as e:
        if e.name == module:
            raise ConfigError(f"job kind {kind!r} is not available in this version of blurgen") from None
        raise


def build_job(kind: str, params: dict[str, Any], root: str | Path | None):
    """The job of ``kind`` built from its JSON ``params`` and input ``root``."""
    mod, func = _kind_module(kind)
    return getattr(mod, func)(dict(params), None if root is None else Path(root))


def prepare_job(kind: str, root: str | Path | None, recipe: str | os.PathLike | dict | None = None,
                flags: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """The job of ``kind`` on input ``root`` and the resolved recipe to record in its manifest.

    recipe: a recipe name (``pipelines/NAME.toml``), a ``.toml`` path, an already loaded
    recipe dict, or None for the kind's default recipe (for ``real``, the one of
    ``flags["source"]``). flags: the command-line settings, None = not given (the keys of
    the kind's ``FLAG_KEYS``, plus ``source``, ``split_file``, ``crf_file`` for ``real``).
    Each setting comes from the flag, else the recipe's section for the kind, else the
    job config's default; settings that would not act are refused with one line
    (``ConfigError``) before anything is written. The returned recipe is the
    loaded one with the kind's section replaced by the settings as the job runs them.
    """
    mod, _ = _kind_module(kind)
    if not hasattr(mod, "params_from"):
        raise ConfigError(f"job kind {kind!r} has no recipe settings; build it with build_job(kind, params, root)")
    flags = dict(flags or {})
    if not isinstance(recipe, dict):
        recipe = load_recipe(recipe if recipe is not None else mod.default_recipe(flags))
    params = mod.params_from(recipe, flags)
    resolved = {**recipe, mod.RECIPE_SECTION: mod.recipe_section(params)}
    return build_job(kind, params, root), resolved
