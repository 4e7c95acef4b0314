"""Cost volume: correlation between two feature maps over a square search window.

``correlation(f1, f2, max_disp=4)`` compares every position of ``f1`` with the positions of
``f2`` displaced by ``(dy, dx)``, ``|dy|, |dx| <= max_disp``, stride 1 (the paper's search
range 4: 9 x 9 = 81 displacements):

    cost[b, k, y, x] = (1/C) sum_c f1[b, c, y, x] * f2[b, c, y + dy, x + dx],
    k = (dy + d) * (2d + 1) + (dx + d)

f2 is zero outside the frame. Inputs (B, C, H, W) float (any float dtype; computed in
float32); output (B, (2d+1)^2, H, W) float32. The 1/C normalisation is FlowNet's / PWC-Net's.

Implementations (same result to float rounding):
- ``correlation_shift``: a loop over the 81 displacements with a hand-written backward
  that accumulates the input gradients in place (autograd through the loop would keep 81
  products and sum 81 full-size gradients). Fastest on fine levels.
- ``correlation_matmul``: per vertical shift, one batched matrix product of each row of f1
  (W x C) with the matching row of f2 (C x (W+2d)), then the band of 2d+1 diagonals. It
  does (W+2d)/(2d+1) times the needed arithmetic, but as few large products; fastest on
  coarse levels, where the 81-step loop is dominated by per-op overhead. Rows are cut in
  tiles of 64 columns so memory stays bounded on large frames.
- ``correlation_reference``: the straightforward loop with autograd; tests and benchmark.
- ``spatial_correlation_sampler`` (a compiled extension), used only when installed.
``correlation(..., impl="auto")`` takes the extension if installed, else matmul for
W <= 32 and shift above (see benchmarks/train_step.py for the measured ratios).
"""

from __future__ import annotations

import importlib.util

import torch
import torch.nn.functional as F

from blurgen.models.b2fnet.config import CORR_IMPLS

MATMUL_MAX_WIDTH = 32


def correlation_reference(f1: torch.Tensor, f2: torch.Tensor, max_disp: int = 4) -> torch.Tensor:
    """Straightforward loop over the (2d+1)^2 displacements with autograd."""
    f1, f2 = f1.float(), f2.float()
    d = max_disp
    _, _, h, w = f1.shape
    f2p = F.pad(f2, (d, d, d, d))
    out = []
    for dy in range(-d, d + 1):
        for dx in range(-d, d + 1):
            out.append((f1 * f2p[:, :, d + dy : d + dy + h, d + dx : d + dx + w]).mean(dim=1))
    return torch.stack(out, dim=1)


class _ShiftCorrelation(torch.autograd.Function):
    """Shifted products with an in-place accumulating backward (see the module doc)."""

    @staticmethod
    def forward(ctx, f1: torch.Tensor, f2: torch.Tensor, d: int) -> torch.Tensor:
        b, c, h, w = f1.shape
        k = 2 * d + 1
        f2p = F.pad(f2, (d, d, d, d))
        out = f1.new_empty(b, k * k, h, w)
        for i in range(k):
            for j in range(k):
                torch.sum(f1 * f2p[:, :, i : i + h, j : j + w], dim=1, out=out[:, i * k + j])
        ctx.save_for_backward(f1, f2p)
        ctx.d = d
        return out.div_(c)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        f1, f2p = ctx.saved_tensors
        d = ctx.d
        b, c, h, w = f1.shape
        k = 2 * d + 1
        grad = grad / c
        need1, need2 = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        g1 = torch.zeros_like(f1) if need1 else None
        g2p = torch.zeros_like(f2p) if need2 else None
        for i in range(k):
            for j in range(k):
                gk = grad[:, i * k + j : i * k + j + 1]  # (B, 1, H, W)
                if need1:
                    g1.addcmul_(gk, f2p[:, :, i : i + h, j : j + w])
                if need2:
                    g2p[:, :, i : i + h, j : j + w].addcmul_(gk, f1)
        g2 = g2p[:, :, d : d + h, d : d + w] if need2 else None
        return g1, g2, None


