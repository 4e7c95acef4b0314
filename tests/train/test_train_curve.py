"""The training curve read from a run's TensorBoard logs: every logged step once, also after
a stop and a resume, and drawn to a PNG."""

import shutil

import pytest
import torch

from blurgen.errors import InputError
from blurgen.io import read_image
from blurgen.models.b2fnet import B2FNetConfig
from blurgen.train.config import TrainConfig
from blurgen.train.curve import best_validation, read_curve, write_curve
from blurgen.train.trainer import train


def _cfg(shards, out, max_steps) -> TrainConfig:
    # 8 toy samples, 1 held out for validation, batch 4: 2 steps per epoch
    return TrainConfig(shards=str(shards), out=str(out), preset=None, epochs=50, lr=1e-3, milestones=(100,),
                       batch_size=4, crop=64, max_steps=max_steps, threads=1, quiet=True, log_every=1,
                       model=B2FNetConfig(width=0.05))


def test_the_curve_holds_every_logged_step_and_validation(toy_shards, tmp_path):
    train(_cfg(toy_shards, tmp_path / "run", 5))
    c = read_curve(tmp_path / "run")
    assert [s for s, _ in c["loss"]] == [1, 2, 3, 4, 5]
    # validation at the end of epochs 1 and 2 (steps 2, 4) and at the stop inside epoch 3
    assert c["val_epoch"] == [(2, 1.0), (4, 2.0), (5, 3.0)]
    assert [s for s, _ in c["val_epe"]] == [s for s, _ in c["val_zero"]] == [2, 4, 5]
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert c["val_epe"][-1][1] == pytest.approx(last["val"]["epe_min"], rel=1e-6)
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    i, v = best_validation(c)
    assert v == pytest.approx(best["best_epe"], rel=1e-6) and c["val_epe"][i][0] == best["step"]
    png = write_curve(tmp_path / "run", tmp_path / "curve.png")
    assert read_image(png).shape == (300, 800, 3)
    with pytest.raises(InputError, match="no TensorBoard logs"):
        read_curve(tmp_path)


def test_a_resumed_run_counts_each_step_once(toy_shards, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    train(_cfg(toy_shards, a, 3))
    train(_cfg(toy_shards, b, 2))
    shutil.copy(b / "last.pt", tmp_path / "step2.pt")
    train(_cfg(toy_shards, b, 4), resume=True)
    # as if that run had stopped after logging steps 3 and 4 but before writing last.pt
    shutil.copy(tmp_path / "step2.pt", b / "last.pt")
    train(_cfg(toy_shards, b, 2), resume=True)  # nothing to do: what came after step 2 is hidden
    assert [s for s, _ in read_curve(b)["loss"]] == [1, 2]
    train(_cfg(toy_shards, b, 3), resume=True)
    ca, cb = read_curve(a), read_curve(b)
    for name in ca:
        assert [s for s, _ in cb[name]] == [s for s, _ in ca[name]], name
        assert [v for _, v in cb[name]] == pytest.approx([v for _, v in ca[name]], rel=1e-6), name
    assert [s for s, _ in cb["loss"]] == [1, 2, 3]
