"""B2F-net (Argaw et al., AAAI 2021): optical flow from a single motion-blurred image.

blur (B, 3, H, W) float in [0, 1], H and W multiples of 64
  -> encoder                      [U_e^1..U_e^6]            encoder.py
  -> two feature decoders         [V_1^l], [V_2^l]          decoder.py (STN + refining block)
  -> flow estimator, l = 6..1     f^6 .. f^1                estimator.py (warp, cost, decoder)
  -> context network on f^1                                 context.py
  -> bilinear x2 to full size     flow (B, 2, H, W)

Channel widths (``width`` = 1) follow PWC-Net (Sun et al. 2018), the flow network the
paper builds its estimator on: encoder C_l = 16, 32, 64, 96, 128, 196 for levels 1..6;
dense flow decoder 128, 128, 96, 64, 32; context network 128, 128, 128, 96, 64, 32, 2.
Each refining block uses C_l for all five convs, so a decoded feature V^l has the shape of
the encoded U_e^l it stands in for (a sharp frame's feature, as in two-frame PWC-Net). The
STN localisation convs are 32 wide. ``width`` scales every width (tests use 0.25 or less).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blurgen.models import padding
from blurgen.models.b2fnet.config import B2FNetConfig
from blurgen.models.b2fnet.context import ContextNetwork
from blurgen.models.b2fnet.decoder import FeatureDecoder
from blurgen.models.b2fnet.encoder import FeatureEncoder
from blurgen.models.b2fnet.estimator import FlowEstimatorLevel

ENCODER = (16, 32, 64, 96, 128, 196)
FLOW_DECODER = (128, 128, 96, 64, 32)
CONTEXT = (128, 128, 128, 96, 64, 32)
STN_HIDDEN = 32
N_LEVELS = 6
MULTIPLE = 2**N_LEVELS  # input sizes must be multiples of 64


def _w(n: int, width: float) -> int:
    return max(2, int(round(n * width)))


class B2FNet(nn.Module):
    """See the module doc. ``forward`` returns a dict:

    - ``flow``: (B, 2, H, W) float32, pixels, [:, 0] = x; flow first -> last frame.
    - ``flows``: list of 6 tensors, finest first: ``flows[l-1]`` is (B, 2, H/2^l, W/2^l),
      in full-resolution pixels (not the level's own pixels); ``flows[0]`` is the
      context-refined finest flow. These are what the multi-scale loss compares.
    - ``thetas``: the STN transforms (list of (B, 2, 3) or None), ``(first, last)`` per level.
    """

    def __init__(self, config: B2FNetConfig | None = None):
        super().__init__()
        self.config = cfg = config or B2FNetConfig()
        enc = tuple(_w(c, cfg.width) for c in ENCODER)
        dense = tuple(_w(c, cfg.width) for c in FLOW_DECODER)
        ctx = tuple(_w(c, cfg.width) for c in CONTEXT)
        hidden = _w(STN_HIDDEN, cfg.width)
        self.encoder = FeatureEncoder(enc)
        self.decoder_first = FeatureDecoder(enc, hidden, stn=cfg.stn, refine=cfg.refine)
        self.decoder_last = FeatureDecoder(enc, hidden, stn=cfg.stn, refine=cfg.refine)
        self.estimators = nn.ModuleList([
            FlowEstimatorLevel(enc[i], dense, level=i + 1, coarsest=(i == N_LEVELS - 1),
                               finest=(i == 0), max_disp=cfg.max_disp, div_flow=cfg.div_flow,
                               corr_impl=cfg.corr_impl)
            for i in range(N_LEVELS)
        ])
        self.context = ContextNetwork(self.estimators[0].out_channels, ctx)
        init_weights(self)

    def forward(self, blur: torch.Tensor) -> dict:
        h, w = blur.shape[-2:]
        if h % MULTIPLE or w % MULTIPLE:
            raise ValueError(f"B2FNet input must be a multiple of {MULTIPLE} in H and W, got {h}x{w}; pad first")
        enc = self.encoder(blur - 0.5)
        v1, th1 = self.decoder_first(enc)
        v2, th2 = self.decoder_last(enc)
        flows: list[torch.Tensor | None] = [None] * N_LEVELS
        up_flow = up_feat = None
        for i in range(N_LEVELS - 1, -1, -1):
            out = self.estimators[i](v1[i], v2[i], up_flow, up_feat)
            flow = out["flow"]
            if i == 0:
                flow = self.context(out["feat"], flow)
            else:
                up_flow, up_feat = out["up_flow"], out["up_feat"]
            flows[i] = flow.float() * self.config.div_flow
        full = F.interpolate(flows[0], scale_factor=2, mode="bilinear", align_corners=False)
        return {"flow": full, "flows": flows, "thetas": list(zip(th1, th2))}


def init_weights(model: nn.Module) -> None:
    """He (MSRA) initialisation of every conv for the ReLU network, zero biases.

    PyTorch's default conv init scales activations down at every ReLU layer; through
    the ~25 convs between the image and a flow this left the network stuck at the mean
    flow for hundreds of steps in our tests, while He init learns at once (FlowNet and
    PWC-Net's Caffe models use the same MSRA init). The flow-upsampling deconvolutions
    stay bilinear and the STNs stay at identity (their own init, kept here).
    """
    for m in model.modules():
        if isinstance(m, nn.ConvTranspose2d):
            if getattr(m, "_bilinear_init", False):
                continue
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
        else:
            continue
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def pad_to_multiple(x: torch.Tensor, multiple: int = MULTIPLE) -> tuple[torch.Tensor, tuple[int, int]]:
    """``padding.pad_to_multiple`` with B2F-net's multiple (64) as the default."""
    return padding.pad_to_multiple(x, multiple)
