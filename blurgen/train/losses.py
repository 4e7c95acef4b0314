"""The multi-scale training loss of B2F-net (paper eq. (6)), as pure tensor functions.

    L = sum_l w_l * sum_pixels valid_l * || f_l - f_hat_l ||_2 / div_flow,   mean over batch

- f_l: the network's flow at level l (B, 2, H/2^l, W/2^l), l = 1..6 (``flows`` finest first).
- f_hat_l: the ground truth resized bilinearly (anti-aliased, i.e. a triangle filter that
  averages the pixels a level cell covers) to the level's size. Flow values are NOT
  divided by 2^l: every level is expressed in full-resolution pixels (FlowNet / PWC-Net's
  convention, for which the paper's weights were made); the network itself converts to
  the level's pixels where it warps. A constant flow of 8 px is 8 at every level.
- valid: untrusted pixels (mask = 0) and non-finite labels are excluded before resizing
  (normalised convolution: resize(flow * m) / resize(m)); the resized mask weights each
  level pixel by the fraction of trusted pixels it covers.
- weights (finest first) w_1..w_6 = 0.005, 0.01, 0.02, 0.04, 0.08, 0.32; div_flow = 20.
  Summing over pixels (not averaging) keeps PWC-Net's loss scale, against which the
  paper's weight decay 4e-4 was set.

Pixel weights (``weight`` / ``weight_bwd``, (B, H, W) in [0, 1], e.g. from the labels'
uncertainty): each pixel's term is multiplied by its weight (the mask is weighted before
resizing, so a level pixel is weighted by the mean weight of the pixels it covers).

Direction: a blurred image does not tell first from last frame. ``direction="fwd"`` (the
paper, the default) trains against flow first -> last. ``direction="min"`` takes, per
sample, the smaller loss of the two readings: against ``flow`` or against ``flow_bwd``
(last -> first); where ``flow_bwd`` is absent (NaN) it uses ``-flow``, which equals the
reverse flow for motion that is locally uniform over the blur. Each reading has its own
mask: ``valid`` (first frame's grid) for ``flow`` and ``-flow``, ``valid_bwd`` (last
frame's grid) for ``flow_bwd``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LEVEL_WEIGHTS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.32)  # levels 1..6, finest first
DIV_FLOW = 20.0
DIRECTIONS = ("fwd", "min")


def label_mask(flow: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 2, H, W) flow, (B, H, W) valid or None -> (B, H, W) float mask in {0, 1}.

    1 where valid > 0.5 (or everywhere when valid is None) and both flow components are finite.
    """
    m = torch.isfinite(flow).all(dim=1)
    if valid is not None:
        m = m & (valid > 0.5)
    return m.float()


