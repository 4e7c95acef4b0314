"""Super-SloMo: the port's layout, strict checkpoint loading, the blend; random weights only."""

from __future__ import annotations

import datetime
import time

import numpy as np
import pytest
import torch

from blurgen.errors import InputError
from blurgen.models.superslomo import (
    MEAN,
    SuperSloMo,
    UNet,
    backward_warp,
    blend,
    intermediate_flows,
    load_checkpoint,
    pad_to_multiple,
    read_checkpoint,
    save_checkpoint,
)
from blurgen.synth.interpolate import SuperSloMoInterpolator

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SuperSloMo().eval()


@pytest.fixture(scope="module")
def ckpt_dir(tmp_path_factory, model):
    """Checkpoints written the way the public port writes them (weights + a datetime)."""
    d = tmp_path_factory.mktemp("slomo")
    save_checkpoint(d / "public.ckpt", model, timestamp=datetime.datetime(2018, 11, 5), epoch=199)
    save_checkpoint(d / "plain.ckpt", model)  # tensors only
    return d


def test_networks_have_the_ports_layout(model):
    n_fc = sum(p.numel() for p in model.flow_net.parameters())
    n_at = sum(p.numel() for p in model.interp_net.parameters())
    assert 19.7e6 < n_fc < 19.9e6 and 19.7e6 < n_at < 19.9e6
    keys = set(model.flow_net.state_dict())
    assert {"conv1.weight", "down1.conv1.weight", "up5.conv2.bias", "conv3.weight"} <= keys
    assert model.flow_net.conv1.in_channels == 6 and model.flow_net.conv3.out_channels == 4
    assert model.interp_net.conv1.in_channels == 20 and model.interp_net.conv3.out_channels == 5
    assert UNet(6, 4)(torch.zeros(1, 6, 32, 64)).shape == (1, 4, 32, 64)


def test_public_format_needs_the_trust_flag(ckpt_dir):
    path = ckpt_dir / "public.ckpt"
    with pytest.raises(InputError) as e:
        read_checkpoint(path)
    msg = str(e.value)
    assert str(path) in msg and "--trust-checkpoint" in msg and "datetime" in msg and "trusted source" in msg
    ck = read_checkpoint(path, trust=True)
    assert isinstance(ck["timestamp"], datetime.datetime)


def test_strict_loading(ckpt_dir, model):
    loaded = load_checkpoint(ckpt_dir / "plain.ckpt")  # tensors only: the safe loader reads it
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    loaded = load_checkpoint(ckpt_dir / "public.ckpt", trust=True)
    assert torch.equal(loaded.interp_net.conv3.weight, model.interp_net.conv3.weight)


@pytest.mark.parametrize("change, needle", [
    (lambda ck: ck["state_dictFC"].pop("down3.conv2.bias"), "missing state_dictFC.down3.conv2.bias"),
    (lambda ck: ck["state_dictAT"].__setitem__("extra.weight", torch.zeros(1)), "unexpected state_dictAT.extra.weight"),
    (lambda ck: ck["state_dictAT"].__setitem__("conv1.weight", torch.zeros(32, 6, 7, 7)), "state_dictAT.conv1.weight has shape"),
    (lambda ck: ck.pop("state_dictAT"), "missing state_dictAT"),
])
def test_a_missing_extra_or_misshapen_key_is_named(tmp_path, model, change, needle):
    ck = {"state_dictFC": dict(model.flow_net.state_dict()), "state_dictAT": dict(model.interp_net.state_dict())}
    change(ck)
    path = tmp_path / "bad.ckpt"
    torch.save(ck, path)
    with pytest.raises(InputError) as e:
        load_checkpoint(path)
    assert needle in str(e.value) and str(path) in str(e.value)


def test_unreadable_or_missing_checkpoint(tmp_path):
    bad = tmp_path / "broken.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="broken.ckpt"):
        read_checkpoint(bad)
    with pytest.raises(InputError, match="not found"):
        read_checkpoint(tmp_path / "absent.ckpt")


