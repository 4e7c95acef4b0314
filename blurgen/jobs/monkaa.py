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

import math
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from blurgen.errors import ConfigError, InputError, SkipSample
from blurgen.io.frames import common_size, read_image
from blurgen.io.pfm import read_pfm_flow
from blurgen.jobs._params import config_from_params
from blurgen.jobs.base import PlannedJob, Task
from blurgen.quality import calibration as calib
from blurgen.quality import fidelity
from blurgen.shards.schema import Sample
from blurgen.sources import monkaa as src
from blurgen.synth.blur import synthesize_blur, to_uint8
from blurgen.synth.interpolate import (INTERPOLATORS, FlowGuidedInterpolator, LinearInterpolator,
                                       SuperSloMoInterpolator, frame_count, max_displacement)
from blurgen.synth.scene import accelerations

MOTIONS = ("quadratic", "linear")


@dataclass(frozen=True)
class MonkaaConfig:
    """Settings of a synth-monkaa run (the job's ``params``; JSON).

    interpolator: ``flow-guided`` | ``superslomo`` | ``linear``; method: the flow-guided
    construction (``splat`` | ``slomo``); motion: ``quadratic`` bends the flow-guided
    paths through the positions at t - 1 and t + 2 given by into_past of t and
    into_future of t + 1 (straight where those files are absent), ``linear`` keeps them
    straight; slomo_ckpt: Super-SloMo checkpoint
    file (needed for ``superslomo``); trust_checkpoint: unpickle it in full. camera:
    ``left`` | ``right`` | ``both``; render_pass: ``clean`` | ``final``. max_s: pairs with
    larger ``s`` (pixels) are skipped; min_n: fewest interpolated frames. n_train, n_test,
    split_seed: the split (:func:`blurgen.sources.monkaa.split_pairs`). store_ends: also
    store the sharp end frames. device: for Super-SloMo (``cpu``, ``cuda``; None = GPU when
    present). slomo_batch: times per Super-SloMo pass (None = as memory allows).

    quality: store ``fidelity_signals`` and, with a calibration for the interpolator,
    ``fidelity_db_est`` in each sample's meta (docs/quality.md); calibration: the fidelity
    calibration applied (a dict, ``blurgen.quality.calibration``; None = the shipped one
    for the interpolator, resolved when the job is built, recorded then; none ships for
    superslomo). Params without ``quality`` (manifests from before it, and runs with
    ``--no-quality``, which leave both keys out) read as False.

    A setting the interpolator does not use is recorded as None (trust_checkpoint: False):
    method and motion outside flow-guided (motion also with method ``slomo``), the
    Super-SloMo settings and device outside superslomo. (``blurgen synth-monkaa`` refuses
    such flags; this keeps manifests of older versions rebuildable.)
    """

    interpolator: str = "flow-guided"
    method: str | None = "splat"
    motion: str | None = "quadratic"
    slomo_ckpt: str | None = None
    trust_checkpoint: bool = False
    camera: str = "left"
    render_pass: str = "clean"
    max_s: float = 100.0
    min_n: int = 5
    n_train: int = src.PAPER_TRAIN
    n_test: int = src.PAPER_TEST
    split_seed: int = 0
    store_ends: bool = False
    device: str | None = None
    slomo_batch: int | None = None
    quality: bool = True
    calibration: dict | None = None

    def __post_init__(self):
        if self.interpolator not in INTERPOLATORS:
            raise ConfigError(f"unknown interpolator {self.interpolator!r}; choose one of {', '.join(INTERPOLATORS)}")
        self._drop_unused()
        if self.interpolator == "flow-guided" and self.method not in FlowGuidedInterpolator.METHODS:
            raise ConfigError(f"unknown flow-guided method {self.method!r}; "
                              f"choose one of {', '.join(FlowGuidedInterpolator.METHODS)}")
        if self.motion is not None and self.motion not in MOTIONS:
            raise ConfigError(f"unknown --motion {self.motion!r}; choose one of {', '.join(MOTIONS)}")
        src.cameras_for(self.camera)
        if self.render_pass not in src.PASSES:
            raise ConfigError(f"--pass must be clean or final, got {self.render_pass!r}")
        if not (isinstance(self.max_s, (int, float)) and math.isfinite(self.max_s) and self.max_s > 0):
            raise ConfigError(f"--max-s must be a positive number of pixels, got {self.max_s!r}")
        if int(self.min_n) < 0:
            raise ConfigError(f"--min-n must be >= 0, got {self.min_n}")
        if self.interpolator == "superslomo" and not self.slomo_ckpt:
            raise ConfigError("--interpolator superslomo needs --slomo-ckpt FILE (the public Super-SloMo "
                              "checkpoint; see docs/monkaa.md), or use --interpolator flow-guided (no weights)")
        if self.slomo_batch is not None and int(self.slomo_batch) < 1:
            raise ConfigError(f"slomo_batch must be >= 1, got {self.slomo_batch}")
        if not self.quality:
            object.__setattr__(self, "calibration", None)
        elif self.calibration is not None:
            calib.check(self.calibration, "the synth-monkaa job's calibration", "fidelity")
            if self.calibration["key"] != self.quality_key:
                raise ConfigError(f"--calibration: fitted for {self.calibration['key']!r}, but this run "
                                  f"synthesises with {self.quality_key!r}; fit one with `blurgen calibrate "
                                  "SAMPLE --kind fidelity` and the same interpolator flags")

    def _drop_unused(self) -> None:
        unused: dict[str, Any] = {}
        if self.interpolator != "flow-guided":
            unused.update(method=None, motion=None)
        elif self.method == "slomo":
            unused.update(motion=None)
        else:  # flow-guided splat: None means the defaults
            unused.update(method=self.method or "splat", motion=self.motion or "quadratic")
        if self.interpolator != "superslomo":
            unused.update(slomo_ckpt=None, trust_checkpoint=False, device=None, slomo_batch=None)
        for k, v in unused.items():
            object.__setattr__(self, k, v)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "MonkaaConfig":

        if "quality" not in params:  # before the quality estimates existed, or --no-quality
            params = {**params, "quality": False}
        return config_from_params(cls, params, "synth-monkaa")

    def to_params(self) -> dict[str, Any]:
        """The JSON params; without ``quality`` and ``calibration`` when quality is off (so
        such a run records what blurgen recorded before the estimates existed)."""
        params = asdict(self)
        if not self.quality:
            del params["quality"], params["calibration"]
        return params

    @property
    def quality_key(self) -> str:
        """Key of the fidelity calibration this synthesis needs: the interpolator as in the
        meta, and the path model for flow-guided splatting (``flow-guided/splat/quadratic``)."""
        return self.label if self.motion is None else f"{self.label}/{self.motion}"

    @property
    def label(self) -> str:
        """The interpolator as recorded in each sample's meta."""
        return f"flow-guided/{self.method}" if self.interpolator == "flow-guided" else self.interpolator


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
            meta.update(fidelity.fidelity_meta(fidelity.signals(img0, img1, flow01, flow10), meta["s"], c.calibration))
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


