"""B2F-net: shapes and units per level, STN at identity, ablations, warping, gradients."""

import pytest
import torch

from blurgen.models.b2fnet import B2FNet, B2FNetConfig, count_parameters, pad_to_multiple
from blurgen.models.b2fnet.decoder import FeatureDecoder, SpatialTransformer
from blurgen.models.b2fnet.estimator import backward_warp, bilinear_deconv_

TINY = 0.125


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)


def test_output_shapes_per_level():
    torch.manual_seed(0)
    net = B2FNet(B2FNetConfig(width=TINY))
    out = net(torch.rand(2, 3, 64, 128))
    assert out["flow"].shape == (2, 2, 64, 128)
    assert out["flow"].dtype == torch.float32
    assert len(out["flows"]) == 6
    for lv, f in enumerate(out["flows"], start=1):
        assert f.shape == (2, 2, 64 // 2**lv, 128 // 2**lv)
    # the full-size flow is the finest level upsampled x2 (values already in full-res px)
    up = torch.nn.functional.interpolate(out["flows"][0], scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(out["flow"], up)


def test_rejects_sizes_not_multiple_of_64():
    net = B2FNet(B2FNetConfig(width=TINY))
    with pytest.raises(ValueError, match="multiple of 64"):
        net(torch.rand(1, 3, 64, 100))


def test_pad_to_multiple_and_crop_back():
    x = torch.rand(1, 3, 70, 129)
    p, (h, w) = pad_to_multiple(x)
    assert p.shape == (1, 3, 128, 192) and (h, w) == (70, 129)
    torch.testing.assert_close(p[..., :h, :w], x)
    assert torch.equal(p[..., h:, :w], x[..., -1:, :].expand(-1, -1, 128 - h, -1))


def test_parameter_counts_full_width_and_ablations():
    full = count_parameters(B2FNet())
    no_stn = count_parameters(B2FNet(B2FNetConfig(stn=False)))
    no_rb = count_parameters(B2FNet(B2FNetConfig(refine=False)))
    neither = count_parameters(B2FNet(B2FNetConfig(stn=False, refine=False)))
    assert full == 40_329_750  # see docs/training.md for the breakdown
    assert full > no_stn > no_rb > neither
    # with neither block, the two decoders hold no weights: both are the encoder's features
    assert neither == count_parameters(B2FNet(B2FNetConfig(stn=False, refine=False)).encoder) + sum(
        count_parameters(m) for m in B2FNet(B2FNetConfig(stn=False, refine=False)).estimators
    ) + count_parameters(B2FNet(B2FNetConfig(stn=False, refine=False)).context)


def test_stn_starts_at_identity():
    torch.manual_seed(0)
    stn = SpatialTransformer(8, 4)
    u = torch.randn(2, 8, 16, 16)
    ut, theta = stn(u)
    torch.testing.assert_close(theta, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3))
    torch.testing.assert_close(ut, u, atol=1e-5, rtol=1e-5)


def test_stn_translation_moves_the_feature():
    stn = SpatialTransformer(1, 2)
    with torch.no_grad():
        # theta x-translation of 2/W * 2 px in normalised units: output(x) = input(x + 2)
        stn.fc.bias.copy_(torch.tensor([1.0, 0, 4 / 16, 0, 1.0, 0]))
    u = torch.arange(16.0).repeat(16, 1)[None, None]
    ut, _ = stn(u)
    torch.testing.assert_close(ut[0, 0, :, 3:10], u[0, 0, :, 5:12])


@pytest.mark.parametrize("stn,refine", [(True, True), (False, True), (True, False), (False, False)])
def test_ablation_variants_run_and_differ_as_specified(stn, refine):
    torch.manual_seed(0)
    chans = (4, 6, 8, 8, 10, 12)
    dec = FeatureDecoder(chans, 4, stn=stn, refine=refine)
    enc = [torch.randn(1, c, 64 // 2**i, 64 // 2**i) for i, c in enumerate(chans, start=1)]
    v, thetas = dec(enc)
    assert [t.shape for t in v] == [e.shape for e in enc]
    assert (thetas[0] is not None) == stn
    if not stn and not refine:
        assert all(a is b for a, b in zip(v, enc))
    if stn and not refine:  # identity STN at init: V = U_e
        for a, b in zip(v, enc):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    net = B2FNet(B2FNetConfig(width=TINY, stn=stn, refine=refine))
    assert net(torch.rand(1, 3, 64, 64))["flow"].shape == (1, 2, 64, 64)


def test_backward_warp_samples_at_p_plus_flow():
    feat = torch.arange(40.0).view(1, 1, 5, 8)
    flow = torch.zeros(1, 2, 5, 8)
    flow[:, 0] = 2.0  # x + 2
    flow[:, 1] = -1.0  # y - 1
    out = backward_warp(feat, flow)
    torch.testing.assert_close(out[0, 0, 1:, :6], feat[0, 0, :4, 2:])
    assert torch.all(out[0, 0, 0] == 0)  # row y-1 = -1 lies outside: zero
    half = backward_warp(feat, torch.full((1, 2, 5, 8), 0.5) * torch.tensor([1.0, 0]).view(1, 2, 1, 1))
    torch.testing.assert_close(half[0, 0, :, :7], (feat[0, 0, :, :7] + feat[0, 0, :, 1:]) / 2)


def test_flow_deconv_starts_as_bilinear_upsampling():
    d = torch.nn.ConvTranspose2d(2, 2, 4, stride=2, padding=1)
    bilinear_deconv_(d)
    x = torch.randn(1, 2, 6, 7)
    up = torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    # identical away from the border (the deconv pads with zeros at the frame edge)
    torch.testing.assert_close(d(x)[..., 1:-1, 1:-1], up[..., 1:-1, 1:-1], atol=1e-5, rtol=1e-5)


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    net = B2FNet(B2FNetConfig(width=TINY))
    out = net(torch.rand(2, 3, 64, 64))
    loss = sum(f.abs().mean() for f in out["flows"])
    loss.backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None]
    assert not missing, missing


def test_width_multiplier_scales_channels():
    small = count_parameters(B2FNet(B2FNetConfig(width=0.25)))
    full = count_parameters(B2FNet(B2FNetConfig(width=1.0)))
    assert full / 20 < small < full / 8  # about width^2
