"""Super-SloMo conformance: blurgen against the public PyTorch port's arithmetic, restated here.

The port (avinashpaliwal/Super-SloMo, ``model.py`` + ``video_to_slomo.py``, PyTorch 0.4.1)
is restated below from its code, independently of ``blurgen.models.superslomo``: U-Net
blocks with LeakyReLU(0.1), 2x2 average-pool down blocks, bilinear x2 up blocks with the
default of ``F.interpolate`` (``align_corners=False``: output pixel i reads input position
(i + 0.5) / 2 - 0.5, edges clamped), skip concatenated after the upsampled features, the
intermediate-flow equations, the interpolation net's input order, the sigmoid visibility
and the blend, the backward warp (coordinates ``2 (x / W - 0.5)`` read by ``grid_sample``
with its 0.4.1 behaviour, ``align_corners=True``, zeros outside) and the input normalised
by the mean (0.429, 0.431, 0.397). Upsampling, warp, pooling, LeakyReLU and sigmoid are
written out by hand; only the convolutions are torch's.

Both run on a random checkpoint in the port's format (``state_dictFC``, ``state_dictAT``
and a ``datetime``), made here with a signal-preserving init (Kaiming for LeakyReLU(0.1),
heads scaled so flows are pixels, not hundredths), on a real Sintel pair cropped to
64x96 (a multiple of 32: the port would not resize it, blurgen would not pad it).
Each deliberate mistake in the restatement (the up-blocks' align_corners, a swapped input
order, a wrong normalisation) is checked to move the frames far beyond the tolerance.
"""

from __future__ import annotations

import datetime
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from blurgen.synth.interpolate import SuperSloMoInterpolator
from shared_data import REALDATA

torch.set_num_threads(2)

PORT_MEAN = (0.429, 0.431, 0.397)
SLOPE = 0.1
TIMES = (0.125, 0.5, 0.875)
ROWS, COLS = slice(96, 160), slice(416, 512)  # 64x96, textured, flow about 3.5 px
TOL_FRAME = 0.05  # /255, max over pixels, channels and times (float32 rounding: ~0.002)
TOL_FLOW = 1e-3  # px


# ----------------------------------------------------------------------------- the port, restated
def unet_layout(cin: int, cout: int):
    """``(name, in, out, kernel)`` of every convolution of the port's ``UNet(cin, cout)``."""
    yield "conv1", cin, 32, 7
    yield "conv2", 32, 32, 7
    for i, (a, b, k) in enumerate([(32, 64, 5), (64, 128, 3), (128, 256, 3), (256, 512, 3), (512, 512, 3)], 1):
        yield f"down{i}.conv1", a, b, k
        yield f"down{i}.conv2", b, b, k
    for i, (a, b) in enumerate([(512, 512), (512, 256), (256, 128), (128, 64), (64, 32)], 1):
        yield f"up{i}.conv1", a, b, 3
        yield f"up{i}.conv2", 2 * b, b, 3
    yield "conv3", 32, cout, 3


def random_state(cin: int, cout: int, head_gain: float, gen: torch.Generator) -> dict:
    """Kaiming-normal weights for LeakyReLU(0.1) (activations keep their size through the
    net), small biases, the head scaled by ``head_gain``."""
    gain = math.sqrt(2.0 / (1.0 + SLOPE ** 2))
    sd = {}
    for name, a, b, k in unet_layout(cin, cout):
        scale = gain / math.sqrt(a * k * k) * (head_gain if name == "conv3" else 1.0)
        sd[f"{name}.weight"] = torch.randn(b, a, k, k, generator=gen) * scale
        sd[f"{name}.bias"] = torch.randn(b, generator=gen) * 0.01 * (head_gain if name == "conv3" else 1.0)
    return sd


def lrelu(x):
    return torch.where(x >= 0, x, SLOPE * x)


