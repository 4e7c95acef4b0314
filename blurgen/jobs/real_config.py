"""What a real-blur run is asked to do: :class:`RealConfig` (the job's params) and how a
recipe's ``[real]`` section and the command-line flags resolve into it, once
(:func:`params_from`, used by ``blurgen.jobs.prepare_job``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blurgen import flow
from blurgen.errors import ConfigError
from blurgen.jobs._params import config_from_params, params_of, quality_off_by_default
from blurgen.quality import calibration as calib
from blurgen.sources.splits import find_split_file, read_split_file
from blurgen.sources.windows import check_window
from blurgen.synth.average import MODES as AVERAGING_MODES
from blurgen.synth.average import load_crf

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

    flow_model may name several estimators, comma-separated (``dis,farneback``): the label
    is the first one's, the others only add their disagreement to the quality signals;
    flow_ckpt and device apply to each learned model of the list. quality: store the
    label's ``uncertainty`` / ``uncertainty_bwd`` maps and ``label_epe_est`` (docs/quality.md);
    calibration: the label calibration it applies (a dict, ``blurgen.quality.calibration``;
    None = the shipped one for the estimators and flow_mode, resolved when the job is
    built and then recorded). Params without ``quality`` (manifests from before it, and
    runs with ``--no-quality``, which leave both keys out) read as False.
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
    quality: bool = True
    calibration: dict | None = None

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
        models = flow_models(self.flow_model)
        if NO_FLOW in models and len(models) > 1:
            raise ConfigError(f"--flow-model {self.flow_model}: 'none' cannot be combined with estimators")
        if NO_FLOW in models:
            object.__setattr__(self, "quality", False)
        if len(models) > 1 and self.flow_ckpt is not None and all(flow.is_classical(m) for m in models):
            raise ConfigError(f"--flow-ckpt has no effect here: {self.flow_model} need no checkpoint")
        if not self.quality:
            object.__setattr__(self, "calibration", None)
        elif self.calibration is not None:
            calib.check(self.calibration, "the real job's calibration", "label")

    @property
    def models(self) -> list[str]:
        """The flow estimators' names, the label's first."""
        return flow_models(self.flow_model)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "RealConfig":

        if "source" not in params:
            raise ConfigError("the real job needs a source (--source gopro|nfs|video|frames)")
        if "valid_bwd" not in params:  # a manifest from before the backward mask existed
            params = {**params, "valid_bwd": False}
        return config_from_params(cls, quality_off_by_default(params), "real-job")

    def to_params(self) -> dict[str, Any]:
        """The JSON params (:func:`blurgen.jobs._params.params_of`)."""
        return params_of(self)


def label_calibration(config: RealConfig, labels: list[str]) -> dict[str, Any]:
    """The label calibration a run with quality on applies: ``config.calibration`` when it
    was fitted for these estimators and window mode (``labels``: the estimators' labels,
    the label's first) or is the generic one; else the shipped one for them, or the
    generic one when none ships for them (docs/quality.md). A calibration fitted for other
    estimators -> ``ConfigError``."""
    key = calib.label_key(config.flow_mode, labels)
    cal = config.calibration
    if cal is not None:
        if cal["key"] not in (key, calib.GENERIC_LABEL):
            raise ConfigError(f"--calibration: fitted for {cal['key']!r}, but this run labels with {key!r}; "
                              f"fit one with `blurgen calibrate SAMPLE --flow-model {','.join(config.models)} "
                              f"--flow-mode {config.flow_mode}`")
        return cal
    found = calib.find("label", key, calib.GENERIC_LABEL)
    if found is None:  # only when the package's calibration files are missing
        raise ConfigError("no shipped label calibration found (blurgen/resources/calibration/label); "
                          "reinstall blurgen, pass --calibration FILE, or --no-quality")
    return found


def flow_models(flow_model: str) -> list[str]:
    """``"dis, farneback"`` -> ``["dis", "farneback"]``; an empty name -> ``ConfigError``."""
    names = [m.strip() for m in str(flow_model).split(",")]
    if not all(names):
        raise ConfigError(f"--flow-model {flow_model!r}: give estimator names separated by commas, e.g. dis,farneback")
    return names



# -- settings from a recipe and the command-line flags (blurgen.jobs.prepare_job) -------------
# The recipe per source when none is given: the paper's settings for its datasets, generic
# ones for yours.
DEFAULT_RECIPES = {"gopro": "gopro", "nfs": "nfs", "video": "video", "frames": "video"}
RECIPE_SECTION = "real"
# recipe [real] keys the flags override
FLAG_KEYS = ("window", "stride", "averaging", "flow_model", "flow_ckpt", "flow_mode", "fps", "store_ends", "device",
             "quality")


def default_recipe(flags: dict[str, Any]) -> str:
    """The recipe name for ``flags["source"]`` when none is given."""
    source = flags.get("source")
    if source not in DEFAULT_RECIPES:
        raise ConfigError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    return DEFAULT_RECIPES[source]


def params_from(recipe: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """The job params from the recipe's ``[real]`` section and the command-line flags.

    ``flags`` holds the options as given (None = not given), with ``source`` required;
    ``calibration_file`` (``--calibration``) is read into the params.
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
    _quality(params, flags)
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
    split list, the CRF table and the calibration are in the params; the file names of the
    first two are recorded)."""
    return {k: v for k, v in params.items() if k not in ("splits", "crf", "calibration")}


def _quality(params: dict[str, Any], flags: dict[str, Any]) -> None:
    """Quality estimates are on unless ``--no-quality`` (or the recipe's ``quality =
    false``): then ``quality`` is left out of the params, as in manifests from before it.
    ``--calibration FILE`` is read into the params."""
    on = params.pop("quality", True)
    cal_file = flags.get("calibration_file")
    if not on:
        if cal_file:
            raise ConfigError("--calibration has no effect here: --no-quality stores no quality estimates")
        return
    params["quality"] = True
    if cal_file:
        params["calibration"] = calib.load(cal_file, "label")


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
    if params.get("device") is None or not all(m == NO_FLOW or flow.is_classical(m) for m in flow_models(model)):
        return
    if flags.get("device") is not None:
        raise ConfigError(f"--device has no effect here: it applies to learned flow models; {model} runs on the CPU")
    if flags.get("flow_model") is None:
        raise ConfigError(f"recipe [real] device = {params['device']!r} has no effect: {model} "
                          "runs on the CPU; remove it from the recipe")
    del params["device"]
