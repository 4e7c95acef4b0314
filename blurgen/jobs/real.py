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

Videos: a run that covers consecutive windows of a video (the default stride, no
``--limit``) makes them in groups (:meth:`RealJob.groups`), each group's frames decoded
as one stream (:class:`blurgen.sources.video.WindowStream`) inside :meth:`RealJob.group`;
the frames, and so the samples, are those a seek per window gives.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from blurgen import flow
from blurgen.errors import ConfigError, InputError
from blurgen.io.frames import common_size, read_image
from blurgen.io.video import probe_video
from blurgen.jobs.base import PlannedJob, Task
from blurgen.jobs.real_config import (  # noqa: F401 - the settings functions prepare_job looks up here
    FLAG_KEYS, NO_FLOW, RECIPE_SECTION, SOURCES, VIDEO_DIGITS, RealConfig, default_recipe, label_calibration, params_from,
    recipe_section,
)
from blurgen.jobs.real_stream import GROUP_MAX, GROUP_MIN, stream_groups  # noqa: F401 - GROUP_*: the group sizes
from blurgen.quality.label import label_quality
from blurgen.shards.schema import Sample
from blurgen.sources import gopro, nfs
from blurgen.sources.frames import FrameSequence, find_frame_sequences
from blurgen.sources.splits import read_split_file
from blurgen.sources.video import (
    TIME_TOL, VideoFile, WindowStream, find_videos, frame_times, read_window, time_tolerance,
)
from blurgen.sources.windows import plan_stream_windows, plan_windows
from blurgen.synth.average import Accumulator, Averaging, check_crf

# Published datasets of frame folders: source name -> its module, with ``find_sequences(root,
# splits) -> list[FrameSequence]``, ``DEFAULT_SPLIT_FILE`` and ``FPS`` (docs/internals.md:
# adding a source). ``frames`` (any folder of numbered frames) and ``video`` are built in.
DATASETS = {"gopro": gopro, "nfs": nfs}


def _key_index(i: int, digits: int) -> str:
    return f"{i:0{digits}d}"


