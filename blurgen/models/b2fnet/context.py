"""Context network: seven dilated 3x3 convs (dilation 1, 2, 4, 8, 16, 1, 1) refine the
finest flow from the final decoded flow feature and that flow (Yu and Koltun 2015; as in
PWC-Net).

Input V_f^1 (B, C, H_1, W_1) and f^1 (B, 2, H_1, W_1); output the refined flow
f^1 + residual, same units as f^1. ReLU after every conv but the last.
"""

from __future__ import annotations

import torch
from torch import nn

from blurgen.models.b2fnet.encoder import conv3x3

DILATIONS = (1, 2, 4, 8, 16, 1, 1)


class ContextNetwork(nn.Module):
    """widths: output channels of the first six convs (the seventh outputs 2)."""

    def __init__(self, cin: int, widths: tuple[int, ...]):
        super().__init__()
        if len(widths) != len(DILATIONS) - 1:
            raise ValueError(f"context network needs {len(DILATIONS) - 1} widths, got {len(widths)}")
        layers = []
        c = cin + 2
        for w, d in zip(widths, DILATIONS[:-1]):
            layers.append(conv3x3(c, w, dilation=d))
            c = w
        layers.append(conv3x3(c, 2, dilation=DILATIONS[-1], act=False))
        self.net = nn.Sequential(*layers)

    def forward(self, feat: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        return flow + self.net(torch.cat([feat, flow.to(feat.dtype)], dim=1))
