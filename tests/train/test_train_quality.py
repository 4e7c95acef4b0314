"""Training on the better labels: pixel weights in the loss, the filters in the datasets a
run reads, and the options of `blurgen train`."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from blurgen.cli import cli
from blurgen.errors import ConfigError, InputError
from blurgen.models.b2fnet import B2FNetConfig
from blurgen.shards.schema import Sample
from blurgen.shards.writer import write_shard
from blurgen.train.config import TrainConfig
from blurgen.train.data import build_datasets, holdout_keys
from blurgen.train.losses import multiscale_loss, uncertainty_weight


def _levels(flow, offset):
    h, w = flow.shape[-2:]
    return [torch.full((flow.shape[0], 2, h // 2**lv, w // 2**lv), float(offset)) for lv in range(1, 7)]


def test_pixel_weights_scale_the_loss_like_a_soft_mask():
    gt = torch.zeros(2, 2, 128, 128)
    flows = _levels(gt, 1.0)  # every level 1 px off everywhere
    base, _ = multiscale_loss(flows, gt)
    half, _ = multiscale_loss(flows, gt, weight=torch.full((2, 128, 128), 0.5))
    torch.testing.assert_close(half, base * 0.5)
    w = torch.ones(2, 128, 128)
    w[:, :, :64] = 0  # weight 0 on the left half = masking it out
    valid = torch.ones(2, 128, 128)
    valid[:, :, :64] = 0
    torch.testing.assert_close(multiscale_loss(flows, gt, weight=w)[0], multiscale_loss(flows, gt, valid=valid)[0])
    # min direction: each reading takes its own weights
    bwd = torch.zeros_like(gt)
    lw, _ = multiscale_loss(flows, gt, flow_bwd=bwd, direction="min", weight=torch.ones(2, 128, 128),
                            weight_bwd=torch.full((2, 128, 128), 0.25))
    torch.testing.assert_close(lw, base * 0.25)


def test_uncertainty_weight_is_one_for_exact_labels_and_a_half_at_the_scale():
    u = torch.tensor([0.0, 2.0, 6.0, float("inf"), -1.0])
    torch.testing.assert_close(uncertainty_weight(u, 2.0), torch.tensor([1.0, 0.5, 0.25, 0.0, 1.0]))


def _shards(folder, n=12):
    samples = []
    for i in range(n):
        rng = np.random.default_rng(i)
        arrays = {"blur": rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
                  "flow": np.full((64, 64, 2), 1.0, np.float32), "flow_bwd": np.full((64, 64, 2), -1.0, np.float32),
                  "uncertainty": np.full((64, 64), i / 4, np.float16),
                  "uncertainty_bwd": np.full((64, 64), i / 4, np.float16)}
        samples.append(Sample(f"r/{i:03d}", arrays, {"source": "test", "label_epe_est": (i + 1) / 4}))
    write_shard(folder / "train-00000-of-00001.h5", samples)
    return folder


def _cfg(shards, out, **kw):
    return TrainConfig(shards=str(shards), out=str(out), preset=None, epochs=2, lr=1e-3, milestones=(), batch_size=4,
                       max_steps=2, threads=1, quiet=True, model=B2FNetConfig(width=0.05), val_fraction=0.3, **kw)


def test_filter_leaves_training_samples_out_but_not_the_holdout(tmp_path):
    shards = _shards(tmp_path)
    plain = build_datasets(_cfg(shards, tmp_path / "a"))
    cut = build_datasets(_cfg(shards, tmp_path / "b", max_label_epe=1.0))
    keys = [f"r/{i:03d}" for i in range(12)]
    held = set(holdout_keys(keys, 0.3, "val"))
    assert plain.selection["keys"] == cut.selection["keys"] == sorted(held)  # the same validation samples
    assert set(plain.train_keys) == set(keys) - held
    assert set(cut.train_keys) == {k for k in keys if k not in held and (int(k[2:]) + 1) / 4 <= 1.0}
    assert [cut.train[i]["key"] for i in range(len(cut.train))] == cut.train_keys
    assert cut.quality["dropped"] == sum(1 for k in keys if k not in held and (int(k[2:]) + 1) / 4 > 1.0) > 0
    assert plain.quality == {}
    with pytest.raises(InputError, match="the quality filters leave no training sample"):
        build_datasets(_cfg(shards, tmp_path / "c", max_label_epe=1e-9, val_split="none"))
    with pytest.raises(ConfigError, match="--max-label-epe -1"):
        _cfg(shards, tmp_path / "d", max_label_epe=-1).validate()


def test_train_command_weights_and_filters_and_records_them(tmp_path):
    shards = _shards(tmp_path)
    res = CliRunner().invoke(cli, ["train", "--shards", str(shards), "--out", str(tmp_path / "run"), "--preset", "none",
                                   "--epochs", "1", "--max-steps", "1", "--batch-size", "2", "--width", "0.05",
                                   "--crop", "64", "--val-fraction", "0.3", "--device", "cpu", "--threads", "1",
                                   "--max-label-epe", "2", "--uncertainty-weight", "0.5", "--quiet"])
    assert res.exit_code == 0, (res.output, res.exception)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["config"]["max_label_epe"] == 2.0 and run["config"]["uncertainty_weight"] == 0.5
    assert run["quality"]["uncertainty_weight"] == 0.5 and run["quality"]["dropped"] >= 1
    assert run["train"]["n"] == 12 - len(run["selection"]["keys"]) - run["quality"]["dropped"]
