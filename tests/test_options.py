"""Every option of every command acts, or is listed here as informational with a reason.

The walk takes each command from ``blurgen.cli`` through click's own introspection
(``command.params``) and runs it in-process with a CliRunner. What the command hands to
its work (the job and the manifest's settings for dataset commands, TrainConfig, the
keyword arguments of the function that does the work) is recorded by replacing that
function; everything up to it (flag parsing, recipes, params, config classes) runs for
real. An option acts when some non-default value changes that record. An option that
neither acts nor is listed in ``INFORMATIONAL`` (with why it cannot change what is made)
or ``REFUSED`` fails the test, and so does a new command without a harness here, or an
option whose value cannot be guessed from its type without an entry in ``VALUES``.
"""

from __future__ import annotations

import collections
import dataclasses
import os
from pathlib import Path
from typing import Any, Callable

import click
import numpy as np
import pytest
from click.testing import CliRunner

from blurgen.cli import cli

# reasons shared by several commands
WHERE = "where the outputs go; the content does not depend on it"
PROGRESS = "progress and summary output only"
SPEED = "how many processes make the samples; the shards are byte-identical for any number"
PLACE = "where the samples are made (backend / cluster); the shards are byte-identical on every backend"
RESUME = "finishes an interrupted run in OUT; the result equals an uninterrupted run"
PIPELINE_INFO = {"out": WHERE, "workers": SPEED, "backend": PLACE, "scheduler": PLACE, "resume": RESUME,
                 "quiet": PROGRESS}

# run() keyword arguments that decide the bytes of a dataset (recorded in its manifest)
MANIFEST_KWARGS = ("seed", "limit", "on_error", "samples_per_shard", "compression", "tile", "recipe",
                   "expect_inputs")


