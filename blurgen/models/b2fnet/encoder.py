"""Feature encoder (Fig. 2a, left): six blocks of two 3x3 convs (stride 2, then 1) + ReLU.

Level l (1..6) has half the size of level l-1 (level 0 = the input image):
``U_e^l`` is (B, C_l, H / 2^l, W / 2^l). Input H and W must be multiples of 64.
"""

from __future__ import annotations

import torch
from torch import nn


def conv3x3(cin: int, cout: int, stride: int = 1, dilation: int = 1, act: bool = True) -> nn.Sequential:
    """3x3 convolution with 'same' padding (for stride 1), optionally followed by ReLU."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation)
    ]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class FeatureEncoder(nn.Module):
    """Blurred image (B, 3, H, W) -> [U_e^1, ..., U_e^6], U_e^l (B, C_l, H/2^l, W/2^l).

    channels: (C_1, ..., C_6).
    """

    def __init__(self, channels: tuple[int, ...]):
        super().__init__()
        blocks = []
        cin = 3
        for c in channels:
            blocks.append(nn.Sequential(conv3x3(cin, c, stride=2), conv3x3(c, c, stride=1)))
            cin = c
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return feats
