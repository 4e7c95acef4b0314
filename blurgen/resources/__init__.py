"""Data that ships inside the package: recipes, split lists and the checkpoint registry.

``pipelines/*.toml`` (recipes), ``manifests/splits/*.txt`` (split lists) and
``model_zoo/registry.toml`` live here so that a wheel carries them; the repository's
top-level ``pipelines/``, ``manifests/`` and ``model_zoo/`` are links to these folders.
Code reads them through :func:`resource` (``importlib.resources``), never through a path
relative to a checkout.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable


def resource(*parts: str) -> Traversable:
    """The shipped file or folder ``parts`` (e.g. ``resource("pipelines", "gopro.toml")``)."""
    return files(__name__).joinpath(*parts)


def listing(folder: str, suffix: str) -> dict[str, Traversable]:
    """``{stem: file}`` of the shipped files in ``folder`` (e.g. ``"manifests/splits"``) ending in ``suffix``."""
    d = resource(*folder.split("/"))
    if not d.is_dir():
        return {}
    return {f.name[: -len(suffix)]: f for f in d.iterdir() if f.name.endswith(suffix) and f.is_file()}
