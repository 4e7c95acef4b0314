"""The Monkaa part of SceneFlow (Mayer et al., CVPR 2016): frames and exact flow, both ways.

Layout under ``--root`` (the folder that holds both trees)::

    frames_cleanpass/<scene>/{left,right}/NNNN.png          (or frames_cleanpass_webp/, .webp;
                                                             frames_finalpass[_webp] for --pass final)
    optical_flow/<scene>/into_future/{left,right}/OpticalFlowIntoFuture_NNNN_{L,R}.pfm   NNNN -> NNNN+1
    optical_flow/<scene>/into_past/{left,right}/OpticalFlowIntoPast_NNNN_{L,R}.pfm       NNNN -> NNNN-1

A sample is the pair of frames ``(t, t + 1)`` of one scene and camera, with the flow
``t -> t+1`` (into_future of ``t``) and ``t+1 -> t`` (into_past of ``t + 1``). Pairs are
planned for every ``t`` from the first to the last frame number of a camera folder minus
one, so a missing frame or flow file is met when the pair is made and reported there
(an :class:`InputError` naming the file; ``--on-error`` decides).

The clean pass is the default: the final pass already has rendered motion blur.

Splits (:func:`split_pairs`): the paper's 10,000 train / 1,200 test images, chosen by
ranking pair keys by ``sha256("<seed>/<key>")``.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from blurgen.errors import ConfigError, InputError
from blurgen.sources.frames import describe_folder

CAMERAS = ("left", "right")
PASSES = ("clean", "final")
FLOW_DIR = "optical_flow"
LAYOUT = ("frames_cleanpass/<scene>/{left,right}/NNNN.png and "
          "optical_flow/<scene>/into_{future,past}/{left,right}/OpticalFlowInto{Future,Past}_NNNN_{L,R}.pfm")
_FRAME_RE = re.compile(r"^(\d+)\.(png|webp)$", re.IGNORECASE)


@dataclass(frozen=True)
class MonkaaPair:
    """One pair: frames ``index`` and ``index + 1`` of ``scene`` seen by ``camera``.

    Paths are posix, relative to the root. ``key`` = ``monkaa/<scene>/<camera>/<NNNN>``.
    """

    scene: str
    camera: str
    index: int
    frame0: str
    frame1: str
    flow01: str
    flow10: str

    @property
    def key(self) -> str:
        return pair_key(self.scene, self.camera, self.index)

    def files(self) -> list[str]:
        return [self.frame0, self.frame1, self.flow01, self.flow10]


def pair_key(scene: str, camera: str, index: int) -> str:
    return f"monkaa/{scene}/{camera}/{index:04d}"


def flow_path(scene: str, camera: str, index: int, direction: str) -> str:
    """Relative path of a flow file; ``direction`` is ``"future"`` or ``"past"``."""
    side = "L" if camera == "left" else "R"
    name = "Future" if direction == "future" else "Past"
    return f"{FLOW_DIR}/{scene}/into_{direction}/{camera}/OpticalFlowInto{name}_{index:04d}_{side}.pfm"


def cameras_for(camera: str) -> tuple[str, ...]:
    """``left`` / ``right`` / ``both`` -> the camera folders to read."""
    if camera == "both":
        return CAMERAS
    if camera in CAMERAS:
        return (camera,)
    raise ConfigError(f"--camera must be left, right or both, got {camera!r}")


def frames_dir(root: str | os.PathLike, render_pass: str = "clean") -> str:
    """The frames folder name under ``root``: ``frames_<pass>pass``, else its ``_webp`` variant.

    Raises InputError, saying what was expected and what was found, when ``root`` is not
    a Monkaa folder.
    """
    if render_pass not in PASSES:
        raise ConfigError(f"--pass must be clean or final, got {render_pass!r}")
    root = Path(root)
    names = (f"frames_{render_pass}pass", f"frames_{render_pass}pass_webp")
    fix = f"give --root the folder that holds {names[0]}/ and {FLOW_DIR}/ ({LAYOUT})"
    if not root.is_dir():
        raise InputError(root, f"not a Monkaa folder: found {describe_folder(root)}", fix)
    found = [n for n in names if (root / n).is_dir()]
    has_flow = (root / FLOW_DIR).is_dir()
    if found and has_flow:
        return found[0]
    # Say what is there, and guess the common mistakes.
    if root.name in names or root.name == FLOW_DIR:
        raise InputError(root, f"this is the {root.name}/ folder itself, not the Monkaa root",
                         f"give --root its parent folder, which should hold {names[0]}/ and {FLOW_DIR}/")
    other = [f"frames_{p}pass{w}" for p in PASSES if p != render_pass for w in ("", "_webp")]
    if has_flow and any((root / o).is_dir() for o in other):
        raise InputError(root, f"no {names[0]}/ (or {names[1]}/) here, only the other render pass",
                         f"pass --pass {'final' if render_pass == 'clean' else 'clean'} or add the {render_pass} pass")
    missing = [f"{names[0]}/ (or {names[1]}/)"] if not found else []
    if not has_flow:
        missing.append(f"{FLOW_DIR}/")
    raise InputError(root, f"not a Monkaa folder: expected {' and '.join(missing)}, found {describe_folder(root)}", fix)


def _frame_numbers(folder: Path) -> dict[int, str]:
    out: dict[int, str] = {}
    for p in folder.iterdir():
        m = _FRAME_RE.match(p.name)
        if m and p.is_file():
            out[int(m.group(1))] = p.name
    return out


def find_pairs(root: str | os.PathLike, *, render_pass: str = "clean", camera: str = "left") -> tuple[list[MonkaaPair], list[dict]]:
    """Every pair of consecutive frame numbers under ``root``, sorted by key.

    Returns ``(pairs, notes)``: ``notes`` are planned skips (``{"key", "reason", ...}``)
    for camera folders with fewer than two frames. A frame number inside a folder's range
    whose file is absent still yields its pairs (making them reports the missing file).
    Raises InputError when ``root`` is not Monkaa or holds no frames at all.
    """
    root = Path(root)
    fdir = frames_dir(root, render_pass)
    cams = cameras_for(camera)
    pairs: list[MonkaaPair] = []
    notes: list[dict] = []
    base = root / fdir
    scenes = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    seen_any = False
    for scene in scenes:
        for cam in cams:
            folder = base / scene / cam
            if not folder.is_dir():
                notes.append({"key": f"monkaa/{scene}/{cam}", "reason": f"no {fdir}/{scene}/{cam}/ folder"})
                continue
            numbers = _frame_numbers(folder)
            if numbers:
                seen_any = True
            if len(numbers) < 2:
                notes.append({"key": f"monkaa/{scene}/{cam}",
                              "reason": f"{fdir}/{scene}/{cam}/ holds {len(numbers)} frame(s); a pair needs two"})
                continue
            exts = {Path(n).suffix for n in numbers.values()}
            ext = sorted(exts)[0]
            digits = max(4, *(len(Path(n).stem) for n in numbers.values()))
            lo, hi = min(numbers), max(numbers)
            for i in range(lo, hi):
                name0 = numbers.get(i, f"{i:0{digits}d}{ext}")
                name1 = numbers.get(i + 1, f"{i + 1:0{digits}d}{ext}")
                pairs.append(MonkaaPair(
                    scene, cam, i,
                    f"{fdir}/{scene}/{cam}/{name0}", f"{fdir}/{scene}/{cam}/{name1}",
                    flow_path(scene, cam, i, "future"), flow_path(scene, cam, i + 1, "past"),
                ))
    if not seen_any:
        raise InputError(base, f"no frames found for camera {camera} (found {describe_folder(base)})",
                         f"expected {fdir}/<scene>/{{left,right}}/NNNN.png")
    pairs.sort(key=lambda p: p.key)
    return pairs, notes


# ----------------------------------------------------------------------------- splits
PAPER_TRAIN = 10_000
PAPER_TEST = 1_200


def split_rank(key: str, seed: int) -> bytes:
    """The ordering value of a pair: ``sha256("<seed>/<key>")``."""
    return hashlib.sha256(f"{int(seed)}/{key}".encode("utf-8")).digest()


def split_pairs(keys: list[str], *, n_train: int = PAPER_TRAIN, n_test: int = PAPER_TEST,
                seed: int = 0) -> dict[str, str]:
    """``{key: "train" | "test"}`` for the selected keys (unselected keys are absent).

    Keys are ranked by :func:`split_rank`. With at least ``n_train + n_test`` keys, the
    first ``n_test`` are ``test`` and the next ``n_train`` ``train``; the rest are left
    out. With fewer keys (a small download, one camera, the bundled sample) all are kept
    and the first ``round(N * n_test / (n_train + n_test))`` are ``test``, at least one
    when there are two keys or more. The same keys and seed always give the same split,
    whatever their order.
    """
    if n_train < 0 or n_test < 0 or n_train + n_test == 0:
        raise ConfigError(f"split sizes must be >= 0 and not both 0, got train {n_train}, test {n_test}")
    ranked = sorted(set(keys), key=lambda k: split_rank(k, seed))
    n = len(ranked)
    if n >= n_train + n_test:
        k_test, k_train = n_test, n_train
    else:
        k_test = int(round(n * n_test / (n_train + n_test)))
        if n_test > 0 and n >= 2:
            k_test = max(1, k_test)
        if n_train > 0 and n >= 2:
            k_test = min(k_test, n - 1)
        k_train = n - k_test
    out = {k: "test" for k in ranked[:k_test]}
    out.update({k: "train" for k in ranked[k_test:k_test + k_train]})
    return out