def correlation_shift(f1: torch.Tensor, f2: torch.Tensor, max_disp: int = 4) -> torch.Tensor:
    """Shifted products, hand-written backward; (B,C,H,W) x2 -> (B,(2d+1)^2,H,W) float32."""
    return _ShiftCorrelation.apply(f1.float().contiguous(), f2.float().contiguous(), max_disp)


def correlation_matmul(f1: torch.Tensor, f2: torch.Tensor, max_disp: int = 4, tile: int = 64) -> torch.Tensor:
    """Row products and a diagonal band; (B,C,H,W) x2 -> (B,(2d+1)^2,H,W) float32.

    For a tile of T columns starting at x0 and a vertical shift i (dy = i - d):
    ``P[bh, t, u] = sum_c f1[b, c, y, x0 + t] * f2p[b, c, y + i, x0 + u]`` (u < T + 2d) and
    the wanted costs are ``P[bh, t, t + j]`` (dx = j - d): a strided view of P.
    """
    f1, f2 = f1.float(), f2.float()
    d = max_disp
    k = 2 * d + 1
    b, c, h, w = f1.shape
    f2p = F.pad(f2, (d, d, d, d))
    a = f1.permute(0, 2, 3, 1)  # (B, H, W, C)
    tiles = []
    for x0 in range(0, w, tile):
        t = min(tile, w - x0)
        at = a[:, :, x0 : x0 + t].reshape(b * h, t, c)
        rows = []
        for i in range(k):
            r = f2p[:, :, i : i + h, x0 : x0 + t + 2 * d].permute(0, 2, 1, 3).reshape(b * h, c, t + 2 * d)
            p = torch.bmm(at, r)  # (B*H, T, T+2d)
            s0, s1, _ = p.stride()
            rows.append(p.as_strided((b * h, t, k), (s0, s1 + 1, 1), p.storage_offset()))
        tiles.append(torch.stack(rows, dim=2))  # (B*H, T, K_dy, K_dx)
    out = torch.cat(tiles, dim=1).view(b, h, w, k * k)
    return out.permute(0, 3, 1, 2).contiguous() / c


def sampler_available() -> bool:
    """True when the compiled ``spatial_correlation_sampler`` package is installed."""
    return importlib.util.find_spec("spatial_correlation_sampler") is not None


def correlation_sampler(f1: torch.Tensor, f2: torch.Tensor, max_disp: int = 4) -> torch.Tensor:
    """The compiled ``spatial_correlation_sampler`` extension, same layout and scale as above."""
    from spatial_correlation_sampler import spatial_correlation_sample

    k = 2 * max_disp + 1
    b, c, h, w = f1.shape
    out = spatial_correlation_sample(
        f1.float().contiguous(), f2.float().contiguous(),
        kernel_size=1, patch_size=k, stride=1, padding=0, dilation_patch=1,
    )
    return out.view(b, k * k, h, w) / c


def correlation(f1: torch.Tensor, f2: torch.Tensor, max_disp: int = 4, impl: str = "auto") -> torch.Tensor:
    """Correlation cost volume (module doc); ``impl`` one of ``CORR_IMPLS``."""
    with torch.autocast(device_type=f1.device.type, enabled=False):  # float32 products
        return _correlation(f1, f2, max_disp, impl)


def _correlation(f1: torch.Tensor, f2: torch.Tensor, max_disp: int, impl: str) -> torch.Tensor:
    if impl == "auto":
        if sampler_available():
            impl = "sampler"
        else:
            impl = "matmul" if f1.shape[-1] <= MATMUL_MAX_WIDTH else "shift"
    if impl == "shift":
        return correlation_shift(f1, f2, max_disp)
    if impl == "matmul":
        return correlation_matmul(f1, f2, max_disp)
    if impl == "reference":
        return correlation_reference(f1, f2, max_disp)
    if impl == "sampler":
        return correlation_sampler(f1, f2, max_disp)
    raise ValueError(f"unknown correlation impl {impl!r}; choose one of {', '.join(CORR_IMPLS)}")
