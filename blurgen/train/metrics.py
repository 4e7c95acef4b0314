"""End-point error (EPE) metrics as pure tensor functions, and an accumulator for datasets.

EPE of one sample = mean over its trusted pixels of ||f - f_gt||_2 in pixels, where trusted
means a finite label and a mask > 0.5: ``valid`` for ``flow`` (first frame's grid),
``valid_bwd`` for ``flow_bwd`` (last frame's grid); each direction has its own mask. As in the paper, a blurred image does not tell the
direction, so the headline number is, per sample, min(EPE vs flow first -> last, EPE vs
flow_bwd last -> first), averaged over samples. ``epe_fwd`` and ``epe_bwd`` average each
direction on its own (``epe_bwd`` over the samples that have a backward label; where a
sample has none its ``epe_min`` is its ``epe_fwd``).
"""

from __future__ import annotations

import math

import torch

from blurgen.train.losses import label_mask


def epe_per_sample(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """pred, gt (B, 2, H, W) pixels; valid (B, H, W) or None -> (B,) float32 mean EPE.

    NaN for a sample without any trusted pixel (e.g. an absent backward label).
    """
    mask = label_mask(gt, valid)
    g = torch.where(mask.bool().unsqueeze(1), gt.float(), torch.zeros((), device=gt.device))
    epe = torch.linalg.vector_norm(pred.float() - g, dim=1) * mask
    n = mask.sum(dim=(1, 2))
    return torch.where(n > 0, epe.sum(dim=(1, 2)) / n.clamp_min(1), torch.full_like(n, float("nan")))


def flow_metrics(pred: torch.Tensor, flow: torch.Tensor, flow_bwd: torch.Tensor | None = None,
                 valid: torch.Tensor | None = None, valid_bwd: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Per-sample EPEs: ``{"epe_fwd", "epe_bwd", "epe_min"}``, each (B,) float32 pixels.

    valid (B, H, W) masks ``flow``, valid_bwd (B, H, W) masks ``flow_bwd``; None = every
    finite label. epe_bwd is NaN where no backward label exists; epe_min ignores NaN
    (falls back to fwd).
    """
    fwd = epe_per_sample(pred, flow, valid)
    if flow_bwd is None:
        bwd = torch.full_like(fwd, float("nan"))
    else:
        bwd = epe_per_sample(pred, flow_bwd, valid_bwd)
    mn = torch.where(torch.isnan(bwd), fwd, torch.where(torch.isnan(fwd), bwd, torch.minimum(fwd, bwd)))
    return {"epe_fwd": fwd, "epe_bwd": bwd, "epe_min": mn}


METRIC_NAMES = ("epe_min", "epe_fwd", "epe_bwd")


class EpeMeter:
    """Sums per-sample EPEs overall and per source; ``result()`` gives means.

    ``add(source_names, metrics, zero_metrics=None)``: lists of (B,) tensors from
    ``flow_metrics`` for the prediction and (optionally) for zero flow. NaN entries are
    skipped per metric, so ``epe_bwd`` averages only samples that have a backward label.
    ``sums`` holds the raw sums and ``merge(sums)`` adds another meter's, so that ranks can be reduced.
    """

    def __init__(self):
        self.sums: dict[str, dict[str, list[float]]] = {}

    def _acc(self, source: str, name: str, value: float) -> None:
        if math.isnan(value):
            return
        for group in ("__all__", source):
            s = self.sums.setdefault(group, {}).setdefault(name, [0.0, 0])
            s[0] += value
            s[1] += 1

    def add(self, sources: list[str], metrics: dict[str, torch.Tensor],
            zero_metrics: dict[str, torch.Tensor] | None = None) -> None:
        for prefix, m in (("", metrics), ("zero_", zero_metrics)):
            if m is None:
                continue
            for name in METRIC_NAMES:
                vals = m[name].detach().cpu().tolist()
                for src, v in zip(sources, vals):
                    self._acc(src, prefix + name, float(v))
            if prefix == "":
                for src in sources:
                    self._acc(src, "n", 1.0)

    def merge(self, other_sums: dict[str, dict[str, list[float]]]) -> None:
        """Add another meter's ``sums`` (e.g. gathered from other ranks)."""
        for group, d in other_sums.items():
            for name, (s, n) in d.items():
                t = self.sums.setdefault(group, {}).setdefault(name, [0.0, 0])
                t[0] += s
                t[1] += n

    @staticmethod
    def _means(d: dict[str, list[float]]) -> dict[str, float]:
        out: dict[str, float] = {"n": int(d.get("n", [0, 0])[1])}
        for name in METRIC_NAMES:
            out[name] = float("nan")
        for name, (s, n) in d.items():
            if name != "n":
                out[name] = s / n if n else float("nan")
        return out

    def result(self) -> dict:
        """``{"n", "epe_min", "epe_fwd", "epe_bwd", ["zero_epe_*"], "per_source": {src: {...}}}``.

        Metrics with no sample are NaN.
        """
        overall = self._means(self.sums.get("__all__", {}))
        overall["per_source"] = {
            src: self._means(d) for src, d in sorted(self.sums.items()) if src != "__all__"
        }
        return overall
