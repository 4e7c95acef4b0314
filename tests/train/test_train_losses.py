"""Multi-scale loss: units per level, masks, weights, direction handling."""

import math

import pytest
import torch

from blurgen.train.losses import LEVEL_WEIGHTS, label_mask, multiscale_loss, resize_flow


def _levels(flow: torch.Tensor) -> list[torch.Tensor]:
    h, w = flow.shape[-2:]
    return [torch.nn.functional.interpolate(flow, size=(h // 2**lv, w // 2**lv), mode="bilinear",
                                            align_corners=False, antialias=True) for lv in range(1, 7)]


def test_constant_flow_keeps_its_value_at_every_level():
    # units: every level is in full-resolution pixels, so 8 px stays 8 (not 8 / 2^l)
    flow = torch.tensor([8.0, -3.0]).view(1, 2, 1, 1).expand(1, 2, 128, 128).contiguous()
    mask = torch.ones(1, 128, 128)
    for lv in range(1, 7):
        fl, ml = resize_flow(flow, mask, (128 // 2**lv, 128 // 2**lv))
        torch.testing.assert_close(fl, flow[..., : 128 // 2**lv, : 128 // 2**lv])
        torch.testing.assert_close(ml, torch.ones_like(ml))


def test_linear_flow_is_averaged_over_each_cell():
    # flow_x(x) = x: a level-l cell covering pixels [k*s, (k+1)*s) has mean value k*s + (s-1)/2
    w = 64
    flow = torch.zeros(1, 2, 8, w)
    flow[:, 0] = torch.arange(w, dtype=torch.float32)
    fl, _ = resize_flow(flow, torch.ones(1, 8, w), (4, 32))
    torch.testing.assert_close(fl[0, 0, 0, 1:-1], torch.arange(1, 31, dtype=torch.float32) * 2 + 0.5)


def test_masked_pixels_do_not_leak_into_the_resized_label():
    flow = torch.full((1, 2, 16, 16), 2.0)
    flow[:, :, :, :8] = float("nan")  # left half unknown
    valid = torch.ones(1, 16, 16)
    valid[:, :, :8] = 0
    fl, ml = resize_flow(flow, label_mask(flow, valid), (4, 4))
    assert torch.isfinite(fl).all()
    torch.testing.assert_close(fl[..., 2:], torch.full((1, 2, 4, 2), 2.0))
    assert (ml[:, :, :1] == 0).all() and (ml[:, :, 3:] == 1).all()


def test_loss_is_zero_at_the_label_and_weighted_per_level():
    torch.manual_seed(0)
    gt = torch.randn(2, 2, 128, 128) * 4
    flows = _levels(gt)
    loss, logs = multiscale_loss(flows, gt)
    assert loss.item() < 1e-4
    # move level 6 only by (1, 0) px everywhere: loss = w6 * pixels * 1 / 20
    flows[5] = flows[5] + torch.tensor([1.0, 0]).view(1, 2, 1, 1)
    loss, logs = multiscale_loss(flows, gt)
    assert loss.item() == pytest.approx(LEVEL_WEIGHTS[5] * 2 * 2 / 20.0, rel=1e-3)
    assert logs["loss_l6"].item() == pytest.approx(loss.item(), rel=1e-3)
    assert logs["loss_l1"].item() < 1e-5


def test_invalid_pixels_are_ignored():
    torch.manual_seed(0)
    gt = torch.randn(1, 2, 64, 64)
    valid = torch.ones(1, 64, 64)
    valid[:, :, 32:] = 0
    flows = _levels(gt * torch.cat([torch.ones(1, 1, 64, 32), torch.zeros(1, 1, 64, 32)], -1).expand(1, 2, 64, 64))
    base, _ = multiscale_loss(flows, gt, valid)
    gt2 = gt.clone()
    gt2[..., 32:] = 1e3  # change the label only where it is not trusted
    changed, _ = multiscale_loss(flows, gt2, valid)
    torch.testing.assert_close(base, changed)
    gt3 = gt.clone()
    gt3[..., 32:] = float("nan")
    assert torch.isfinite(multiscale_loss(flows, gt3, valid)[0])


def test_direction_min_takes_the_reverse_reading():
    gt = torch.zeros(2, 2, 64, 64)
    gt[:, 0] = 5.0
    bwd = -gt
    pred = _levels(bwd)  # the network answered the reverse direction
    fwd_loss, _ = multiscale_loss(pred, gt, None, bwd, direction="fwd")
    min_loss, logs = multiscale_loss(pred, gt, None, bwd, direction="min")
    assert fwd_loss.item() > 1.0
    assert min_loss.item() < 1e-4
    assert logs["bwd_frac"].item() == 1.0
    # without a backward label, min falls back to -flow
    nan_bwd = torch.full_like(gt, float("nan"))
    min2, _ = multiscale_loss(pred, gt, None, nan_bwd, direction="min")
    assert min2.item() < 1e-4
    with pytest.raises(ValueError):
        multiscale_loss(pred, gt, direction="sideways")


def test_direction_min_masks_the_reverse_reading_with_valid_bwd():
    gt = torch.zeros(1, 2, 64, 64)
    gt[:, 0] = 5.0
    pred = _levels(-gt)  # the network answered the reverse direction
    bwd = -gt.clone()
    bwd[..., 32:] = 1e3  # wrong backward labels on the right half of the last frame...
    valid_bwd = torch.ones(1, 64, 64)
    valid_bwd[..., 32:] = 0  # ...which its own mask excludes
    valid = 1 - valid_bwd  # the forward mask trusts another part of another frame
    loss, logs = multiscale_loss(pred, gt, valid, bwd, direction="min", valid_bwd=valid_bwd)
    assert loss.item() < 1e-4 and logs["bwd_frac"].item() == 1.0
    # scoring the reverse reading with the forward mask would see only the wrong labels
    wrong, logs = multiscale_loss(pred, gt, valid, bwd, direction="min", valid_bwd=valid)
    assert wrong.item() > 1.0 and logs["bwd_frac"].item() == 0.0


def test_loss_sums_over_pixels_not_average():
    gt = torch.zeros(1, 2, 128, 128)
    pred = [torch.zeros(1, 2, 128 // 2**lv, 128 // 2**lv) + torch.tensor([0.0, 20.0]).view(1, 2, 1, 1) for lv in range(1, 7)]
    loss, _ = multiscale_loss(pred, gt)  # 20 px error = 1 in div_flow units at every pixel
    expected = sum(w * (128 // 2**lv) ** 2 for lv, w in zip(range(1, 7), LEVEL_WEIGHTS))
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert not math.isnan(loss.item())
