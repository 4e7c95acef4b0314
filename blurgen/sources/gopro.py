"""The GoPro high-speed dataset (Nah et al., CVPR 2017), ``GOPRO_Large_all`` layout.

``GOPRO_Large_all/{train,test}/<sequence>/NNNNNN.png``: every 240 fps frame, 1280x720.
``--root`` may name ``GOPRO_Large_all`` itself or the folder that holds it.

Splits: the standard 22 train / 11 test list (``manifests/splits/gopro_standard.txt``)
decides; a sequence the list does not name keeps the split of the folder it is in
(``train`` or ``test``). ``--split-file`` replaces the list (e.g. the B2F-net paper's
25 / 8, which the paper does not enumerate).

The deblurring release ``GOPRO_Large`` (``<sequence>/{blur,sharp}/``) holds only one sharp
frame per blurred image, not every frame, and is refused with a message saying so.
Known defects of the data (index offsets, missing frames in GOPR0384_11_05) are gaps in
the numbering: windows never span them (``blurgen.sources.windows``).
"""

from __future__ import annotations

import os
from pathlib import Path

from blurgen.errors import InputError
from blurgen.sources.frames import FrameSequence, describe_folder, read_sequence

ROOT_NAME = "GOPRO_Large_all"
FOLDERS = ("train", "test")
LAYOUT = "GOPRO_Large_all/{train,test}/<sequence>/NNNNNN.png"
FPS = 240.0
DEFAULT_SPLIT_FILE = "gopro_standard"


def resolve_root(root: str | os.PathLike) -> Path:
    """The ``GOPRO_Large_all`` folder for ``--root`` (it, or a folder holding it)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, f"not a GoPro tree: found {describe_folder(root)}", f"expected {LAYOUT}")
    if (root / ROOT_NAME).is_dir():
        return root / ROOT_NAME
    if any((root / f).is_dir() for f in FOLDERS):
        return root
    if (root / "GOPRO_Large").is_dir() or any(root.glob("*/*/sharp")):
        raise InputError(
            root,
            "this is the GoPro deblurring release (blur/sharp pairs), which holds one sharp frame per blurred image",
            f"blurgen real needs every 240 fps frame: get GOPRO_Large_all and give its folder ({LAYOUT})",
        )
    raise InputError(root, f"not a GoPro tree: found {describe_folder(root)}", f"expected {LAYOUT}")


def find_sequences(root: str | os.PathLike, splits: dict[str, str] | None = None) -> list[FrameSequence]:
    """The sequences of a GoPro tree, sorted by ``<folder>/<sequence>``.

    ``splits``: ``{sequence: split}`` (a split file); sequences not in it keep their
    folder's split. Names are ``"<folder>/<sequence>"``; each sequence's ``folder`` is
    relative to ``root`` as given. Raises InputError when no sequence holds frames.
    """
    root = Path(root)
    base = resolve_root(root)
    splits = splits or {}
    seqs: list[FrameSequence] = []
    for part in FOLDERS:
        d = base / part
        if not d.is_dir():
            continue
        for folder in sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")):
            seq = read_sequence(root, folder, f"{part}/{folder.name}", folder.name,
                                splits.get(folder.name, part))
            if seq is not None:
                seqs.append(seq)
    if not seqs:
        found = "; ".join(f"{p}/: {describe_folder(base / p)}" for p in FOLDERS if (base / p).exists())
        raise InputError(base, f"no GoPro sequence with frames found ({found or describe_folder(base)})",
                         f"expected {LAYOUT}")
    return seqs
