"""Flow estimator for one level (Fig. 2b): warp, cost volume, dense flow decoder, prediction.

At level l (6 = coarsest, 1 = finest), with first/last-frame features V_1^l, V_2^l
(B, C_l, H_l, W_l) and the upsampled flow and flow feature from level l+1:

    V_2w  = warp(V_2^l, up(f^{l+1}))                                  eq. (3)
    V_f^l = D^l(C(V_1^l, V_2w) (+) V_1^l (+) up(V_f^{l+1}) (+) up(f^{l+1}))   eq. (4)
    f^l   = P^l(V_f^l)                                                eq. (5)

Flow units inside the network: full-resolution pixels divided by ``div_flow`` (20, as in
FlowNet / PWC-Net) at every level, so the values need no rescaling between levels; the
warp at level l converts them to the level's own pixels with ``div_flow / 2^l``. The
levels' up(.) are 4x4 stride-2 transposed convolutions: flow 2 -> 2 channels (initialised
to bilinear upsampling), flow feature -> 2 channels (PWC-Net's "upfeat").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blurgen.models.b2fnet.correlation import correlation
from blurgen.models.b2fnet.decoder import DenseBlock


def backward_warp(feat: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``feat`` at ``p + flow(p)``: out[b, :, y, x] = feat[b, :, y + fy, x + fx].

    feat (B, C, H, W); flow (B, 2, H, W) in pixels of this grid, [:, 0] = x. Bilinear,
    zero outside the frame. Computed in float32; returns feat's dtype.
    """
    with torch.autocast(device_type=feat.device.type, enabled=False):  # sampling in float32
        return _backward_warp(feat, flow)


def _backward_warp(feat: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    b, _, h, w = feat.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, device=feat.device, dtype=torch.float32),
        torch.arange(w, device=feat.device, dtype=torch.float32), indexing="ij",
    )
    x = xs + flow[:, 0].float()
    y = ys + flow[:, 1].float()
    grid = torch.stack([2.0 * x / max(w - 1, 1) - 1.0, 2.0 * y / max(h - 1, 1) - 1.0], dim=-1)
    out = F.grid_sample(feat.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.to(feat.dtype)


def bilinear_deconv_(deconv: nn.ConvTranspose2d) -> None:
    """Initialise a 4x4 stride-2 transposed conv (C -> C) to per-channel bilinear x2 upsampling."""
    k = deconv.kernel_size[0]
    f = (k + 1) // 2
    centre = f - 1 if k % 2 == 1 else f - 0.5
    og = torch.arange(k, dtype=torch.float32)
    filt1 = 1 - (og - centre).abs() / f
    filt = filt1[:, None] * filt1[None, :]
    with torch.no_grad():
        deconv.weight.zero_()
        for c in range(min(deconv.in_channels, deconv.out_channels)):
            deconv.weight[c, c] = filt
        if deconv.bias is not None:
            deconv.bias.zero_()
    deconv._bilinear_init = True  # B2FNet's init_weights leaves it as it is


class FlowEstimatorLevel(nn.Module):
    """One level of the coarse-to-fine estimator.

    feat_ch: C_l; dense: widths of the 5 densely connected convs; coarsest: no input from a
    level above (no warp, no up-inputs); finest: no upsampling outputs; level: l (1..6),
    fixes the warp scale ``div_flow / 2^l``.
    """

    def __init__(self, feat_ch: int, dense: tuple[int, ...], level: int, coarsest: bool,
                 finest: bool, max_disp: int = 4, div_flow: float = 20.0, corr_impl: str = "auto"):
        super().__init__()
        self.level, self.coarsest, self.finest = level, coarsest, finest
        self.max_disp, self.corr_impl = max_disp, corr_impl
        self.warp_scale = div_flow / 2**level
        n_cost = (2 * max_disp + 1) ** 2
        cin = n_cost + feat_ch + (0 if coarsest else 4)
        self.decoder = DenseBlock(cin, dense, concat_output=True)
        self.out_channels = self.decoder.out_channels
        self.predict = nn.Conv2d(self.out_channels, 2, 3, padding=1)
        if not finest:
            self.up_flow = nn.ConvTranspose2d(2, 2, 4, stride=2, padding=1)
            bilinear_deconv_(self.up_flow)
            self.up_feat = nn.ConvTranspose2d(self.out_channels, 2, 4, stride=2, padding=1)

    def forward(self, v1: torch.Tensor, v2: torch.Tensor, up_flow: torch.Tensor | None,
                up_feat: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """-> {"flow": f^l (B,2,H_l,W_l), "feat": V_f^l, "up_flow", "up_feat" (2x size)}."""
        if not self.coarsest:
            v2 = backward_warp(v2, up_flow * self.warp_scale)
        cost = F.leaky_relu(correlation(v1, v2, self.max_disp, self.corr_impl), 0.1).to(v1.dtype)
        parts = [cost, v1] if self.coarsest else [cost, v1, up_flow.to(v1.dtype), up_feat.to(v1.dtype)]
        feat = self.decoder(torch.cat(parts, dim=1))
        out = {"flow": self.predict(feat), "feat": feat}
        if not self.finest:
            out["up_flow"] = self.up_flow(out["flow"])
            out["up_feat"] = self.up_feat(feat)
        return out
