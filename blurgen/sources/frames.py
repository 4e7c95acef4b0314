"""Frame sequences: folders of numbered images, the common ground of GoPro, NfS and your own.

A :class:`FrameSequence` is one folder of numbered frames (``000123.png``; the number is
the run of digits that differs between the file names, the last one if several do, see
``blurgen.io.frames.number_position``). The
``frames`` source takes any folder of numbered frames, or a folder of such folders at
any depth: every folder that directly holds image files is one sequence, named by its
path relative to the root (the root's own name when the root itself holds the frames).

Listing only: nothing here decodes an image.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from blurgen.errors import InputError
from blurgen.io.frames import image_files, list_frames, not_files, number_position
from blurgen.utils import is_dataset_folder

LAYOUT = "<root>/NNNNNN.png, or <root>/<sequence>/NNNNNN.png (any depth; .png .jpg .jpeg .ppm .webp .tif .tiff .bmp)"
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class FrameSequence:
    """One sequence of numbered frames.

    ``name``: the sequence's part of a sample key (``"train/GOPR0372_07_00"``);
    ``sequence``: its own name (``"GOPR0372_07_00"``); ``split``: ``"train"``, ``"test"``, ...;
    ``folder``: posix path of the frame folder relative to the source root (``"."`` for the
    root); ``frames``: ``(index, file name)`` pairs, ascending by index; ``digits``: the
    zero-padded width of the numbers in the file names (used in keys); ``ignored``: ``(name,
    reason)`` of the entries named like images that are no frame (left out; jobs report them
    as bad input): files whose names hold no number, and folders, broken links or other
    entries that are no regular file.
    """

    name: str
    sequence: str
    split: str
    folder: str
    frames: tuple[tuple[int, str], ...]
    digits: int
    ignored: tuple[tuple[str, str], ...] = ()

    @property
    def indices(self) -> list[int]:
        return [i for i, _ in self.frames]

    def relpath(self, index: int) -> str:
        """Posix path, relative to the source root, of frame ``index``."""
        name = dict(self.frames)[index]
        return name if self.folder == "." else f"{self.folder}/{name}"


def describe_folder(path: Path, limit: int = 6) -> str:
    """A short description of what a folder holds, for error messages."""
    if not path.exists():
        return "nothing (the path does not exist)"
    if not path.is_dir():
        return f"a file ({path.stat().st_size} bytes), not a folder"
    try:
        entries = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir() if not p.name.startswith("."))
    except OSError as e:
        return f"an unreadable folder ({e.strerror})"
    if not entries:
        return "an empty folder"
    shown = ", ".join(entries[:limit])
    more = f", ... ({len(entries)} entries)" if len(entries) > limit else ""
    return shown + more


def digit_width(file_names: list[str]) -> int:
    """The zero-padded width of the frame numbers (the shortest of the runs of digits that
    number the frames, ``io.frames.number_position``; at least 1)."""
    stems = [Path(n).stem for n in file_names]
    pos = number_position(stems)
    widths = [len(runs[pos]) for runs in map(_DIGITS.findall, stems) if runs]
    return min(widths) if widths else 1


UNNUMBERED = "frame file name has no number (rename it to hold its frame number, or move it out of the folder)"


def read_sequence(root: Path, folder: Path, name: str, sequence: str, split: str,
                  exts: tuple[str, ...] | None = None) -> FrameSequence | None:
    """The frames of ``folder`` as a FrameSequence, or None when it holds no image files.
    What is named like an image but is no frame is left out and listed in ``ignored``."""
    frames = list_frames(folder, exts=exts, ignore_non_numeric=True)
    ignored = tuple((p.name, UNNUMBERED) for p in image_files(folder, exts) if not _DIGITS.search(p.stem))
    ignored += tuple((name, f"{what}, not an image file (replace it with the frame, or move it out of the folder)")
                     for name, what in not_files(folder, exts))
    if not frames and not ignored:
        return None
    rel = folder.relative_to(root).as_posix() if folder != root else "."
    pairs = tuple((f.index, f.path.name) for f in frames)
    return FrameSequence(name=name, sequence=sequence, split=split, folder=rel, frames=pairs,
                         digits=digit_width([n for _, n in pairs]), ignored=ignored)


def _has_images(folder: Path) -> bool:
    try:
        return bool(image_files(folder))
    except OSError:
        return False


def walk_inputs(root: Path) -> Iterator[tuple[Path, list[str]]]:
    """``os.walk`` of an input root: ``(folder, file names)``, sorted, without hidden folders
    and without blurgen datasets (``utils.is_dataset_folder``: the output of this or an
    earlier run put inside the root is not input)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith(".") and not is_dataset_folder(Path(dirpath) / d))
        yield Path(dirpath), sorted(filenames)


def find_frame_sequences(root: str | os.PathLike,
                         split_of: Callable[[str], str] | None = None) -> list[FrameSequence]:
    """Every folder under ``root`` (``root`` included) that directly holds image files.

    ``split_of(name)`` gives each sequence's split (default ``"train"``). Sequences come
    sorted by name. Raises InputError when ``root`` is missing, not a folder or holds no
    image files anywhere, saying what layout was expected and what was found.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, f"not a folder of frames: found {describe_folder(root)}",
                         f"expected {LAYOUT}")
    split_of = split_of or (lambda name: "train")
    seqs: list[FrameSequence] = []
    for folder, _ in walk_inputs(root):
        if not _has_images(folder):
            continue
        name = root.name if folder == root else folder.relative_to(root).as_posix()
        seq = read_sequence(root, folder, name, folder.name, split_of(name))
        if seq is not None:
            seqs.append(seq)
    if not seqs:
        raise InputError(root, f"no numbered image files found; found {describe_folder(root)}",
                         f"expected {LAYOUT}")
    return sorted(seqs, key=lambda s: s.name)
