"""Feature decoder (Fig. 2a, right): STN + refining block per level, coarse to fine.

One decoder reconstructs first-frame features, a second one (same layout, own weights)
last-frame features. At level l (6 = coarsest, 1 = finest):

    U_t^l = T_theta^l(U_e^l)                                   STN, eq. (1)
    V^l   = R^l(U_t^l (+) U_e^l (+) deconv4x4s2(V^{l+1}))      refining block, eq. (2)

All tensors (B, C_l, H_l, W_l), H_l = H / 2^l. Ablations (paper's Table 3):
- ``stn=False``: no transform, R^l takes U_e^l (+) up(V^{l+1}) (the duplicate U_e dropped);
- ``refine=False``: V^l = U_t^l (no refining block, no deconv from the level above);
- both off: V^l = U_e^l for both frames (flow from encoded features only).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blurgen.models.b2fnet.encoder import conv3x3


class SpatialTransformer(nn.Module):
    """Global affine transform of a feature map, predicted from the feature itself.

    Localisation net: two 3x3 convs (stride 2) + ReLU, global average pool, a linear layer
    to theta (B, 2, 3) in grid_sample's normalised coordinates (x, y in [-1, 1]). The
    linear layer starts at zero weight and identity bias, so theta = identity at
    initialisation and the decoder starts from U_t = U_e.
    """

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.loc = nn.Sequential(
            conv3x3(channels, hidden, stride=2), conv3x3(hidden, hidden, stride=2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.fc = nn.Linear(hidden, 6)
        nn.init.zeros_(self.fc.weight)
        with torch.no_grad():
            self.fc.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))

    def theta(self, u: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> theta (B, 2, 3) float32."""
        return self.fc(self.loc(u)).float().view(-1, 2, 3)

    def forward(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, H, W) -> (transformed feature, same shape and dtype; theta (B, 2, 3))."""
        theta = self.theta(u)
        with torch.autocast(device_type=u.device.type, enabled=False):  # sampling in float32
            grid = F.affine_grid(theta.float(), list(u.shape), align_corners=False)
            out = F.grid_sample(u.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return out.to(u.dtype), theta


class DenseBlock(nn.Module):
    """Densely connected 3x3 convs + ReLU: conv i sees the input and every earlier output.

    ``concat_output=False``: returns the last conv's output (``widths[-1]`` channels);
    ``True``: returns [out_n, ..., out_1, input] concatenated (PWC-Net's flow decoder).
    """

    def __init__(self, cin: int, widths: tuple[int, ...], concat_output: bool = False):
        super().__init__()
        convs = []
        c = cin
        for w in widths:
            convs.append(conv3x3(c, w))
            c += w
        self.convs = nn.ModuleList(convs)
        self.concat_output = concat_output
        self.out_channels = c if concat_output else widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for conv in self.convs:
            y = conv(x)
            x = torch.cat([y, x], dim=1)
        return x if self.concat_output else y


class FeatureDecoder(nn.Module):
    """Encoded features [U_e^1..U_e^6] -> decoded features [V^1..V^6] (same shapes).

    channels: (C_1, ..., C_6) of the encoder; stn_hidden: width of the STN localisation
    convs. Returns (V list finest first, thetas list finest first; None where no STN).
    """

    def __init__(self, channels: tuple[int, ...], stn_hidden: int, stn: bool = True, refine: bool = True):
        super().__init__()
        self.stn_on, self.refine_on = stn, refine
        n = len(channels)
        self.stns = nn.ModuleList([SpatialTransformer(c, stn_hidden) for c in channels]) if stn else None
        if refine:
            blocks, ups = [], []
            for lv, c in enumerate(channels):
                cin = c * (2 if stn else 1)
                if lv < n - 1:  # a level above exists
                    cin += c
                    ups.append(nn.ConvTranspose2d(channels[lv + 1], c, 4, stride=2, padding=1))
                blocks.append(DenseBlock(cin, (c, c, c, c, c)))
            self.blocks = nn.ModuleList(blocks)
            self.ups = nn.ModuleList(ups)

    def forward(self, enc: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        n = len(enc)
        out: list[torch.Tensor | None] = [None] * n
        thetas: list[torch.Tensor | None] = [None] * n
        above = None
        for lv in range(n - 1, -1, -1):
            u = enc[lv]
            parts = []
            if self.stn_on:
                ut, thetas[lv] = self.stns[lv](u)
                parts.append(ut)
            if not self.refine_on:
                out[lv] = parts[0] if parts else u
                continue
            parts.append(u)
            if above is not None:
                parts.append(self.ups[lv](above))
            above = self.blocks[lv](torch.cat(parts, dim=1))
            out[lv] = above
        return out, thetas
