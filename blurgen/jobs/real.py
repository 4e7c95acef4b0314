"""The ``real`` job: real blur from high-speed frames or videos, with pseudo-GT flow.

One sample = one window of ``window`` consecutive frames (7 at 240 fps, about 30 fps
blur): the frames are averaged (``blurgen.synth.average``) and the flow between the
window's first and last frame is estimated both ways (``blurgen.flow``), with a
forward-backward consistency mask.

Sample arrays: ``blur`` (H, W, 3) uint8; ``flow`` first -> last and ``flow_bwd`` last ->
first, (H, W, 2) float32 px; ``valid`` (H, W) uint8, 1 where ``flow`` is forward-backward
consistent, on the first frame's grid (``fb_consistency(flow, flow_bwd)``); ``valid_bwd``
(H, W) uint8, the same for ``flow_bwd`` on the last frame's grid
(``fb_consistency(flow_bwd, flow)``); with ``store_ends`` also ``first`` and ``last``
(H, W, 3) uint8.

Keys: ``gopro/<train|test folder>/<sequence>/<first>``, ``nfs/<sequence>/<first>``,
``video/<name>/<first>``, ``frames/<relative folder>/<first>``; ``<first>`` is the window's
first frame number, zero-padded as in the file names (6 digits for videos).

Bad input: gaps in the numbering and the end of a truncated video are planned skips
(:meth:`RealJob.planned_skips`); an unreadable, corrupt or differently sized frame, or a
window ffmpeg cannot decode, raises InputError when the sample is made.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from blurgen import flow
from blurgen.errors import ConfigError, InputError
from blurgen.io.frames import common_size, read_image
from blurgen.io.video import probe_video
from blurgen.jobs._params import config_from_params
from blurgen.jobs.base import PlannedJob, Task
from blurgen.shards.schema import Sample
from blurgen.sources import gopro, nfs
from blurgen.sources.frames import FrameSequence, find_frame_sequences
from blurgen.sources.splits import find_split_file, read_split_file
from blurgen.sources.video import TIME_TOL, VideoFile, find_videos, frame_times, read_window, time_tolerance
from blurgen.sources.windows import check_window, plan_stream_windows, plan_windows
from blurgen.synth.average import MODES as AVERAGING_MODES
from blurgen.synth.average import Accumulator, Averaging, check_crf, load_crf

SOURCES = ("gopro", "nfs", "video", "frames")
NO_FLOW = "none"
FLOW_MODES = ("direct", "chained", "chained-init")
VIDEO_DIGITS = 6


@dataclass(frozen=True)
class RealConfig:
    """Settings of a real-blur run (``params`` of the job; JSON, no absolute paths).

    source: one of SOURCES. window: frames per sample; stride: frames between window
    starts (None = window, non-overlapping). averaging: ``srgb`` | ``gamma`` | ``crf``;
    crf: the ``(256, 3)`` inverse response table as nested lists (None = the default
    sRGB table), crf_name: the file it came from (recorded only). flow_model: a
    ``blurgen.flow`` estimator name, or ``"none"`` (no labels: for timing only, shards
    need flow); flow_ckpt: its checkpoint (None = the estimator's default); flow_mode:
    ``direct`` | ``chained`` | ``chained-init``. fps: frame rate recorded in the samples
    (None = the source's: 240 for gopro and nfs, the container's for videos, unknown for
    frames). split_file: the split list's name or file name (recorded only); splits:
    ``{sequence: split}`` read from it (None = the source's standard list). store_ends:
    also store the sharp first and last frames. device: for learned flow models. file:
    video source only: the one video file (a name under the root) when ``--root`` named a
    file; the job's root is then its folder (so a manifest records a folder). valid_bwd:
    store the backward flow's own consistency mask. Params without it (a manifest written
    before blurgen stored the mask) read as False, so ``rerun`` of such a manifest makes
    the same samples; every run records it.
    """

    source: str
    window: int = 7
    stride: int | None = None
    averaging: str = "srgb"
    crf: list | None = None
    crf_name: str | None = None
    flow_model: str = "pwcnet"
    flow_ckpt: str | None = None
    flow_mode: str = "direct"
    fps: float | None = None
    split_file: str | None = None
    splits: dict[str, str] | None = field(default=None)
    store_ends: bool = False
    device: str | None = None
    file: str | None = None
    valid_bwd: bool = True

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ConfigError(f"unknown source {self.source!r}; choose one of {', '.join(SOURCES)}")
        window, stride = check_window(self.window, self.stride)
        object.__setattr__(self, "window", window)
        object.__setattr__(self, "stride", stride)
        if window < 2:
            raise ConfigError(f"--window must be at least 2 frames (flow needs two ends), got {window}")
        if self.averaging not in AVERAGING_MODES:
            raise ConfigError(f"unknown averaging {self.averaging!r}; choose one of {', '.join(AVERAGING_MODES)}")
        if self.crf is not None and self.averaging != "crf":
            raise ConfigError("--crf-file is only used with --averaging crf")
        if self.flow_mode not in FLOW_MODES:
            raise ConfigError(f"unknown --flow-mode {self.flow_mode!r}; choose one of {', '.join(FLOW_MODES)}")
        if self.file is not None and (self.source != "video" or "/" in self.file or self.file in ("", ".", "..")):
            raise ConfigError(f"'file' names one video in the root folder (video source only), got {self.file!r}")
        if self.fps is not None and not (float(self.fps) > 0):
            raise ConfigError(f"--fps must be positive, got {self.fps}")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "RealConfig":

        if "source" not in params:
            raise ConfigError("the real job needs a source (--source gopro|nfs|video|frames)")
        if "valid_bwd" not in params:  # a manifest from before the backward mask existed
            params = {**params, "valid_bwd": False}
        return config_from_params(cls, params, "real-job")

    def to_params(self) -> dict[str, Any]:
        return asdict(self)


def _key_index(i: int, digits: int) -> str:
    return f"{i:0{digits}d}"


class RealJob(PlannedJob):
    """Job of kind ``real`` (the interface: ``blurgen.jobs.base.Job``)."""

    kind = "real"

    def __init__(self, config: RealConfig, root: Path):
        self.config = config
        self.root = Path(root)
        self.params = config.to_params()
        crf = None if config.crf is None else check_crf(np.asarray(config.crf, dtype=np.float64),
                                                       config.crf_name or "crf table")
        self.averaging = Averaging(config.averaging, crf)
        self._estimator = None
        if config.flow_model != NO_FLOW:
            self._estimator = self._build_estimator()

    # -- flow -------------------------------------------------------------------------
    def _build_estimator(self):

        c = self.config
        if flow.is_classical(c.flow_model):
            return flow.get_estimator(c.flow_model, ckpt=c.flow_ckpt)
        return flow.get_estimator(c.flow_model, ckpt=c.flow_ckpt, device=c.device)

    @property
    def estimator(self):
        """The flow estimator (None for ``flow_model = "none"``)."""
        return self._estimator

    def checkpoints(self) -> list[str]:
        est = self._estimator
        path = getattr(est, "checkpoint_path", None) if est is not None else None
        return [str(path)] if path is not None else []

    # -- planning ---------------------------------------------------------------------
    def _sequences(self) -> list[FrameSequence]:
        c = self.config
        if c.source == "gopro":

            splits = c.splits if c.splits is not None else read_split_file(gopro.DEFAULT_SPLIT_FILE)
            return gopro.find_sequences(self.root, splits)
        if c.source == "nfs":

            splits = c.splits if c.splits is not None else read_split_file(nfs.DEFAULT_SPLIT_FILE)
            return nfs.find_sequences(self.root, splits)

        splits = c.splits or {}
        return find_frame_sequences(self.root, lambda name: splits.get(name, splits.get(Path(name).name, "train")))

    def _source_fps(self) -> float | None:
        if self.config.fps is not None:
            return float(self.config.fps)
        if self.config.source in ("gopro", "nfs"):
            return 240.0
        return None

    def _plan_frames(self) -> tuple[list[Task], list[dict]]:

        c = self.config
        tasks: list[Task] = []
        skips: list[dict] = []
        for seq in self._sequences():
            prefix = f"{c.source}/{seq.name}"
            for name in seq.ignored:  # bad input: --on-error fail stops here, skip records it
                rel = name if seq.folder == "." else f"{seq.folder}/{name}"
                skips.append({"key": f"{prefix}/{name}", "kind": "input-error", "path": rel,
                              "reason": "frame file name has no number (rename it to hold its frame number, "
                                        "or move it out of the folder)"})
            windows, dropped = plan_windows(seq.indices, c.window, c.stride)
            if not windows and not dropped:
                skips.append({"key": prefix, "reason": f"sequence has {len(seq.frames)} frame(s), "
                              f"fewer than a window of {c.window}", "folder": seq.folder})
                continue
            for d in dropped:
                skips.append({"key": f"{prefix}/{_key_index(d.first, seq.digits)}", "reason": d.reason,
                              "frames": [d.first, d.present[-1]], "missing": list(d.gap)})
            size, errors = common_size([self.root / seq.relpath(i) for i in seq.indices])
            if size is None:
                for w in windows:
                    skips.append({"key": f"{prefix}/{_key_index(w.first, seq.digits)}", "kind": "input-error",
                                  "reason": f"no readable frame header in the sequence: {errors[0]}"})
                continue
            for w in windows:
                key = f"{prefix}/{_key_index(w.first, seq.digits)}"
                tasks.append(Task(key, seq.split, tuple(size), {
                    "sequence": seq.sequence, "folder": seq.folder,
                    "files": [seq.relpath(i) for i in w.frames], "frames": [w.first, w.last],
                }))
        return tasks, skips

    def _plan_video(self) -> tuple[list[Task], list[dict]]:

        c = self.config
        tasks: list[Task] = []
        skips: list[dict] = []
        videos = find_videos(self.root / c.file if c.file else self.root)
        if c.file:
            videos = [VideoFile(v.name, c.file) for v in videos]
        splits = c.splits or {}
        failures = []
        for v in videos:
            path = self.root / v.path
            prefix = f"video/{v.name}"
            try:
                info = probe_video(path)
                times = frame_times(path)
            except InputError as e:
                failures.append(e)
                skips.append({"key": prefix, "kind": "input-error", "reason": str(e), "file": v.path, "path": v.path})
                continue
            n = len(times.times)
            split = splits.get(v.name, splits.get(Path(v.name).name, "train"))
            tol = time_tolerance(times)
            windows = plan_stream_windows(n, c.window, c.stride)
            for w in windows:
                tasks.append(Task(f"{prefix}/{_key_index(w.first, VIDEO_DIGITS)}", split, (info.height, info.width), {
                    "sequence": v.name, "video": v.path, "frames": [w.first, w.last],
                    "seek": times.seek_position(w.first),
                    "times": list(times.times[w.first:w.last + 1]), "tol": tol,
                    "container_fps": info.fps,
                }))
            listed = max(info.n_frames, n)
            if listed > n or times.partial:
                reason = (f"video truncated: the container lists {info.n_frames} frames, "
                          f"the file holds {n}" if info.n_frames > n else
                          "video truncated: the data ends inside the last frame")
                start = windows[-1].first + c.stride if windows else 0
                for s in range(start, listed - c.window + 1, c.stride):
                    skips.append({"key": f"{prefix}/{_key_index(s, VIDEO_DIGITS)}", "kind": "input-error",
                                  "reason": reason, "path": v.path, "frames": [s, s + c.window - 1]})
        if failures and len(failures) == len(videos):
            raise failures[0]
        return tasks, skips

    def _plan(self) -> tuple[list[Task], list[dict]]:
        return self._plan_video() if self.config.source == "video" else self._plan_frames()

    def inputs(self) -> list[str]:
        files: set[str] = set()
        for t in self._planned()[0]:
            if "files" in t.payload:
                files.update(t.payload["files"])
            else:
                files.add(t.payload["video"])
        return sorted(files)

    # -- making -----------------------------------------------------------------------
    def make(self, task: Task, rng: np.random.Generator | None = None) -> Sample:
        """Make one sample (``rng`` is unused: the real job draws nothing at random)."""
        return self.make_timed(task)[0]

    def make_timed(self, task: Task) -> tuple[Sample, dict[str, float]]:
        """:meth:`make`, also returning seconds spent per stage: decode, average, flow."""
        c = self.config
        p = task.payload
        times = {"decode": 0.0, "average": 0.0, "flow": 0.0}
        acc = Accumulator(self.averaging)
        keep_all = c.flow_mode != "direct" and c.flow_model != NO_FLOW
        kept: list[np.ndarray] = []
        names: list[str] = []
        how = None
        if "files" in p:
            files = p["files"]
            for k, rel in enumerate(files):
                t0 = time.perf_counter()
                img = self._read_frame(rel, task.size)
                t1 = time.perf_counter()
                acc.add(img)
                times["decode"] += t1 - t0
                times["average"] += time.perf_counter() - t1
                if keep_all or k in (0, len(files) - 1):
                    kept.append(img)
                    names.append(rel)
        else:

            path = self.root / p["video"]
            first, last = p["frames"]
            t0 = time.perf_counter()
            frames, how = read_window(path, first, last - first + 1, tuple(task.size), p.get("seek"),
                                      p.get("times"), p.get("tol", TIME_TOL))
            times["decode"] += time.perf_counter() - t0
            t1 = time.perf_counter()
            for f in frames:
                acc.add(f)
            times["average"] += time.perf_counter() - t1
            kept = frames if keep_all else [frames[0], frames[-1]]
            names = [f"{p['video']}#{i}" for i in (range(first, last + 1) if keep_all else (first, last))]
        t0 = time.perf_counter()
        blur = acc.result()
        times["average"] += time.perf_counter() - t0
        arrays = {"blur": blur}
        if c.flow_model != NO_FLOW:

            t0 = time.perf_counter()
            fwd, bwd = flow.estimate_window(self._estimator, kept, c.flow_mode, names)
            arrays.update(flow=np.ascontiguousarray(fwd, np.float32), flow_bwd=np.ascontiguousarray(bwd, np.float32),
                          valid=flow.fb_consistency(fwd, bwd))  # first frame's grid
            if c.valid_bwd:
                arrays["valid_bwd"] = flow.fb_consistency(bwd, fwd)  # last frame's grid
            times["flow"] += time.perf_counter() - t0
        if c.store_ends:
            arrays.update(first=kept[0], last=kept[-1])
        return Sample(task.key, arrays, self._meta(task, how)), times

    def _read_frame(self, rel: str, size: tuple[int, int]) -> np.ndarray:

        path = self.root / rel
        img = read_image(path)
        if tuple(img.shape[:2]) != tuple(size):
            h, w = size
            raise InputError(path, f"frame is {img.shape[1]}x{img.shape[0]} but its sequence's frames are {w}x{h}",
                             "frames of one sequence must have one size")
        return img

    def _meta(self, task: Task, how: str | None) -> dict[str, Any]:
        c = self.config
        p = task.payload
        fps = self._source_fps()
        if fps is None and "container_fps" in p:
            fps = float(p["container_fps"])
        meta: dict[str, Any] = {
            "source": c.source,
            "sequence": p["sequence"],
            "split": task.split,
            "frames": list(p["frames"]),
            "window": c.window,
            "stride": c.stride,
            "averaging": c.averaging,
            "fps": fps,
            "estimator": None if self._estimator is None else self._estimator.label,
            "flow_ckpt": None if self._estimator is None else self._estimator.checkpoint,
            "flow_mode": None if self._estimator is None else c.flow_mode,
        }
        if c.averaging == "crf":
            meta["crf"] = c.crf_name or "default-srgb"
        if "video" in p:
            meta["video"] = p["video"]
            meta["decode"] = how
            if c.fps is not None:
                meta["container_fps"] = p["container_fps"]
        else:
            meta["folder"] = p["folder"]
        return meta


def build(params: dict[str, Any], root: Path | None) -> RealJob:
    """``build_job("real", params, root)``: the job from its JSON params and input root."""
    if root is None:
        raise ConfigError("the real job needs an input root (--root)")
    root = Path(root)
    if params.get("source") == "video" and root.is_file() and not params.get("file"):
        params = {**params, "file": root.name}
        root = root.parent
    return RealJob(RealConfig.from_params(params), root)


# -- settings from a recipe and the command-line flags (blurgen.jobs.prepare_job) -------------
# The recipe per source when none is given: the paper's settings for its datasets, generic
# ones for yours.
DEFAULT_RECIPES = {"gopro": "gopro", "nfs": "nfs", "video": "video", "frames": "video"}
RECIPE_SECTION = "real"
# recipe [real] keys the flags override
FLAG_KEYS = ("window", "stride", "averaging", "flow_model", "flow_ckpt", "flow_mode", "fps", "store_ends", "device")


def default_recipe(flags: dict[str, Any]) -> str:
    """The recipe name for ``flags["source"]`` when none is given."""
    source = flags.get("source")
    if source not in DEFAULT_RECIPES:
        raise ConfigError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    return DEFAULT_RECIPES[source]


def params_from(recipe: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """The job params from the recipe's ``[real]`` section and the command-line flags.

    ``flags`` holds the options as given (None = not given), with ``source`` required.
    Giving ``--flow-model`` without ``--flow-ckpt`` drops the recipe's checkpoint (it
    belongs to the recipe's model); ``--window`` without ``--stride`` likewise drops the
    recipe's stride. Reads ``--split-file`` and ``--crf-file`` (their contents go into the
    params, so a rerun needs only the manifest). Settings that would not act are refused
    with one line (``ConfigError``).
    """
    section = _recipe_section(recipe)
    if flags.get("flow_model") is not None and flags.get("flow_ckpt") is None:
        section.pop("flow_ckpt", None)
    if flags.get("window") is not None and flags.get("stride") is None:
        section.pop("stride", None)  # the stride defaults to the window given
    for k in FLAG_KEYS:
        if flags.get(k) is not None:
            section[k] = flags[k]
    params = {k: section[k] for k in FLAG_KEYS if section.get(k) is not None}
    params["source"] = flags.get("source")
    params["valid_bwd"] = True  # absent only in manifests from before the backward mask
    split_file = flags.get("split_file") or section.get("split_file")
    if split_file:
        params["splits"] = read_split_file(split_file)
        params["split_file"] = find_split_file(split_file).name
    crf_file = flags.get("crf_file") or section.get("crf_file")
    if crf_file:
        if params.get("averaging", "srgb") != "crf":
            raise ConfigError("--crf-file needs --averaging crf")
        params["crf"] = load_crf(crf_file).tolist()
        params["crf_name"] = Path(crf_file).name
    _check_device(params, flags)
    if params.get("flow_model") == NO_FLOW:
        raise ConfigError(
            "--flow-model none makes no flow labels, and shards need them "
            "(use --flow-model dis for fast offline labels; benchmarks/real.py times blur-only making)"
        )
    return params


def recipe_section(params: dict[str, Any]) -> dict[str, Any]:
    """The ``[real]`` section as the job runs it, recorded in the manifest's recipe (the
    split list and the CRF table are in the params; their file names are recorded)."""
    return {k: v for k, v in params.items() if k not in ("splits", "crf")}


def _recipe_section(recipe: dict[str, Any]) -> dict[str, Any]:
    """A copy of the recipe's ``[real]`` section less ``source`` (the flag decides it);
    an unknown key is refused."""
    section = dict(recipe.get(RECIPE_SECTION, {}))
    known = set(FLAG_KEYS) | {"source", "split_file", "crf_file"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"recipe [real] has unknown key(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    section.pop("source", None)
    return section


def _check_device(params: dict[str, Any], flags: dict[str, Any]) -> None:
    """A device only matters to learned flow models: refuse one given for a classical
    estimator (by the flag, or by a recipe naming that estimator itself); drop the recipe's
    device when ``--flow-model`` replaced the recipe's model."""
    model = params.get("flow_model", "pwcnet")
    if params.get("device") is None or not (model == NO_FLOW or flow.is_classical(model)):
        return
    if flags.get("device") is not None:
        raise ConfigError(f"--device has no effect here: it applies to learned flow models; {model} runs on the CPU")
    if flags.get("flow_model") is None:
        raise ConfigError(f"recipe [real] device = {params['device']!r} has no effect: {model} "
                          "runs on the CPU; remove it from the recipe")
    del params["device"]
