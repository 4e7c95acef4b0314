"""EPE metrics: values by hand, direction minimum, masks, per-source means."""

import math

import pytest
import torch

from blurgen.train.metrics import EpeMeter, epe_per_sample, flow_metrics


def test_epe_by_hand():
    pred = torch.zeros(1, 2, 2, 2)
    gt = torch.zeros(1, 2, 2, 2)
    gt[0, 0] = torch.tensor([[3.0, 0.0], [0.0, 0.0]])
    gt[0, 1] = torch.tensor([[4.0, 0.0], [1.0, 0.0]])
    assert epe_per_sample(pred, gt).item() == pytest.approx((5 + 0 + 1 + 0) / 4)
    valid = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    assert epe_per_sample(pred, gt, valid).item() == pytest.approx(3.0)


def test_min_over_directions_and_absent_backward():
    gt = torch.zeros(2, 2, 4, 4)
    gt[:, 0] = 2.0
    bwd = -gt.clone()
    bwd[1] = float("nan")  # sample 1 has no backward label
    pred = -gt  # predicted the reverse direction
    m = flow_metrics(pred, gt, bwd)
    assert m["epe_fwd"].tolist() == pytest.approx([4.0, 4.0])
    assert m["epe_bwd"][0].item() == pytest.approx(0.0)
    assert math.isnan(m["epe_bwd"][1].item())
    assert m["epe_min"].tolist() == pytest.approx([0.0, 4.0])


def test_each_direction_is_scored_on_its_own_mask():
    pred = torch.zeros(1, 2, 4, 4)
    flow = torch.zeros(1, 2, 4, 4)
    flow[:, 0] = 1.0
    flow[:, 0, :, 0] = 100.0  # column 0: untrusted forward label (first frame's grid)
    bwd = torch.zeros(1, 2, 4, 4)
    bwd[:, 0] = 2.0
    bwd[:, 0, :, 3] = 100.0  # column 3: untrusted backward label (last frame's grid)
    valid, valid_bwd = torch.ones(1, 4, 4), torch.ones(1, 4, 4)
    valid[..., 0] = 0
    valid_bwd[..., 3] = 0
    m = flow_metrics(pred, flow, bwd, valid, valid_bwd)
    assert m["epe_fwd"].item() == pytest.approx(1.0)
    assert m["epe_bwd"].item() == pytest.approx(2.0)
    assert m["epe_min"].item() == pytest.approx(1.0)
    # no backward mask: every finite backward label counts; the forward mask is not borrowed
    m = flow_metrics(pred, flow, bwd, valid)
    assert m["epe_bwd"].item() == pytest.approx((12 * 2.0 + 4 * 100.0) / 16)


def test_meter_means_overall_and_per_source():
    meter = EpeMeter()
    meter.add(["a", "b"], {"epe_min": torch.tensor([1.0, 3.0]), "epe_fwd": torch.tensor([1.0, 3.0]),
                           "epe_bwd": torch.tensor([2.0, float("nan")])},
              {"epe_min": torch.tensor([5.0, 5.0]), "epe_fwd": torch.tensor([5.0, 5.0]),
               "epe_bwd": torch.tensor([5.0, float("nan")])})
    meter.add(["a"], {"epe_min": torch.tensor([2.0]), "epe_fwd": torch.tensor([2.0]), "epe_bwd": torch.tensor([4.0])})
    r = meter.result()
    assert r["n"] == 3
    assert r["epe_min"] == pytest.approx(2.0)
    assert r["epe_bwd"] == pytest.approx(3.0)  # only samples with a backward label
    assert r["zero_epe_min"] == pytest.approx(5.0)
    assert r["per_source"]["a"]["epe_min"] == pytest.approx(1.5)
    assert r["per_source"]["b"]["n"] == 1 and math.isnan(r["per_source"]["b"]["epe_bwd"])
    other = EpeMeter()
    other.merge(meter.sums)
    assert other.result()["epe_min"] == r["epe_min"]
    assert other.result()["per_source"]["a"]["n"] == 2
