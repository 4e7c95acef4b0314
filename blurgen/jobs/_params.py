"""Job settings from the JSON ``params`` a manifest records."""

from __future__ import annotations

from dataclasses import asdict, fields
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


def quality_off_by_default(params: dict[str, Any]) -> dict[str, Any]:
    """Params without ``quality`` (recorded before the quality estimates existed, or a run
    with --no-quality) read as quality off."""
    return params if "quality" in params else {**params, "quality": False}


def params_of(config: Any) -> dict[str, Any]:
    """A config's JSON params; without ``quality`` and ``calibration`` when quality is off
    (so such a run records what blurgen recorded before the estimates existed)."""
    params = asdict(config)
    if not params.get("quality"):
        params.pop("quality", None)
        params.pop("calibration", None)
    return params

