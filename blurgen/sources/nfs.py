"""The Need for Speed (NfS) tracking dataset (Galoogahi et al., ICCV 2017), 240 fps frames.

Layout (one zip per sequence): ``<root>/<sequence>/240/<sequence>/NNNNN.jpg`` (5 digits,
from 00001), with the annotations ``<sequence>/240/<sequence>.txt`` and a ``30/`` folder
beside ``240/`` (not used). Resolutions vary: each sequence's size is read from its files.

Splits: ``manifests/splits/nfs_standard.txt`` (70 train / 30 test of the 100 sequences,
made by the deterministic rule ``blurgen.sources.splits.ranked_split``); sequences it does
not name are split among themselves by the same rule (70 % train). ``--split-file``
replaces the list.
"""

from __future__ import annotations

import os
from pathlib import Path

from blurgen.errors import InputError
from blurgen.sources.frames import FrameSequence, describe_folder, read_sequence
from blurgen.sources.splits import ranked_split

LAYOUT = "<root>/<sequence>/240/<sequence>/NNNNN.jpg"
FPS = 240.0
DEFAULT_SPLIT_FILE = "nfs_standard"
TRAIN_FRACTION = 0.7
SALT = "nfs"


def _frame_folder(seq_dir: Path) -> Path | None:
    """``<seq>/240/<seq>`` (or, as some archives unpack, ``<seq>/240`` holding the jpgs)."""
    d240 = seq_dir / "240"
    if (d240 / seq_dir.name).is_dir():
        return d240 / seq_dir.name
    if d240.is_dir():
        subs = [p for p in d240.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if len(subs) == 1:
            return subs[0]
        return d240
    return None


def find_sequences(root: str | os.PathLike, splits: dict[str, str] | None = None) -> list[FrameSequence]:
    """The 240 fps sequences of an NfS tree, sorted by name (see the module docstring).

    Raises InputError when ``root`` holds no ``<sequence>/240/`` folder with frames, saying
    what was found.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, f"not an NfS tree: found {describe_folder(root)}", f"expected {LAYOUT}")
    if (root / "240").is_dir():
        raise InputError(root, "this is one NfS sequence, not the dataset root",
                         f"give the folder that holds the sequences ({LAYOUT})")
    found: list[tuple[str, Path]] = []
    only_30: list[str] = []
    for seq_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        folder = _frame_folder(seq_dir)
        if folder is None:
            if (seq_dir / "30").is_dir():
                only_30.append(seq_dir.name)
            continue
        found.append((seq_dir.name, folder))
    splits = dict(splits or {})
    unknown = [name for name, _ in found if name not in splits]
    splits.update(ranked_split(unknown, TRAIN_FRACTION, SALT) if unknown else {})
    seqs = []
    for name, folder in found:
        seq = read_sequence(root, folder, name, name, splits[name])
        if seq is not None:
            seqs.append(seq)
    if not seqs:
        detail = (f"{len(only_30)} sequence(s) with only 30 fps frames ({', '.join(only_30[:3])})"
                  if only_30 else describe_folder(root))
        raise InputError(root, f"no NfS 240 fps frames found; found {detail}", f"expected {LAYOUT}")
    return seqs