class RealJob(PlannedJob):
    """Job of kind ``real`` (the interface: ``blurgen.jobs.base.Job``)."""

    kind = "real"

    def __init__(self, config: RealConfig, root: Path):
        self.root = Path(root)
        crf = None if config.crf is None else check_crf(np.asarray(config.crf, dtype=np.float64),
                                                       config.crf_name or "crf table")
        self.averaging = Averaging(config.averaging, crf)
        self._estimators = []
        self._stream: WindowStream | None = None
        if config.flow_model != NO_FLOW:
            self._estimators = [self._build_estimator(config, m) for m in config.models]
        self._estimator = self._estimators[0] if self._estimators else None
        if config.quality:
            config = replace(config, calibration=label_calibration(config, [e.label for e in self._estimators]))
        self.config = config
        self.params = config.to_params()

    # -- flow -------------------------------------------------------------------------
    @staticmethod
    def _build_estimator(c: RealConfig, model: str):

        if flow.is_classical(model):
            return flow.get_estimator(model, ckpt=None if len(c.models) > 1 else c.flow_ckpt)
        return flow.get_estimator(model, ckpt=c.flow_ckpt, device=c.device)

    @property
    def estimator(self):
        """The flow estimator of the label (None for ``flow_model = "none"``)."""
        return self._estimator

    @property
    def estimators(self) -> list:
        """Every flow estimator of the run, the label's first ([] for ``flow_model = "none"``)."""
        return list(self._estimators)

    def checkpoints(self) -> list[str]:
        paths = [getattr(e, "checkpoint_path", None) for e in self._estimators]
        return [str(p) for p in paths if p is not None]

    # -- planning ---------------------------------------------------------------------
    def _sequences(self) -> list[FrameSequence]:
        c = self.config
        if c.source in DATASETS:
            source = DATASETS[c.source]
            splits = c.splits if c.splits is not None else read_split_file(source.DEFAULT_SPLIT_FILE)
            return source.find_sequences(self.root, splits)
        splits = c.splits or {}
        return find_frame_sequences(self.root, lambda name: splits.get(name, splits.get(Path(name).name, "train")))

    def _source_fps(self) -> float | None:
        if self.config.fps is not None:
            return float(self.config.fps)
        if self.config.source in DATASETS:
            return DATASETS[self.config.source].FPS
        return None

    def _plan_frames(self) -> tuple[list[Task], list[dict]]:
        c = self.config
        tasks: list[Task] = []
        skips: list[dict] = []
        for seq in self._sequences():
            prefix = f"{c.source}/{seq.name}"
            for name, reason in seq.ignored:  # bad input: --on-error fail stops here, skip records it
                rel = name if seq.folder == "." else f"{seq.folder}/{name}"
                skips.append({"key": f"{prefix}/{name}", "kind": "input-error", "path": rel, "reason": reason})
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
                    "container_fps": info.fps, "after_key": times.keyframe_between(w.first - c.window, w.first),
                }))
            listed = max(info.n_frames, n)
            if listed < c.window:
                skips.append({"key": prefix, "reason": f"video has {listed} frame(s), fewer than a window of "
                              f"{c.window}", "file": v.path})
            elif listed > n or times.partial:
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

    # -- stream groups (videos) ---------------------------------------------------------
    def groups(self, tasks: list[Task]) -> list[list[int]] | None:
        """Indices into ``tasks`` grouped to be made together, each group's frames decoded
        as one stream (``jobs.real_stream.stream_groups``: runs of at least GROUP_MIN
        consecutive windows of a video); None for frame sources and other strides."""
        c = self.config
        if c.source != "video" or c.stride != c.window:
            return None
        return stream_groups(tasks)

    @contextlib.contextmanager
    def group(self, tasks: list[Task]):
        """While the body makes ``tasks`` (one group of :meth:`groups`, in order), their
        frames come from one :class:`WindowStream` (a single task: no stream, a seek)."""
        if len(tasks) < 2 or "video" not in tasks[0].payload:
            yield
            return
        p = tasks[0].payload
        n_frames = tasks[-1].payload["frames"][1] - p["frames"][0] + 1
        try:
            self._stream = WindowStream(self.root / p["video"], p["frames"][0], n_frames, tuple(tasks[0].size),
                                        p["seek"])
        except (InputError, OSError):  # no stream: each window seeks, and says what is wrong
            yield
            return
        try:
            yield
        finally:
            self._stream.close()
            self._stream = None

    def _video_window(self, task: Task) -> tuple[list[np.ndarray], str]:
        """The window's frames and how they were found (``seek``: by a checked seek, the
        window's own or its stream group's)."""
        p = task.payload
        first, last = p["frames"]
        if self._stream is not None and self._stream.path == self.root / p["video"]:
            frames = self._stream.window(first, last - first + 1, p["times"], p.get("tol", TIME_TOL))
            if frames is not None:
                return frames, "seek"
        return read_window(self.root / p["video"], first, last - first + 1, tuple(task.size), p.get("seek"),
                           p.get("times"), p.get("tol", TIME_TOL))

    # -- making -----------------------------------------------------------------------
    def make(self, task: Task, rng: np.random.Generator | None = None) -> Sample:
        """Make one sample (``rng`` is unused: the real job draws nothing at random)."""
        return self.make_timed(task)[0]

    def make_timed(self, task: Task) -> tuple[Sample, dict[str, float]]:
        """:meth:`make`, also returning seconds spent per stage: decode, average, flow (every
        estimator and the masks), quality (the uncertainty maps and estimates)."""
        c = self.config
        p = task.payload
        times = {"decode": 0.0, "average": 0.0, "flow": 0.0, "quality": 0.0}
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

            first, last = p["frames"]
            t0 = time.perf_counter()
            frames, how = self._video_window(task)
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
            others = [flow.estimate_window(e, kept, c.flow_mode, names) for e in self._estimators[1:]]
            times["flow"] += time.perf_counter() - t0
        meta = self._meta(task, how)
        if c.quality:
            self._add_quality(kept, fwd, bwd, others, arrays, meta, times)
        if c.store_ends:
            arrays.update(first=kept[0], last=kept[-1])
        return Sample(task.key, arrays, meta), times

    def _add_quality(self, kept, fwd, bwd, others, arrays: dict, meta: dict, times: dict) -> None:
        """The label's uncertainty maps into ``arrays``, its estimates into ``meta``
        (``blurgen.quality.label``), their seconds into ``times["quality"]``."""
        t0 = time.perf_counter()
        q_arrays, q_meta = label_quality(kept[0], kept[-1], fwd, bwd, self.config.calibration, others)
        arrays.update(q_arrays)
        meta.update(q_meta)
        times["quality"] += time.perf_counter() - t0

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
        if len(self._estimators) > 1:
            meta["estimators"] = [e.label for e in self._estimators]
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
