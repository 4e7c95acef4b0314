"""One home for training defaults: `blurgen train`'s options take theirs from TrainConfig,
B2FNetConfig and the presets, show them in --help, and reading them does not import torch."""

import subprocess
import sys

from click.testing import CliRunner

from blurgen.cli import cli
from blurgen.commands import train as train_cmd
from blurgen.models.b2fnet.config import B2FNetConfig
from blurgen.train.config import CUDA_WORKERS, DEFAULT_CROP, PRESETS, TrainConfig, defaults, loader_workers

# options whose name is not the field's, or that stand for a field in reverse
MODEL_OPTIONS = {"width": "width", "corr_impl": "corr_impl", "no_stn": "stn", "no_refine": "refine"}
# options left unset (None) so that the command can tell whether they were given
UNSET = {"epochs", "lr", "milestones", "val_fraction"}


def _params(tmp_path, *extra: str) -> dict:
    """The parsed options of `blurgen train --shards TMP --out TMP/run EXTRA` (defaults filled in)."""
    argv = ["--shards", str(tmp_path), "--out", str(tmp_path / "run"), *extra]
    return train_cmd.train.make_context("train", argv).params


def test_every_option_default_is_the_config_default(tmp_path):
    fields, model = defaults(TrainConfig), defaults(B2FNetConfig)
    checked = set()
    for name, value in _params(tmp_path).items():
        if name in MODEL_OPTIONS:
            want = model[MODEL_OPTIONS[name]]
            assert value == (not want if name.startswith("no_") else want), name
        elif name in UNSET:
            assert value is None, name
        elif name in fields:
            assert value == fields[name], name
        else:
            continue
        checked.add(name)
    assert len(checked) >= 28 and {"batch_size", "workers", "width", "seed", "val_split"} <= checked


def test_the_options_unset_give_the_default_config(tmp_path):
    cfg = train_cmd.config_from_options(_params(tmp_path))
    assert cfg == TrainConfig(shards=str(tmp_path), out=str(tmp_path / "run"))
    # and TrainConfig's schedule is the default preset's
    p = PRESETS[cfg.preset]
    assert (cfg.epochs, cfg.lr, cfg.milestones, cfg.lr_gamma) == (p.epochs, p.lr, p.milestones, p.lr_gamma)
    cfg = train_cmd.config_from_options(_params(tmp_path, "--preset", "finetune", "--lr", "0.5",
                                                "--val-fraction", "0.2", "--no-stn"))
    assert (cfg.epochs, cfg.lr, cfg.milestones) == (PRESETS["finetune"].epochs, 0.5, PRESETS["finetune"].milestones)
    assert cfg.val_fraction == 0.2 and cfg.model == B2FNetConfig(stn=False)


def test_help_shows_the_defaults():
    res = CliRunner().invoke(cli, ["train", "--help"], terminal_width=400, max_content_width=400)
    assert res.exit_code == 0, res.output
    lines: dict[str, str] = {}  # option -> its whole help entry (a long metavar puts the text on the next line)
    flag = ""
    for line in res.output.split("Options:")[1].splitlines():
        if line.startswith("  -"):
            flag = line.split()[0]
        lines[flag] = lines.get(flag, "") + " " + line.strip()
    d = defaults(TrainConfig)
    for flag in ("--batch-size", "--seed", "--weight-decay", "--crop-mode", "--val-split", "--log-every",
                 "--preset", "--device", "--amp", "--loss-direction", "--ckpt-every"):
        assert f"[default: {d[flag[2:].replace('-', '_')]}]" in lines[flag], lines[flag]
    assert f"[default: {defaults(B2FNetConfig)['width']}]" in lines["--width"]
    assert f"[default: {defaults(B2FNetConfig)['corr_impl']}]" in lines["--corr"]
    assert f"[default: {d['val_fraction']}]" in lines["--val-fraction"]
    assert f"[default: {DEFAULT_CROP}, or the largest multiple of 64" in lines["--crop"]
    assert f"[default: {CUDA_WORKERS} on CUDA, 0 on CPU]" in lines["--workers"]
    monkaa, finetune = PRESETS["monkaa"], PRESETS["finetune"]
    assert f"monkaa = {monkaa.epochs} epochs" in lines["--preset"]
    assert f"(monkaa: {monkaa.epochs}, finetune: {finetune.epochs})" in lines["--epochs"]


def test_train_eval_predict_help_do_not_import_torch():
    code = ("import sys\nfrom blurgen.cli import main\n"
            "for cmd in ('train', 'eval', 'predict'):\n"
            "    try:\n        main([cmd, '--help'])\n    except SystemExit:\n        pass\n"
            "heavy = [m for m in ('torch', 'h5py', 'numpy') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "--batch-size" in res.stdout


def test_workers_default_depends_on_the_device():
    assert loader_workers(None, "cuda") == CUDA_WORKERS and loader_workers(None, "cpu") == 0
    assert loader_workers(3, "cpu") == 3 and loader_workers(0, "cuda") == 0