def norm(v: Any) -> Any:
    """A comparable, plain record of a value handed to the work."""
    if isinstance(v, np.ndarray):
        return ("array", v.shape, str(v.dtype))
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return norm(dataclasses.asdict(v))
    if hasattr(v, "kind") and hasattr(v, "params") and hasattr(v, "root"):  # a job
        return {"job": v.kind, "params": norm(v.params), "root": None if v.root is None else str(v.root)}
    if isinstance(v, dict):
        return {str(k): norm(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [norm(x) for x in v]
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return f"<{type(v).__name__}>"  # models, devices, callables: by type only


class Recorder:
    """Replaces functions with ones that record their (normalised) arguments."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.mp = monkeypatch
        self.calls: list = []

    def replace(self, target: str, result: Any = None, keep: tuple[str, ...] | None = None) -> None:
        """``module.attr`` records its calls and returns ``result`` (called with the call's
        arguments when callable). ``keep``: record only these keyword arguments."""
        module, attr = target.rsplit(".", 1)

        def fake(*args, **kwargs):
            if keep is not None:
                self.calls.append((target, norm({k: v for k, v in kwargs.items() if k in keep})))
            else:
                self.calls.append((target, norm(args), norm(kwargs)))
            return result(*args, **kwargs) if callable(result) else result

        self.mp.setattr(f"{module}.{attr}", fake)


@dataclasses.dataclass
class Harness:
    """How to run one command cheaply: ``setup(tmp, rec) -> base argv`` (after the command
    name) replaces the work with recorders. ``values``: argv to try per option (else
    guessed from its type); ``context``: argv an option needs to be used at all
    (``--slomo-batch`` needs ``--interpolator superslomo``); ``bases``: argv that replaces
    the base for an option that stands for part of it (``zoo fetch --all`` for the names)."""

    setup: Callable[[Path, Recorder], list[str]]
    informational: dict[str, str] = dataclasses.field(default_factory=dict)
    refused: dict[str, str] = dataclasses.field(default_factory=dict)
    values: dict[str, list[list[str]]] = dataclasses.field(default_factory=dict)
    context: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    bases: dict[str, list[str]] = dataclasses.field(default_factory=dict)


def _dirs(tmp: Path, *names: str) -> list[str]:
    for n in names:
        (tmp / n).mkdir(parents=True, exist_ok=True)
    return [str(tmp / n) for n in names]


def _files(tmp: Path, *names: str) -> list[str]:
    for n in names:
        (tmp / n).write_bytes(b"x")
    return [str(tmp / n) for n in names]


# -- dataset commands --------------------------------------------------------------------
def _record_run(rec: Recorder, manifest: dict | None = None) -> None:
    def run(job, out, **kw):
        rec.calls.append(("run", norm(job), norm({k: kw.get(k) for k in MANIFEST_KWARGS})))
        return manifest or {"samples": [], "shards": []}

    rec.mp.setattr("blurgen.pipeline.run", run)
    rec.mp.setattr("blurgen.pipeline.loop.run", run)  # what rerun calls


class _Estimator:
    label, checkpoint, checkpoint_path = "stub", None, None


def _calibration(tmp: Path, kind: str, key: str) -> None:
    """A calibration file (numbers unlike the shipped ones) for --calibration."""
    import json

    from blurgen.quality.calibration import FORMS

    coef = {"fb": 2.0, "photo": 0.5} if kind == "label" else {"hole_s": 1.0, "occ": 1.0, "rest_phi": 1.0}
    cal = {"format": 1, "kind": kind, "key": key, "form": FORMS[kind][-1], "intercept": 0.5, "coef": coef,
           "params": {} if kind == "label" else {"phi_scale": 5.0}}
    (tmp / f"{kind}.json").write_text(json.dumps(cal))


def setup_monkaa(tmp: Path, rec: Recorder) -> list[str]:
    _record_run(rec)
    _calibration(tmp, "fidelity", "flow-guided/splat/quadratic")
    rec.replace("blurgen.synth.interpolate.SuperSloMoInterpolator.from_checkpoint", result=object())
    root, _ = _dirs(tmp, "monkaa", "monkaa2")
    return ["synth-monkaa", "--root", root, "--out", str(tmp / "out")]


def setup_real(tmp: Path, rec: Recorder) -> list[str]:
    _record_run(rec)
    rec.replace("blurgen.flow.get_estimator", result=_Estimator())
    _calibration(tmp, "label", "direct:generic")
    root, _ = _dirs(tmp, "gopro", "gopro2")
    np.save(tmp / "crf.npy", np.tile(np.linspace(0, 1, 256)[:, None], (1, 3)))
    return ["real", "--source", "gopro", "--root", root, "--out", str(tmp / "out")]


def _recipe(tmp: Path, section: str, body: str) -> str:
    p = tmp / f"{section}-walk.toml"
    p.write_text(f"[{section}]\n{body}\n[pipeline]\ncompression = \"lzf\"\n")
    return str(p)


def setup_rerun(tmp: Path, rec: Recorder) -> list[str]:
    from blurgen.jobs.pattern import PatternJob
    from blurgen.manifest import load_manifest
    from blurgen.pipeline import run

    src, copy = _dirs(tmp, "in", "in2")
    for d in (src, copy):
        Path(d, "a.bin").write_bytes(b"same input")
    run(PatternJob(Path(src), {"splits": {"train": 3}}), tmp / "made", quiet=True)
    _record_run(rec, load_manifest(tmp / "made"))
    return ["rerun", str(tmp / "made"), "--out", str(tmp / "again")]


# -- the other commands ----------------------------------------------------------------
def setup_sample(tmp: Path, rec: Recorder) -> list[str]:
    rec.replace("blurgen.sources.sample.write_sample", result={"layouts": {}})
    return ["sample", str(tmp / "s")]


def setup_flow(tmp: Path, rec: Recorder) -> list[str]:
    class Est(_Estimator):
        def estimate(self, a, b, **kw):
            return np.zeros((len(a), 4, 6, 2), np.float32)

    rec.replace("blurgen.flow.pair.get_estimator", result=Est())
    rec.replace("blurgen.flow.pair.read_image", result=np.zeros((4, 6, 3), np.uint8))
    for name in ("write_flo", "write_flow_png", "write_image"):
        rec.replace(f"blurgen.flow.pair.{name}")
    a, b = _files(tmp, "a.png", "b.png")
    return ["flow", a, b, "--out", str(tmp / "f.flo")]


def setup_train(tmp: Path, rec: Recorder) -> list[str]:
    def train(cfg, resume=False):
        rec.calls.append(("train", norm(cfg), resume))
        return collections.defaultdict(str, steps=0, best_epe=float("nan"))  # the summary's other keys: ""

    rec.mp.setattr("blurgen.train.trainer.train", train)
    _dirs(tmp, "shards", "shards2", "val")
    _files(tmp, "init.pt")
    return ["train", "--shards", str(tmp / "shards"), "--out", str(tmp / "run")]


def _torch_side(rec: Recorder) -> None:
    rec.replace("torch.set_num_threads")
    rec.replace("blurgen.train.ddp.pick_device", result="cpu")


def setup_eval(tmp: Path, rec: Recorder) -> list[str]:
    _torch_side(rec)
    rec.replace("blurgen.train.evaluate.evaluate_checkpoint", result={"n": 3, "split": "all"})
    _dirs(tmp, "shards", "shards2")
    _files(tmp, "a.pt", "b.pt")
    return ["eval", "--ckpt", str(tmp / "a.pt"), "--shards", str(tmp / "shards")]


def setup_predict(tmp: Path, rec: Recorder) -> list[str]:
    _torch_side(rec)
    rec.replace("blurgen.train.predict.predict_files", result=[])
    img, *_ = _files(tmp, "blur.png", "a.pt", "b.pt", "blur.flo")
    return ["predict", img, "--ckpt", str(tmp / "a.pt"), "--out", str(tmp / "pred")]


def setup_preview(tmp: Path, rec: Recorder) -> list[str]:
    rec.replace("blurgen.report.write_preview", result=tmp / "p.png")
    return ["preview", _dirs(tmp, "data")[0]]


def setup_stats(tmp: Path, rec: Recorder) -> list[str]:
    rec.replace("blurgen.report.compute_stats", result={})
    rec.replace("blurgen.report.write_stats_plot", result=tmp / "s.png")
    rec.replace("blurgen.report.format_stats", result="")
    return ["stats", _dirs(tmp, "data")[0]]


def setup_verify(tmp: Path, rec: Recorder) -> list[str]:
    from blurgen.manifest import VerifyReport

    rec.replace("blurgen.manifest.verify", result=VerifyReport())
    return ["verify", _dirs(tmp, "data")[0]]


def setup_demo(tmp: Path, rec: Recorder) -> list[str]:
    rec.replace("blurgen.demo.run_demo", result={})
    return ["demo", str(tmp / "demo")]


def setup_calibrate(tmp: Path, rec: Recorder) -> list[str]:
    rec.replace("blurgen.jobs.calibrate.fit_label", result={"key": "k", "fit": {}})
    rec.replace("blurgen.jobs.calibrate.fit_fidelity", result={"key": "k", "fit": {}})
    return ["calibrate", _dirs(tmp, "sample")[0]]


def setup_zoo_list(tmp: Path, rec: Recorder) -> list[str]:
    rec.replace("blurgen.zoo.status", result=[])
    return ["zoo", "list"]


def setup_zoo_show(tmp: Path, rec: Recorder) -> list[str]:
    return ["zoo", "show", "pwcnet-things"]


class _Plain:
    """A result object: the given attributes, None for any other."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __getattr__(self, name):
        return None


def setup_zoo_add(tmp: Path, rec: Recorder) -> list[str]:
    rec.replace("blurgen.zoo.add", result=(_Plain(name="n", kind="other"), tmp / "w"))
    return ["zoo", "add", _files(tmp, "w.bin")[0], "--name", "walk-test"]


def setup_zoo_fetch(tmp: Path, rec: Recorder) -> list[str]:
    rec.replace("blurgen.zoo.fetch", result=_Plain(downloaded=False, path=tmp / "w"), keep=("timeout", "force"))
    return ["zoo", "fetch", "pwcnet-things"]


HARNESSES: dict[str, Harness] = {
    "synth-monkaa": Harness(
        setup_monkaa,
        informational=PIPELINE_INFO,
        refused={"seed": "synth-monkaa draws nothing at random"},
        values={"root": [["--root", "{tmp}/monkaa2"]], "slomo_ckpt": [["--slomo-ckpt", "{tmp}/other.ckpt"]],
                "device": [["--device", "cpu"]], "compression": [["--compression", "lzf"]],
                "recipe": [["--recipe", "{recipe:monkaa:min_n = 9}"]],
                "calibration_file": [["--calibration", "{tmp}/fidelity.json"]]},
        context={k: ["--interpolator", "superslomo", "--slomo-ckpt", "{tmp}/slomo.ckpt"]
                 for k in ("slomo_ckpt", "trust_checkpoint", "slomo_batch", "device")},
    ),
    "real": Harness(
        setup_real,
        informational=PIPELINE_INFO,
        refused={"seed": "real draws nothing at random"},
        values={"root": [["--root", "{tmp}/gopro2"]], "flow_model": [["--flow-model", "dis"]],
                "flow_ckpt": [["--flow-ckpt", "sintel"]], "split_file": [["--split-file", "nfs_standard"]],
                "crf_file": [["--crf-file", "{tmp}/crf.npy"]], "device": [["--device", "cpu"]],
                "compression": [["--compression", "lzf"]], "recipe": [["--recipe", "{recipe:real:window = 5}"]],
                "calibration_file": [["--calibration", "{tmp}/label.json"]]},
        context={"crf_file": ["--averaging", "crf"]},
    ),
    "rerun": Harness(setup_rerun, informational=PIPELINE_INFO, values={"root": [["--root", "{tmp}/in2"]]}),
    "sample": Harness(
        setup_sample,
        informational={"workers": SPEED + " (the sample is the same for any number)", "quiet": PROGRESS},
        values={"size": [["--size", "64x48"]], "only": [["--only", "monkaa"]]},
    ),
    "flow": Harness(
        setup_flow,
        informational={"out": WHERE},
        values={"model": [["--model", "farneback"]], "ckpt": [["--ckpt", "sintel"]], "device": [["--device", "cpu"]]},
        context={"ckpt": ["--model", "pwcnet"], "device": ["--model", "pwcnet"]},
    ),
    "train": Harness(
        setup_train,
        informational={"out": WHERE},
        values={"shards": [["--shards", "{tmp}/shards2"]], "milestones": [["--milestones", "10,20"]],
                "crop": [["--crop", "128"]], "train_split": [["--train-split", "val"]],
                "val_split": [["--val-split", "none"]], "val_shards": [["--val-shards", "{tmp}/val"]],
                "init_from": [["--init-from", "{tmp}/init.pt"]], "device": [["--device", "cpu"]]},
    ),
    "eval": Harness(
        setup_eval,
        informational={"as_json": "how the result is printed", "workers": "DataLoader processes; speed only",
                       "threads": "torch CPU threads; speed only"},
        values={"ckpt": [["--ckpt", "{tmp}/b.pt"]], "shards": [["--shards", "{tmp}/shards2"]],
                "split": [["--split", "test"]], "device": [["--device", "cpu"]], "tile": [["--tile", "64"]]},
    ),
    "predict": Harness(
        setup_predict,
        informational={"out": WHERE, "threads": "torch CPU threads; speed only"},
        values={"ckpt": [["--ckpt", "{tmp}/b.pt"]], "device": [["--device", "cpu"]],
                "labels": [["--label", "{tmp}/blur.flo"]], "tile": [["--tile", "64"]]},
    ),
    "preview": Harness(setup_preview, informational={"png": WHERE}),
    "stats": Harness(setup_stats, informational={"plot": WHERE, "as_json": "how the statistics are printed"}),
    "verify": Harness(setup_verify, informational={"quiet": "prints only the problems; the check is the same"}),
    "demo": Harness(
        setup_demo,
        informational={"workers": SPEED, "quiet": PROGRESS, "overwrite": "allows replacing an earlier demo in OUT"},
        values={"size": [["--size", "64x48"]]},
    ),
    "calibrate": Harness(
        setup_calibrate,
        informational={"out": WHERE},
        values={"flow_model": [["--flow-model", "farneback"]], "flow_ckpt": [["--flow-ckpt", "sintel"]],
                "device": [["--device", "cpu"]]},
        context={k: ["--kind", "fidelity"] for k in ("interpolator", "method", "motion")},
    ),
    "zoo list": Harness(setup_zoo_list),
    "zoo show": Harness(setup_zoo_show),
    "zoo fetch": Harness(  # (where blurgen has it)
        setup_zoo_fetch,
        informational={"quiet": PROGRESS},
        bases={"all_": ["zoo", "fetch"]},  # --all stands for the names
    ),
    "zoo add": Harness(
        setup_zoo_add,
        values={"name": [["--name", "other"]], "source": [["--source", "https://example.org"]],
                "licence": [["--licence", "MIT"]]},
    ),
}


def all_commands() -> dict[str, click.Command]:
    """Every leaf command under ``blurgen``, by its words (``zoo add``)."""
    found: dict[str, click.Command] = {}
    ctx = click.Context(cli)

    def walk(group: click.Group, prefix: str) -> None:
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            words = f"{prefix}{name}"
            if isinstance(cmd, click.Group):
                walk(cmd, words + " ")
            else:
                found[words] = cmd

    walk(cli, "")
    return found


def guesses(opt: click.Option) -> list[list[str]]:
    """Non-default values to try, from the option's type alone ([] when it cannot tell)."""
    flag = opt.opts[0]
    default = None if opt.default is None or type(opt.default).__name__ == "Sentinel" else opt.default
    if opt.is_flag:
        tries = [[flag]] if not default else []
        return tries + [[s] for s in opt.secondary_opts]
    if isinstance(opt.type, click.Choice):
        return [[flag, c] for c in opt.type.choices if c != default]
    if isinstance(opt.type, (click.types.IntParamType, click.IntRange)):
        lo = getattr(opt.type, "min", None) or 0
        base = default if isinstance(default, int) else lo
        return [[flag, str(v)] for v in (base + 1, base + 2, lo + 3) if v != default]
    if isinstance(opt.type, (click.types.FloatParamType, click.FloatRange)):
        return [[flag, str(v)] for v in ((default or 1.0) * 2, 2.5, 0.5) if v != default]
    return []


def _fill(argv: list[str], tmp: Path) -> list[str]:
    out = []
    for a in argv:
        if a.startswith("{recipe:"):
            section, body = a[len("{recipe:"):-1].split(":", 1)
            a = _recipe(tmp, section, body)
        out.append(a.replace("{tmp}", str(tmp)))
    return out


@pytest.mark.parametrize("words", sorted(all_commands()))
def test_every_option_acts_or_is_listed(words, tmp_path, monkeypatch):
    command = all_commands()[words]
    assert words in HARNESSES, f"`blurgen {words}` has no harness in tests/test_options.py: add one"
    h = HARNESSES[words]
    rec = Recorder(monkeypatch)
    base = h.setup(tmp_path, rec)
    options = {p.name: p for p in command.params if isinstance(p, click.Option) and p.name != "help"}
    listed = set(h.informational) | set(h.refused) | set(h.values) | set(h.context) | set(h.bases)
    assert listed <= set(options), f"entries for options `blurgen {words}` no longer has: {listed - set(options)}"
    runner = CliRunner()

    def invoke(extra: list[str], start: list[str] | None = None):
        rec.calls.clear()
        res = runner.invoke(cli, (base if start is None else start) + _fill(extra, tmp_path))
        return res, list(rec.calls)

    baselines: dict[tuple, list] = {}
    problems = []
    for name, opt in options.items():
        if name in h.informational:
            continue
        tries = h.values.get(name) or guesses(opt)
        if not tries:
            problems.append(f"{opt.opts[0]}: no value to try; add one to VALUES or list it as informational")
            continue
        if name in h.refused:
            for t in tries:
                res, _ = invoke(t)
                msg = str(res.exception)
                if res.exit_code != 1 or "\n" in msg or opt.opts[0] not in msg:
                    problems.append(f"{opt.opts[0]}: {' '.join(t)} should be refused with one line naming it, "
                                    f"got exit {res.exit_code}: {msg!r}")
            continue
        ctx = tuple(h.context.get(name, []))
        if ctx not in baselines:
            res, calls = invoke(list(ctx))
            assert res.exit_code == 0, (ctx, res.output, res.exception)
            assert calls, f"`blurgen {words}` recorded nothing: its harness replaces the wrong function"
            baselines[ctx] = calls
        seen = []
        for t in tries:
            res, calls = invoke([*ctx, *t], h.bases.get(name))
            if res.exit_code == 0 and calls != baselines[ctx]:
                break
            seen.append(f"{' '.join(t)} -> exit {res.exit_code}"
                        + (f" ({res.exception})" if res.exit_code else " (nothing changed)"))
        else:
            problems.append(f"{opt.opts[0]} neither changes what `blurgen {words}` makes nor is listed "
                            f"as informational: {'; '.join(seen)}")
    assert not problems, "\n".join(problems)


def test_informational_options_have_reasons():
    for words, h in HARNESSES.items():
        for name, why in {**h.informational, **h.refused}.items():
            assert len(why) > 10, (words, name)


# -- conflicts: a flag (or recipe value) the run would not use is refused with one line ---
def _run_cli(tmp: Path, monkeypatch, setup, extra: list[str]):
    rec = Recorder(monkeypatch)
    base = setup(tmp, rec)
    res = CliRunner().invoke(cli, base + _fill(extra, tmp))
    runs = [c for c in rec.calls if c[0] == "run"]
    return res, (runs[0][1:] if runs else None)  # (job, manifest settings)


def _refused(res, *needles: str) -> str:
    from blurgen.errors import ConfigError

    msg = str(res.exception)
    assert res.exit_code == 1 and isinstance(res.exception, ConfigError), (res.output, res.exception)
    assert "\n" not in msg and all(n in msg for n in needles), msg
    return msg


SLOMO = ["--interpolator", "superslomo", "--slomo-ckpt", "{tmp}/s.ckpt"]


@pytest.mark.parametrize("extra, flag, why", [
    (["--slomo-ckpt", "{tmp}/s.ckpt"], "--slomo-ckpt", "flow-guided"),
    (["--trust-checkpoint"], "--trust-checkpoint", "flow-guided"),
    (["--slomo-batch", "2"], "--slomo-batch", "flow-guided"),
    (["--device", "cuda"], "--device", "flow-guided runs on the CPU"),
    (["--interpolator", "linear", "--device", "cpu"], "--device", "linear runs on the CPU"),
    ([*SLOMO, "--method", "splat"], "--method", "superslomo"),
    ([*SLOMO, "--motion", "linear"], "--motion", "superslomo"),
    (["--interpolator", "linear", "--method", "slomo"], "--method", "linear"),
    (["--method", "slomo", "--motion", "quadratic"], "--motion", "--method slomo"),
])
def test_monkaa_flags_the_interpolator_does_not_use_are_refused(tmp_path, monkeypatch, extra, flag, why):
    res, run = _run_cli(tmp_path, monkeypatch, setup_monkaa, extra)
    _refused(res, f"{flag} has no effect here", why)
    assert run is None


def test_monkaa_recipe_values_follow_the_flags(tmp_path, monkeypatch):
    # the default recipe's method/motion are defaults: dropped for superslomo, not recorded as used
    res, run = _run_cli(tmp_path, monkeypatch, setup_monkaa, SLOMO)
    assert res.exit_code == 0, res.exception
    params = run[0]["params"]
    assert params["method"] is None and params["motion"] is None and params["interpolator"] == "superslomo"
    # a recipe made for Super-SloMo, switched to flow-guided by the flag: its network settings go
    recipe = "{recipe:monkaa:interpolator = \"superslomo\"\nslomo_ckpt = \"s.ckpt\"\ndevice = \"cuda\"\nslomo_batch = 3}"
    res, run = _run_cli(tmp_path, monkeypatch, setup_monkaa, ["--recipe", recipe, "--interpolator", "flow-guided"])
    assert res.exit_code == 0, res.exception
    params = run[0]["params"]
    assert (params["slomo_ckpt"], params["device"], params["slomo_batch"]) == (None, None, None)
    assert params["method"] == "splat"


@pytest.mark.parametrize("body, key", [
    ('interpolator = "linear"\nmethod = "slomo"', "method = 'slomo'"),
    ('device = "cuda"', "device = 'cuda'"),
    ('method = "slomo"\nmotion = "linear"', "motion = 'linear'"),
])
def test_monkaa_recipe_contradicting_itself_is_refused(tmp_path, monkeypatch, body, key):
    res, run = _run_cli(tmp_path, monkeypatch, setup_monkaa, ["--recipe", "{recipe:monkaa:" + body + "}"])
    _refused(res, f"recipe [monkaa] {key} has no effect", "remove it from the recipe")
    assert run is None


def test_real_device_only_with_learned_flow(tmp_path, monkeypatch):
    res, run = _run_cli(tmp_path, monkeypatch, setup_real, ["--flow-model", "dis", "--device", "cuda"])
    _refused(res, "--device has no effect here", "dis runs on the CPU")
    res, run = _run_cli(tmp_path, monkeypatch, setup_real, ["--device", "cpu"])  # the recipe's pwcnet: used
    assert res.exit_code == 0 and run[0]["params"]["device"] == "cpu"
    recipe = '{recipe:real:flow_model = "farneback"\ndevice = "cuda"}'
    res, run = _run_cli(tmp_path, monkeypatch, setup_real, ["--recipe", recipe])
    _refused(res, "recipe [real] device = 'cuda' has no effect", "farneback runs on the CPU")
    recipe = '{recipe:real:flow_model = "pwcnet"\ndevice = "cuda"}'  # the recipe's device, for its pwcnet
    res, run = _run_cli(tmp_path, monkeypatch, setup_real, ["--recipe", recipe, "--flow-model", "dis"])
    assert res.exit_code == 0 and run[0]["params"].get("device") is None


@pytest.mark.parametrize("setup, extra", [(setup_monkaa, []), (setup_real, ["--flow-model", "dis"])])
def test_seed_of_jobs_that_draw_nothing_at_random_is_refused_and_its_help_says_so(tmp_path, monkeypatch, setup,
                                                                                   extra):
    res, run = _run_cli(tmp_path, monkeypatch, setup, [*extra, "--seed", "7"])
    _refused(res, "--seed 7", "draws nothing at random", "has no effect")
    assert run is None
    res, run = _run_cli(tmp_path, monkeypatch, setup, [*extra, "--seed", "0"])
    assert res.exit_code == 0 and run[1]["seed"] == 0
    name = setup(tmp_path, Recorder(monkeypatch))[0]
    help_text = " ".join(CliRunner().invoke(cli, [name, "--help"]).output.split())
    assert "--seed INTEGER Has no effect" in help_text
