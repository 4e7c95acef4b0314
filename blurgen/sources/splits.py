"""Train / test splits of sequences, kept as data.

A split file is text: one ``<sequence> <split>`` pair per line (whitespace separated),
``#`` starts a comment. Split names are words (letters, digits, ``_``, ``-``). The
standard lists ship inside the package (``blurgen/resources/manifests/splits``, shown at
the repository's top level as ``manifests/splits/``) and are named by their stem
(``gopro_standard``, ``nfs_standard``); ``--split-file`` takes such a name or a path.

``ranked_split`` is the deterministic rule used where no list says otherwise (and that
produced ``nfs_standard.txt`` from the 100 NfS sequence names): order the names by the
SHA-256 of ``"<salt>/<name>"`` and give the first ``round(fraction * n)`` to ``train``,
the rest to ``test``.
"""

from __future__ import annotations

import hashlib
import os
import re
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Iterable

from blurgen.errors import ConfigError
from blurgen.resources import listing

SPLITS = "manifests/splits"  # the shipped folder of standard split lists
_WORD = re.compile(r"^[A-Za-z0-9_.-]+$")


def find_split_file(name_or_path: str | os.PathLike) -> Path | Traversable:
    """A split file: an existing path, or ``NAME`` -> the shipped ``manifests/splits/NAME.txt``."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    shipped = listing(SPLITS, ".txt")
    if p.suffix == "" and len(p.parts) == 1 and p.name in shipped:
        return shipped[p.name]
    known = sorted(shipped)
    raise ConfigError(
        f"{name_or_path}: split file not found (give a path to a text file of '<sequence> <split>' lines"
        + (f", or one of: {', '.join(known)}" if known else "") + ")"
    )


def parse_split_text(text: str, source: str = "<split file>") -> dict[str, str]:
    """``{sequence: split}`` from split-file text (see the module docstring)."""
    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not all(_WORD.match(x) for x in parts):
            raise ConfigError(f"{source}:{n}: expected '<sequence> <split>', got {raw.strip()!r}")
        seq, split = parts
        if out.get(seq, split) != split:
            raise ConfigError(f"{source}:{n}: sequence {seq} is in two splits ({out[seq]} and {split})")
        out[seq] = split
    if not out:
        raise ConfigError(f"{source}: split file lists no sequences")
    return out


def read_split_file(name_or_path: str | os.PathLike) -> dict[str, str]:
    """Read a split file (a path or a name in ``manifests/splits``): ``{sequence: split}``."""
    p = find_split_file(name_or_path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read split file ({e})") from None
    return parse_split_text(text, str(p))


def ranked_split(names: Iterable[str], train_fraction: float = 0.7, salt: str = "") -> dict[str, str]:
    """Deterministic train / test assignment of ``names`` (see the module docstring).

    With at least two names, both splits get at least one.
    """
    names = sorted(set(names))
    if not 0.0 <= train_fraction <= 1.0:
        raise ConfigError(f"train fraction must be in [0, 1], got {train_fraction}")
    order = sorted(names, key=lambda s: hashlib.sha256(f"{salt}/{s}".encode()).hexdigest())
    n_train = int(round(train_fraction * len(order)))
    if len(order) >= 2:
        n_train = min(max(n_train, 1), len(order) - 1)
    return {s: ("train" if i < n_train else "test") for i, s in enumerate(order)}