def avg_pool2(x):
    b, c, h, w = x.shape
    return x.view(b, c, h // 2, 2, w // 2, 2).mean((3, 5))


def _up2_axis(x, dim):
    """Linear x2 along ``dim``, align_corners=False: out[2k] = .75 x[k] + .25 x[k-1],
    out[2k+1] = .75 x[k] + .25 x[k+1], indices clamped to the edge."""
    n = x.shape[dim]
    prev = x.index_select(dim, torch.clamp(torch.arange(n) - 1, 0, n - 1))
    nxt = x.index_select(dim, torch.clamp(torch.arange(n) + 1, 0, n - 1))
    even, odd = 0.75 * x + 0.25 * prev, 0.75 * x + 0.25 * nxt
    return torch.stack([even, odd], dim + 1).flatten(dim, dim + 1)


def up2(x):
    return _up2_axis(_up2_axis(x, 2), 3)


def up2_corners(x):  # the mistake: align_corners=True in the up-blocks
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


def unet(sd: dict, x, up=up2):
    def conv(name, y):
        w = sd[f"{name}.weight"]
        return F.conv2d(y, w, sd[f"{name}.bias"], padding=w.shape[-1] // 2)

    x = lrelu(conv("conv1", x))
    skips = [lrelu(conv("conv2", x))]
    for i in range(1, 6):
        y = avg_pool2(skips[-1])
        skips.append(lrelu(conv(f"down{i}.conv2", lrelu(conv(f"down{i}.conv1", y)))))
    x = skips.pop()
    for i in range(1, 6):
        x = lrelu(conv(f"up{i}.conv1", up(x)))
        x = lrelu(conv(f"up{i}.conv2", torch.cat([x, skips.pop()], 1)))
    return lrelu(conv("conv3", x))


def warp(img, flow, exact=False):
    """The port's backWarp: read ``img`` at ``p + flow`` after mapping x to
    ``2 (x / W - 0.5)`` and back through align_corners=True, i.e. at ``x (W - 1) / W``;
    bilinear, zero outside. ``exact`` (the mistake): at ``x`` itself."""
    b, c, h, w = img.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=img.dtype), torch.arange(w, dtype=img.dtype), indexing="ij")
    px, py = xs + flow[:, 0], ys + flow[:, 1]
    if not exact:
        px, py = (2 * (px / w - 0.5) + 1) / 2 * (w - 1), (2 * (py / h - 0.5) + 1) / 2 * (h - 1)
    x0, y0 = torch.floor(px), torch.floor(py)
    out = torch.zeros_like(img)
    flat = img.reshape(b, c, h * w)
    for dx in (0, 1):
        for dy in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            wgt = (1 - (px - xi).abs()) * (1 - (py - yi).abs())
            ok = (xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1)
            idx = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).long().view(b, 1, h * w).expand(b, c, h * w)
            out += (flat.gather(2, idx).view(b, c, h, w) * (wgt * ok)[:, None])
    return out


def port(fc: dict, at: dict, img0, img1, times, mistake: str | None = None):
    """video_to_slomo.py on uint8 RGB (H, W, 3): ``(flows (1, 4, H, W), frames [(H, W, 3)]
    in 0..255, stats)``. ``mistake`` restates one thing wrongly (see the tests)."""
    mean = torch.tensor(PORT_MEAN).view(1, 3, 1, 1)
    if mistake == "no mean":
        mean = torch.zeros_like(mean)
    up = up2_corners if mistake == "up align_corners" else up2
    exact = mistake == "warp exact"

    def tensor(img):
        return torch.from_numpy(np.asarray(img, np.float32)).permute(2, 0, 1)[None] / 255.0 - mean

    i0, i1 = tensor(img0), tensor(img1)
    flows = unet(fc, torch.cat([i0, i1], 1), up)
    f01, f10 = flows[:, :2], flows[:, 2:]
    frames, stats = [], []
    for t in times:
        ft0 = -t * (1 - t) * f01 + t * t * f10
        ft1 = (1 - t) * (1 - t) * f01 - t * (1 - t) * f10
        g0, g1 = warp(i0, ft0, exact), warp(i1, ft1, exact)
        parts = [i0, i1, f01, f10, ft1, ft0, g1, g0]
        if mistake == "swapped warps":
            parts = [i0, i1, f01, f10, ft1, ft0, g0, g1]
        if mistake == "swapped flows":
            parts = [i0, i1, f01, f10, ft0, ft1, g1, g0]
        out = unet(at, torch.cat(parts, 1), up)
        v0 = 1.0 / (1.0 + torch.exp(-out[:, 4:5]))
        w0, w1 = (1 - t) * v0, t * (1 - v0)
        it = (w0 * warp(i0, out[:, 0:2] + ft0, exact) + w1 * warp(i1, out[:, 2:4] + ft1, exact)) / (w0 + w1)
        frames.append(((it + mean) * 255).clamp(0, 255)[0].permute(1, 2, 0).numpy())
        stats.append((out[:, :4].std().item(), v0.std().item()))
    return flows, frames, stats


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def pair():
    d = REALDATA / "sintel_alley_1"
    if not (d / "frame_0003.png").is_file():
        pytest.skip(f"real test data missing: {d} (set $BLURGEN_REALDATA to the shared realdata folder)")
    from blurgen.io.frames import read_image

    return tuple(np.ascontiguousarray(read_image(d / f)[ROWS, COLS]) for f in ("frame_0002.png", "frame_0003.png"))