def resize_flow(flow: torch.Tensor, mask: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinear (anti-aliased) resize of a label to ``size`` = (h, w), keeping pixel units.

    flow (B, 2, H, W) in pixels (NaN allowed where mask = 0); mask (B, H, W) in {0, 1}.
    Returns (flow_l (B, 2, h, w), mask_l (B, h, w) in [0, 1]); flow_l is 0 where mask_l = 0.
    The values are not rescaled: they stay in the full-resolution pixels of the input.
    """
    m = mask.unsqueeze(1).float()
    f = torch.where(m > 0, flow.float(), torch.zeros((), device=flow.device))
    if tuple(flow.shape[-2:]) == tuple(size):
        return f, m.squeeze(1)
    antialias = size[0] < flow.shape[-2] or size[1] < flow.shape[-1]
    fm = F.interpolate(f * m, size=size, mode="bilinear", align_corners=False, antialias=antialias)
    ml = F.interpolate(m, size=size, mode="bilinear", align_corners=False, antialias=antialias)
    ml = ml.clamp(0.0, 1.0)
    fl = torch.where(ml > 1e-6, fm / ml.clamp_min(1e-6), torch.zeros((), device=flow.device))
    return fl, ml.squeeze(1)


def multiscale_loss_per_sample(
    flows: list[torch.Tensor], gt: torch.Tensor, mask: torch.Tensor,
    weights: tuple[float, ...] = LEVEL_WEIGHTS, div_flow: float = DIV_FLOW,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Eq. (6) per sample. flows: finest first, each (B, 2, h_l, w_l) in full-res pixels;
    gt (B, 2, H, W) pixels; mask (B, H, W) from ``label_mask``.

    Returns (loss (B,), per-level terms [(B,)] finest first, weights applied).
    """
    if len(flows) != len(weights):
        raise ValueError(f"{len(flows)} flow levels but {len(weights)} loss weights")
    terms = []
    for f, w in zip(flows, weights):
        gl, ml = resize_flow(gt, mask, tuple(f.shape[-2:]))
        epe = torch.linalg.vector_norm(f.float() - gl, dim=1)  # (B, h, w)
        terms.append(w * (epe * ml).sum(dim=(1, 2)) / div_flow)
    return torch.stack(terms, 0).sum(0), terms


def multiscale_loss(
    flows: list[torch.Tensor], flow: torch.Tensor, valid: torch.Tensor | None = None,
    flow_bwd: torch.Tensor | None = None, direction: str = "fwd",
    weights: tuple[float, ...] = LEVEL_WEIGHTS, div_flow: float = DIV_FLOW,
    valid_bwd: torch.Tensor | None = None, weight: torch.Tensor | None = None,
    weight_bwd: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The training loss: scalar (mean over the batch) and ``{name: detached scalar}``.

    flow / flow_bwd (B, 2, H, W) pixels (flow_bwd NaN-filled where absent); valid (B, H, W)
    masks flow, valid_bwd (B, H, W) masks flow_bwd (None: every finite label); weight /
    weight_bwd (B, H, W) weight their pixels (None: 1; see the module doc).
    direction: "fwd" (paper) or "min" (see the module doc). The dict holds ``loss``,
    ``loss_l1``..``loss_l6`` (weighted level terms, batch mean) and, for "min",
    ``bwd_frac`` (fraction of samples for which the reverse reading was the smaller).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    mask = label_mask(flow, valid)
    if weight is not None:
        mask = mask * weight.float()
    loss_f, terms = multiscale_loss_per_sample(flows, flow, mask, weights, div_flow)
    logs: dict[str, torch.Tensor] = {}
    if direction == "fwd":
        loss_s = loss_f
    else:
        if flow_bwd is None:
            flow_bwd = torch.full_like(flow, float("nan"))
        has_bwd = torch.isfinite(flow_bwd).any(dim=(1, 2, 3))  # (B,)
        rev = torch.where(has_bwd[:, None, None, None], flow_bwd, -flow)
        bmask = label_mask(rev, valid_bwd)
        if weight_bwd is not None:
            bmask = bmask * weight_bwd.float()
        rmask = torch.where(has_bwd[:, None, None], bmask, mask)
        loss_b, terms_b = multiscale_loss_per_sample(flows, rev, rmask, weights, div_flow)
        take_b = loss_b < loss_f
        loss_s = torch.where(take_b, loss_b, loss_f)
        terms = [torch.where(take_b, tb, tf) for tf, tb in zip(terms, terms_b)]
        logs["bwd_frac"] = take_b.float().mean().detach()
    loss = loss_s.mean()
    logs["loss"] = loss.detach()
    for i, t in enumerate(terms):
        logs[f"loss_l{i + 1}"] = t.mean().detach()
    return loss, logs


def uncertainty_weight(u: torch.Tensor, scale: float) -> torch.Tensor:
    """Pixel weight ``1 / (1 + u / scale)`` of a label with uncertainty ``u`` (px): 1 for an
    exact label, 1/2 where ``u`` = ``scale``. Non-finite ``u`` weighs 0."""
    w = 1.0 / (1.0 + u.float().clamp_min(0.0) / float(scale))
    return torch.where(torch.isfinite(w), w, torch.zeros((), device=w.device))
