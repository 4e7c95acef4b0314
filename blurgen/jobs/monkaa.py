"""The ``synth-monkaa`` job: synthetic blur from Monkaa frame pairs and their exact flow.

One sample = one pair ``(t, t + 1)`` (``blurgen.sources.monkaa``). The rule of the
B2F-net paper: ``s`` = the largest displacement (L2, pixels) of the flow ``t -> t+1``;
pairs with ``s > max_s`` (100) are skipped and recorded with their ``s``; otherwise
``n = max(ceil(s), min_n)`` frames are interpolated at ``k / (n + 1)`` and averaged with
the two end frames (``blurgen.synth``).

Sample arrays: ``blur`` (H, W, 3) uint8; ``flow`` t -> t+1 and ``flow_bwd`` t+1 -> t,
(H, W, 2) float32 px (the ground truth); with ``store_ends`` also ``first``, ``last``.
Meta: source, scene, camera, index, frames, pass, s, n, interpolator, split.

Bad input (a missing or unreadable frame or PFM, non-finite flow, sizes that differ)
raises InputError naming the file when the pair is made.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from blurgen.errors import ConfigError, InputError, SkipSample
from blurgen.io.frames import common_size, read_image
from blurgen.io.pfm import read_pfm_flow
from blurgen.jobs.base import PlannedJob, Task
from blurgen.jobs.monkaa_config import (  # noqa: F401 - the settings functions prepare_job looks up here
    FLAG_KEYS,
    MOTIONS,
    RECIPE_SECTION,
    MonkaaConfig,
    default_recipe,
    params_from,
    recipe_section,
)
from blurgen.quality import calibration as calib
from blurgen.quality import fidelity
from blurgen.shards.schema import Sample
from blurgen.sources import monkaa as src
from blurgen.synth.blur import synthesize_blur, to_uint8
from blurgen.synth.interpolate import (
    FlowGuidedInterpolator,
    LinearInterpolator,
    SuperSloMoInterpolator,
    frame_count,
    max_displacement,
)
from blurgen.synth.scene import accelerations


class MonkaaJob(PlannedJob):
    """Job of kind ``synth-monkaa`` (the interface: ``blurgen.jobs.base.Job``)."""

    kind = "synth-monkaa"

    def __init__(self, config: MonkaaConfig, root: Path):
        if config.quality and config.calibration is None:
            config = replace(config, calibration=calib.find("fidelity", config.quality_key))
        self.config = config
        self.root = Path(root)
        self.params = config.to_params()
        self._interp = None
        if config.interpolator == "superslomo":
            # Load (and so check) the weights before any sample is made: a refused or
            # mismatched checkpoint stops the run here, whatever --on-error says.
            self.interpolator()

    # -- planning ---------------------------------------------------------------------
    def _plan(self) -> tuple[list[Task], list[dict]]:
        c = self.config
        pairs, notes = src.find_pairs(self.root, render_pass=c.render_pass, camera=c.camera)
        skips = [dict(n) for n in notes]
        split = src.split_pairs([p.key for p in pairs], n_train=c.n_train, n_test=c.n_test, seed=c.split_seed)
        sizes: dict[tuple[str, str], tuple[int, int] | None] = {}
        tasks: list[Task] = []
        unselected = 0
        for p in pairs:
            if p.key not in split:
                unselected += 1
                continue
            folder = (p.scene, p.camera)
            if folder not in sizes:
                sizes[folder] = self._folder_size(p)
            size = sizes[folder]
            if size is None:
                skips.append({"key": p.key, "kind": "input-error", "path": Path(p.frame0).parent.as_posix(),
                              "reason": f"no readable frame in {Path(p.frame0).parent.as_posix()}/"})
                continue
            payload = {
                "scene": p.scene, "camera": p.camera, "index": p.index,
                "frame0": p.frame0, "frame1": p.frame1, "flow01": p.flow01, "flow10": p.flow10,
            }
            if self._uses_neighbours():
                payload["flow0m"] = src.flow_path(p.scene, p.camera, p.index, "past")
                payload["flow12"] = src.flow_path(p.scene, p.camera, p.index + 1, "future")
            tasks.append(Task(p.key, split[p.key], size, payload))
        if unselected:
            skips.append({"key": "monkaa", "reason": f"{unselected} pair(s) not selected: the split takes "
                          f"{c.n_train} train + {c.n_test} test pairs (seed {c.split_seed})", "count": unselected})
        return tasks, skips

    def _uses_neighbours(self) -> bool:
        c = self.config
        return c.interpolator == "flow-guided" and c.method == "splat" and c.motion == "quadratic"

    def _folder_size(self, pair: src.MonkaaPair) -> tuple[int, int] | None:

        folder = self.root / Path(pair.frame0).parent
        return common_size(sorted(q for q in folder.iterdir() if q.is_file()))[0]

    def inputs(self) -> list[str]:
        files: set[str] = set()
        for t in self._planned()[0]:
            p = t.payload
            files.update(p[k] for k in ("frame0", "frame1", "flow01", "flow10", "flow0m", "flow12") if k in p)
        # A missing file is reported when its pair is made; hash only what exists.
        return sorted(f for f in files if (self.root / f).is_file())

    def checkpoints(self) -> list[str]:
        c = self.config
        if c.interpolator == "superslomo" and c.slomo_ckpt:
            return [str(Path(c.slomo_ckpt).resolve())]
        return []

    # -- making -----------------------------------------------------------------------
    def interpolator(self):
        """The interpolator (built once per process)."""
        if self._interp is None:
            c = self.config
            if c.interpolator == "flow-guided":
                self._interp = FlowGuidedInterpolator(c.method)
            elif c.interpolator == "linear":

                self._interp = LinearInterpolator()
            else:

                self._interp = SuperSloMoInterpolator.from_checkpoint(
                    c.slomo_ckpt, trust=c.trust_checkpoint, device=c.device, max_batch=c.slomo_batch)
        return self._interp

    def _read_flow(self, rel: str, size: tuple[int, int]) -> np.ndarray:

        path = self.root / rel
        if not path.is_file():
            raise InputError(path, "flow file missing", "every frame of a pair needs its into_future / into_past PFM")
        flow = read_pfm_flow(path)
        if tuple(flow.shape[:2]) != tuple(size):
            raise InputError(path, f"flow is {flow.shape[1]}x{flow.shape[0]} but the frames are {size[1]}x{size[0]}",
                             "flow and frames of a pair must have one size")
        return flow

    def _read_frame(self, rel: str, size: tuple[int, int]) -> np.ndarray:

        path = self.root / rel
        if not path.is_file():
            raise InputError(path, "frame missing", "a pair needs both of its frames")
        img = read_image(path)
        if tuple(img.shape[:2]) != tuple(size):
            raise InputError(path, f"frame is {img.shape[1]}x{img.shape[0]} but its camera folder's frames are "
                             f"{size[1]}x{size[0]}", "frames of one scene must have one size")
        return img

    def _accelerations(self, p: dict, size, flow01, flow10) -> tuple[dict, str | None]:
        """``({"accel0", "accel1"}, "quadratic")`` from the neighbour flows, or ``({}, "linear")``
        when a neighbour flow file is absent (the first or last frame of a download)."""

        if "flow0m" not in p:
            return {}, ("linear" if self.config.interpolator == "flow-guided" and self.config.method == "splat" else None)
        if not ((self.root / p["flow0m"]).is_file() and (self.root / p["flow12"]).is_file()):
            return {}, "linear"
        f0m = self._read_flow(p["flow0m"], size)
        f12 = self._read_flow(p["flow12"], size)
        a0, a1 = accelerations(flow01, f0m, flow10, f12)
        return {"accel0": a0, "accel1": a1}, "quadratic"

    def make(self, task: Task, rng: np.random.Generator | None = None) -> Sample:
        """Make one sample (``rng`` is unused: nothing is drawn at random)."""
        return self.make_timed(task)[0]

    def make_timed(self, task: Task) -> tuple[Sample, dict[str, float]]:
        """:meth:`make`, also returning seconds spent per stage: read (frames and flows),
        synth (interpolation and averaging), quality (the fidelity estimate)."""
        c = self.config
        p = task.payload
        size = tuple(task.size)
        times = {"read": 0.0, "synth": 0.0, "quality": 0.0}
        t0 = time.perf_counter()
        flow01 = self._read_flow(p["flow01"], size)
        s = max_displacement(flow01)
        if s > c.max_s:
            raise SkipSample(f"s > {c.max_s:g}", s=round(s, 3))
        n = frame_count(s, int(c.min_n))
        flow10 = self._read_flow(p["flow10"], size)
        img0 = self._read_frame(p["frame0"], size)
        img1 = self._read_frame(p["frame1"], size)
        extra, motion = self._accelerations(p, size, flow01, flow10)
        t1 = time.perf_counter()
        blur = to_uint8(synthesize_blur(self.interpolator(), img0, img1, flow01, flow10, n, **extra))
        times["read"], times["synth"] = t1 - t0, time.perf_counter() - t1
        arrays = {"blur": blur, "flow": flow01, "flow_bwd": flow10}
        if c.store_ends:
            arrays.update(first=img0, last=img1)
        meta = {
            "source": "monkaa",
            "scene": p["scene"],
            "camera": p["camera"],
            "index": int(p["index"]),
            "frames": [int(p["index"]), int(p["index"]) + 1],
            "pass": c.render_pass,
            "s": round(s, 4),
            "n": n,
            "interpolator": c.label,
            "split": task.split,
        }
        if motion is not None:
            meta["motion"] = motion
        if c.quality:
            t0 = time.perf_counter()
            sig = fidelity.signals(img0, img1, flow01, flow10, fidelity.stored_signals(c.calibration))
            meta.update(fidelity.fidelity_meta(sig, meta["s"], c.calibration))
            times["quality"] = time.perf_counter() - t0
        return Sample(task.key, arrays, meta), times

    def __getstate__(self):
        # Workers get the job once per call: leave the plan and any loaded network behind.
        state = super().__getstate__()
        state["_interp"] = None
        return state


def build(params: dict[str, Any], root: Path | None) -> MonkaaJob:
    """``build_job("synth-monkaa", params, root)``: the job from its JSON params and input root."""
    if root is None:
        raise ConfigError("the synth-monkaa job needs an input root (--root)")
    return MonkaaJob(MonkaaConfig.from_params(params), Path(root))
