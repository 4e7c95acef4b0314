"""What a synth-monkaa run is asked to do: :class:`MonkaaConfig` (the job's params) and how a
recipe's ``[monkaa]`` section and the command-line flags resolve into it, once
(:func:`params_from`, used by ``blurgen.jobs.prepare_job``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from blurgen.errors import ConfigError
from blurgen.jobs._params import config_from_params, params_of, quality_off_by_default
from blurgen.quality import calibration as calib
from blurgen.sources import monkaa as src
from blurgen.synth.interpolate import INTERPOLATORS, FlowGuidedInterpolator

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

        return config_from_params(cls, quality_off_by_default(params), "synth-monkaa")

    def to_params(self) -> dict[str, Any]:
        """The JSON params (:func:`blurgen.jobs._params.params_of`)."""
        return params_of(self)

    @property
    def quality_key(self) -> str:
        """Key of the fidelity calibration this synthesis needs: the interpolator as in the
        meta, and the path model for flow-guided splatting (``flow-guided/splat/quadratic``)."""
        return self.label if self.motion is None else f"{self.label}/{self.motion}"

    @property
    def label(self) -> str:
        """The interpolator as recorded in each sample's meta."""
        return f"flow-guided/{self.method}" if self.interpolator == "flow-guided" else self.interpolator




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
