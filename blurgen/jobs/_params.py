"""Job settings from the JSON ``params`` a manifest records."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from blurgen.errors import ConfigError

C = TypeVar("C")


def config_from_params(cls: type[C], params: dict[str, Any], what: str) -> C:
    """``cls(**params)`` for a config dataclass; an unknown setting is a ``ConfigError``
    naming it (a manifest from another blurgen version, a typo in a recipe)."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"unknown {what} setting(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return cls(**params)
