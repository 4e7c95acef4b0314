"""Recipes: a dataset's settings as TOML data (``pipelines/*.toml``), overridden by flags.

Named recipes ship inside the package (``blurgen/resources/pipelines``, shown at the
repository's top level as ``pipelines/``); any ``.toml`` path works too.

A recipe is a plain dict (JSON-able). Sections are free-form and belong to the job that
reads them, except ``[pipeline]``, which the shared loop reads: ``samples_per_shard``
(int) and ``compression`` (see ``blurgen.shards.writer.COMPRESSIONS``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tomllib
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from blurgen.errors import ConfigError
from blurgen.resources import listing

RECIPES = "pipelines"  # the shipped folder of named recipes


def _load_toml(path: Path | Traversable) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read recipe ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None


def find_recipe(name_or_path: str | os.PathLike) -> Path | Traversable:
    """A recipe file: an existing path, or ``NAME`` -> the shipped ``pipelines/NAME.toml``."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    shipped = listing(RECIPES, ".toml")
    if len(p.parts) == 1 and p.name in shipped:  # a folder of that name (the data) is not a recipe
        return shipped[p.name]
    if p.suffix == ".toml" or p.exists():
        raise ConfigError(f"{p}: recipe file not found" if not p.exists() else f"{p}: a recipe must be a .toml file")
    known = sorted(shipped)
    raise ConfigError(f"unknown recipe {str(name_or_path)!r}; known: {', '.join(known) or 'none'} (or give a .toml path)")


def load_recipe(name_or_path: str | os.PathLike | None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The resolved recipe: the TOML file (``None`` -> empty), then ``overrides`` merged in.

    overrides: nested dict (``{"pipeline": {"compression": "lzf"}}``); ``None`` values
    mean "not given" and leave the recipe's value. Returns a new dict.
    """
    recipe = {} if name_or_path is None else _load_toml(find_recipe(name_or_path))
    return merge(recipe, overrides or {})


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: dicts merge key by key, other values replace; ``None`` is skipped."""
    out = copy.deepcopy(base)
    for k, v in overrides.items():
        if v is None:
            continue
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def canonical_json(data: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, no NaN."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def recipe_digest(recipe: dict[str, Any]) -> str:
    """sha256 (hex) of the recipe's canonical JSON."""
    try:
        text = canonical_json(recipe)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"recipe is not plain data ({e})") from None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