# -- settings from a recipe and the command-line flags (blurgen.jobs.prepare_job) -------------
RECIPE_SECTION = "monkaa"
# recipe [monkaa] keys that flags override
FLAG_KEYS = ("interpolator", "method", "motion", "slomo_ckpt", "trust_checkpoint", "camera", "render_pass", "max_s",
             "min_n", "n_train", "n_test", "split_seed", "store_ends", "device", "slomo_batch", "quality")
# Settings one interpolator uses and the others do not: key -> (its flag, the settings that
# decide whether it is used). See _unused_because.
DEPENDENT = {
    "method": ("--method", ("interpolator",)),
    "motion": ("--motion", ("interpolator", "method")),
    "slomo_ckpt": ("--slomo-ckpt", ("interpolator",)),
    "trust_checkpoint": ("--trust-checkpoint", ("interpolator",)),
    "slomo_batch": ("--slomo-batch", ("interpolator",)),
    "device": ("--device", ("interpolator",)),
}


def default_recipe(flags: dict[str, Any]) -> str:
    """The recipe name when none is given (the paper's Monkaa settings)."""
    return "monkaa"


def params_from(recipe: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """The job params from the recipe's ``[monkaa]`` section and the flags (None = not given).

    A setting the chosen interpolator does not use is refused with one line when a flag
    gives it, and when the recipe gives a non-default value for it while the flags left
    the deciding setting (``--interpolator``, ``--method``) to the recipe too; otherwise
    (a default, or the recipe's choice overridden by a flag) it is left out, so the
    manifest records only what the run used.
    """
    section = dict(recipe.get(RECIPE_SECTION, {}))
    unknown = sorted(set(section) - set(FLAG_KEYS))
    if unknown:
        raise ConfigError(f"recipe [monkaa] has unknown key(s): {', '.join(unknown)} (known: {', '.join(FLAG_KEYS)})")
    given = {k: v for k, v in flags.items() if k in FLAG_KEYS and v is not None}
    params = {k: v for k, v in {**section, **given}.items() if v is not None}
    defaults = {f.name: f.default for f in fields(MonkaaConfig)}
    for key, (flag, deciders) in DEPENDENT.items():  # method before motion: motion depends on it
        why = _unused_because(key, params) if key in params else None
        if why is None:
            continue
        if key in given:
            raise ConfigError(f"{flag} has no effect here: {why}")
        if params[key] != defaults[key] and not any(d in given for d in deciders):
            raise ConfigError(f"recipe [monkaa] {key} = {params[key]!r} has no effect: {why}; "
                              "remove it from the recipe")
        del params[key]
    out = {k: params[k] for k in FLAG_KEYS if k in params and k != "quality"}
    # quality estimates are on unless --no-quality (or the recipe's quality = false), which
    # leaves them out of the params as in manifests from before them
    if params.get("quality", True):
        out["quality"] = True
        if flags.get("calibration_file"):
            out["calibration"] = calib.load(flags["calibration_file"], "fidelity")
    elif flags.get("calibration_file"):
        raise ConfigError("--calibration has no effect here: --no-quality stores no quality estimates")
    return out


def recipe_section(params: dict[str, Any]) -> dict[str, Any]:
    """The ``[monkaa]`` section as the job runs it, recorded in the manifest's recipe (the
    calibration is in the params)."""
    return {k: v for k, v in params.items() if k != "calibration"}


def _unused_because(key: str, p: dict[str, Any]) -> str | None:
    """Why setting ``key`` does nothing under the settings ``p`` (None: it is used)."""
    interp = p.get("interpolator", "flow-guided")
    if key == "method" and interp != "flow-guided":
        return f"only the flow-guided interpolator has methods (this run interpolates with {interp})"
    if key == "motion" and (interp != "flow-guided" or p.get("method", "splat") != "splat"):
        how = f"--method {p.get('method')}" if interp == "flow-guided" else interp
        return f"only flow-guided splatting bends its paths (this run interpolates with {how})"
    if key in ("slomo_ckpt", "trust_checkpoint", "slomo_batch") and interp != "superslomo":
        return f"it belongs to --interpolator superslomo (this run interpolates with {interp})"
    if key == "device" and interp != "superslomo":
        return f"only --interpolator superslomo runs a network ({interp} runs on the CPU)"
    return None
