"""Trainer: checkpoints (weights_only), exact resume, NaN stop, presets, init-from."""

import hashlib

import pytest
import torch

from blurgen.errors import ConfigError, InputError
from blurgen.models.b2fnet import B2FNetConfig
from blurgen.train import trainer as trainer_mod
from blurgen.train.config import PRESETS, TrainConfig, apply_preset
from blurgen.train.trainer import TrainingDiverged, train

TINY = B2FNetConfig(width=0.05)


def _cfg(shards, out, **kw) -> TrainConfig:
    base = dict(shards=str(shards), out=str(out), preset=None, epochs=50, lr=1e-3, milestones=(1,), batch_size=4,
                crop=64, max_steps=3, threads=1, quiet=True, model=TINY)
    base.update(kw)
    return TrainConfig(**base)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_checkpoint_holds_everything_and_loads_weights_only(toy_shards, tmp_path):
    summary = train(_cfg(toy_shards, tmp_path / "run"))
    assert summary["steps"] == 3
    for name in ("last.pt", "best.pt"):
        ck = torch.load(tmp_path / "run" / name, weights_only=True)
        assert ck["format"] == "blurgen-b2fnet/1"
        assert {"model", "model_config", "optimizer", "scheduler", "epoch", "step", "step_in_epoch",
                "rng", "config", "best_epe", "val"} <= set(ck)
    ck = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    # 8 samples, batch 4: 2 steps per epoch; step 3 is the first batch of epoch 2
    assert (ck["step"], ck["epoch"], ck["step_in_epoch"]) == (3, 1, 1)
    # milestone at epoch 1: the lr was halved once
    assert ck["optimizer"]["param_groups"][0]["lr"] == pytest.approx(5e-4)
    assert TrainConfig.from_dict(ck["config"]).model == TINY
    # selected on a holdout of the 8 training samples (at least one), never on the 4 test ones
    assert ck["val"]["n"] == 1 and ck["val"]["zero_epe_min"] > 0
    assert ck["selection"]["on"] == "holdout" and ck["selection"]["n"] == 1
    assert ck["config"]["val_split"] == "holdout" and ck["config"]["crop"] == 64
    assert isinstance(ck["rng"]["torch"], torch.Tensor)
    assert list((tmp_path / "run" / "tb").glob("events.out.tfevents.*"))


def test_resume_mid_epoch_is_exact(toy_shards_80, tmp_path):
    # random crops and shuffling both depend on (seed, epoch): resuming must replay them
    kw = dict(crop_mode="random", val_split="none", batch_size=3)
    train(_cfg(toy_shards_80, tmp_path / "a", max_steps=5, **kw))
    train(_cfg(toy_shards_80, tmp_path / "b", max_steps=4, **kw))  # stops inside epoch 2
    cb = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert (cb["epoch"], cb["step_in_epoch"]) == (1, 1)
    train(_cfg(toy_shards_80, tmp_path / "b", max_steps=5, **kw), resume=True)
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    assert a["step"] == b["step"] == 5
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for k, st in a["optimizer"]["state"].items():
        assert torch.equal(st["exp_avg"], b["optimizer"]["state"][k]["exp_avg"])
    # a run that stopped at step 3 differs (the comparison above is not vacuous)
    assert not all(torch.equal(a["model"][k], cb["model"][k]) for k in a["model"])


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(toy_shards, tmp_path, monkeypatch):
    real = trainer_mod.multiscale_loss
    calls = {"n": 0}

    def loss_that_breaks(*a, **k):
        calls["n"] += 1
        loss, logs = real(*a, **k)
        return (loss * float("nan") if calls["n"] == 4 else loss), logs

    monkeypatch.setattr(trainer_mod, "multiscale_loss", loss_that_breaks)
    out = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 4 .*last good checkpoint .*last\.pt \(step 2\)"):
        train(_cfg(toy_shards, out, max_steps=10, val_split="none"))
    ck = torch.load(out / "last.pt", weights_only=True)
    assert ck["step"] == 2  # written at the end of epoch 1, untouched by the failed step


def test_existing_run_needs_resume_and_resume_needs_a_run(toy_shards, tmp_path):
    train(_cfg(toy_shards, tmp_path / "run", max_steps=1, val_split="none"))
    with pytest.raises(ConfigError, match="--resume"):
        train(_cfg(toy_shards, tmp_path / "run", max_steps=1))
    with pytest.raises(InputError, match="nothing to resume"):
        train(_cfg(toy_shards, tmp_path / "other", max_steps=1), resume=True)


def test_init_from_loads_weights_and_rejects_other_widths(toy_shards, tmp_path):
    train(_cfg(toy_shards, tmp_path / "src", max_steps=1, val_split="none"))
    src = tmp_path / "src" / "last.pt"
    ck = torch.load(src, weights_only=True)
    s = train(_cfg(toy_shards, tmp_path / "ft", max_steps=1, val_split="none", init_from=str(src), lr=1e-12))
    ft = torch.load(s["last"], weights_only=True)
    k = "encoder.blocks.0.0.0.weight"
    torch.testing.assert_close(ft["model"][k], ck["model"][k], atol=1e-8, rtol=0)
    with pytest.raises(InputError, match="do not fit"):
        train(_cfg(toy_shards, tmp_path / "bad", max_steps=1, val_split="none", init_from=str(src),
                   model=B2FNetConfig(width=0.1)))


def test_presets_follow_the_paper():
    cfg = apply_preset(_cfg("x", "y"), "monkaa")
    assert (cfg.epochs, cfg.lr, cfg.milestones, cfg.lr_gamma) == (300, 1e-4, (100, 150, 200, 250), 0.5)
    cfg = apply_preset(cfg, "finetune")
    assert (cfg.epochs, cfg.milestones) == (120, (60, 80, 100))
    assert set(PRESETS) == {"monkaa", "finetune"}
    d = TrainConfig(shards="s", out="o")
    # crop None: 256 (the paper) where it fits, else the largest multiple of 64 that does
    assert (d.batch_size, d.crop, d.crop_mode, d.weight_decay, d.betas) == (4, None, "center", 4e-4, (0.9, 0.999))
    with pytest.raises(ConfigError, match="multiple of 64"):
        _cfg("x", "y", crop=100).validate()