def test_blend_properties():
    torch.manual_seed(1)
    g0, g1 = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    t = torch.tensor([0.3, 0.8]).view(2, 1, 1, 1)
    half = torch.full((2, 1, 8, 8), 0.5)
    assert torch.allclose(blend(g0, g1, half, t), (1 - t) * g0 + t * g1, atol=1e-6)  # equal visibility
    near0 = torch.full((2, 1, 1, 1), 1e-6)
    v = torch.rand(2, 1, 8, 8) * 0.8 + 0.1
    assert torch.allclose(blend(g0, g1, v, near0), g0, atol=1e-4)  # t -> 0 gives I0


def test_intermediate_flows_and_warp():
    f01 = torch.randn(1, 2, 8, 8)
    f10 = torch.randn(1, 2, 8, 8)
    ft0, ft1 = intermediate_flows(f01, f10, torch.zeros(1, 1, 1, 1))
    assert torch.allclose(ft0, torch.zeros_like(ft0)) and torch.allclose(ft1, f01)
    ft0, ft1 = intermediate_flows(f01, f10, torch.ones(1, 1, 1, 1))
    assert torch.allclose(ft0, f10) and torch.allclose(ft1, torch.zeros_like(ft1))
    img = torch.rand(1, 3, 6, 9)
    zero = torch.zeros(1, 2, 6, 9)
    assert torch.allclose(backward_warp(img, zero, exact=True), img, atol=1e-5)
    # a whole-pixel shift reads the neighbour
    shift = zero.clone()
    shift[:, 0] = 1.0
    assert torch.allclose(backward_warp(img, shift, exact=True)[..., :-1], img[..., 1:], atol=1e-5)
    # the port's normalisation: zero flow reads pixel (x, y) at (x (W - 1) / W, y (H - 1) / H)
    ported = backward_warp(img, zero)
    h, w = img.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    shrink = torch.stack([xs * ((w - 1) / w - 1), ys * ((h - 1) / h - 1)])[None]
    assert torch.allclose(ported, backward_warp(img, shrink, exact=True), atol=1e-5)
    assert not torch.allclose(ported, img, atol=1e-3)


def test_pad_to_multiple_pads_edges_and_crops_back():
    x = torch.arange(2 * 180 * 20, dtype=torch.float32).view(1, 2, 180, 20)
    p, (h, w) = pad_to_multiple(x)
    assert p.shape[-2:] == (192, 32) and (h, w) == (180, 20)
    assert torch.equal(p[..., :h, :w], x)
    assert torch.equal(p[..., 191, :w], x[..., 179, :])


def test_interpolator_at_320x180_batches_all_times(model):
    """One flow pass and one batched interpolation pass at 320x180: shapes, finite values,
    the same frames whatever the batch size, and seconds, not minutes."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (180, 320, 3)).astype(np.uint8)
    b = np.roll(a, 3, axis=1)
    times = [0.25, 0.75]
    it = SuperSloMoInterpolator(model, "cpu")
    t0 = time.perf_counter()
    frames = list(it.frames(a, b, times=times))
    assert time.perf_counter() - t0 < 60
    assert len(frames) == 2 and all(f.shape == (180, 320, 3) and f.dtype == np.float32 for f in frames)
    assert all(np.isfinite(f).all() and f.min() >= 0 and f.max() <= 255 for f in frames)
    total = SuperSloMoInterpolator(model, "cpu", max_batch=1).sum_frames(a, b, times=times)
    assert np.allclose(total, frames[0] + frames[1], atol=1e-2)


def test_mean_is_subtracted_and_added_back(model):
    """A uniform grey pair stays close to itself only if the input normalisation is undone."""
    grey = np.full((64, 64, 3), 120, np.uint8)
    it = SuperSloMoInterpolator(model, "cpu")
    i0, _, size, mean = it._prepare(grey, grey)
    assert size == (64, 64)
    assert torch.allclose(i0[0, :, 0, 0], torch.tensor([120 / 255 - m for m in MEAN]), atol=1e-6)