@pytest.fixture(scope="module")
def weights():
    gen = torch.Generator().manual_seed(12)
    return random_state(6, 4, 16.0, gen), random_state(20, 5, 5.0, gen)


@pytest.fixture(scope="module")
def blurgen_it(tmp_path_factory, weights):
    """blurgen's interpolator on a checkpoint written the way the port's train.py writes it."""
    fc, at = weights
    path = tmp_path_factory.mktemp("conformance") / "random.ckpt"
    torch.save({"Detail": "random", "epoch": 0, "timestamp": datetime.datetime(2018, 11, 5),
                "state_dictFC": fc, "state_dictAT": at}, path)
    return SuperSloMoInterpolator.from_checkpoint(path, trust=True, device="cpu")


@pytest.fixture(scope="module")
def reference(weights, pair):
    with torch.no_grad():
        return port(*weights, *pair, TIMES)


@pytest.fixture(scope="module")
def ours(blurgen_it, pair):
    i0, i1, _, _ = blurgen_it._prepare(*pair)
    with torch.inference_mode():
        f01, f10 = blurgen_it.model.flows(i0, i1)
    return torch.cat([f01, f10], 1), list(blurgen_it.frames(*pair, times=TIMES))


# ----------------------------------------------------------------------------- tests
def test_random_checkpoint_keeps_the_signal(reference, pair):
    """The comparison means something only if flows, residuals and visibility are not ~0."""
    flows, frames, stats = reference
    assert flows.std() > 1.0 and flows.abs().max() > 5.0  # pixels
    for residual_std, v0_std in stats:
        assert residual_std > 0.5 and v0_std > 0.05
    a, b = (p.astype(np.float32) for p in pair)
    fade = 0.5 * a + 0.5 * b
    assert np.abs(frames[1] - fade).mean() > 5.0  # not a cross-fade in disguise


def test_flow_net_matches_the_port(reference, ours):
    diff = (ours[0] - reference[0]).abs()
    assert diff.max() < TOL_FLOW, f"flow net differs by up to {diff.max():.4g} px"


def test_frames_match_the_port(reference, ours):
    for t, want, got in zip(TIMES, reference[1], ours[1]):
        assert got.shape == want.shape == (64, 96, 3)
        diff = np.abs(got - want)
        assert diff.max() < TOL_FRAME, f"t={t}: differs by up to {diff.max():.4g}/255 (mean {diff.mean():.4g})"


@pytest.mark.parametrize("mistake", ["up align_corners", "swapped warps", "swapped flows", "no mean", "warp exact"])
def test_each_mistake_is_far_outside_the_tolerance(weights, pair, ours, mistake):
    """The tolerance catches each of these: a blurgen that made the mistake would fail above."""
    with torch.no_grad():
        _, (wrong,), _ = port(*weights, *pair, TIMES[1:2], mistake)
    worst = np.abs(ours[1][1] - wrong).max()
    assert worst > 100 * TOL_FRAME, f"{mistake}: only {worst:.4g}/255 from blurgen"
