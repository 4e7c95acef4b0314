"""Evaluate a B2F-net on shards: EPE (min of both directions, each direction) overall and
per source, next to the zero-flow baseline (the EPE of predicting no motion at all).

Images whose size is not a multiple of 64 are padded (edge replication, bottom/right)
and the flow is cropped back, so full frames of any size can be evaluated.

``evaluate_checkpoint(ckpt, shards, ...)`` is ``blurgen eval`` as one call: it returns the
object ``blurgen eval --json`` prints.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from blurgen.errors import ConfigError, InputError
from blurgen.models.b2fnet.net import pad_to_multiple
from blurgen.shards.reader import ShardDataset, list_shards
from blurgen.train.checkpoint import load_model
from blurgen.train.data import TEST_SPLIT, shard_sizes
from blurgen.train.ddp import pick_device
from blurgen.train.metrics import EpeMeter, flow_metrics


def autocast(device: torch.device, amp: str):
    """bf16 autocast context on ``device`` when ``amp == "bf16"``, else a no-op context."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=(amp == "bf16"))


def infer_flow(model: torch.nn.Module, blur: torch.Tensor, amp: str = "none",
               channels_last: bool = False) -> torch.Tensor:
    """blur (B, 3, H, W) float [0, 1] on the model's device -> flow (B, 2, H, W) float32 px.

    Any H, W: padded to multiples of 64 and cropped back.
    """
    x, (h, w) = pad_to_multiple(blur)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with autocast(x.device, amp):
        out = model(x)["flow"]
    return out[..., :h, :w].float()


def evaluate_batches(model: torch.nn.Module, batches: Iterable[dict], device: torch.device,
                     amp: str = "none", channels_last: bool = False, meter: EpeMeter | None = None,
                     progress=None) -> EpeMeter:
    """Add the EPEs of every batch (ShardDataset items collated) to ``meter`` (new if None)."""
    meter = meter or EpeMeter()
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for batch in batches:
            blur = batch["blur"].to(device, non_blocking=True)
            flow = batch["flow"].to(device)
            flow_bwd = batch["flow_bwd"].to(device)
            valid = batch["valid"].to(device)
            valid_bwd = batch["valid_bwd"].to(device)
            pred = infer_flow(model, blur, amp, channels_last)
            m = flow_metrics(pred, flow, flow_bwd, valid, valid_bwd)
            z = flow_metrics(torch.zeros_like(pred), flow, flow_bwd, valid, valid_bwd)
            meter.add(list(batch["source"]), m, z)
            if progress is not None:
                progress.update(1)
    model.train(was_training)
    return meter


def evaluate_dataset(model: torch.nn.Module, dataset, device: torch.device, batch_size: int = 1,
                     workers: int = 0, amp: str = "none", channels_last: bool = False,
                     indices: list[int] | None = None, show_progress: bool = False) -> EpeMeter:
    """EPE over ``dataset`` (a ShardDataset, or the ``indices`` of it) -> EpeMeter."""
    ds = dataset if indices is None else Subset(dataset, indices)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=workers,
                        pin_memory=(device.type == "cuda"))
    bar = tqdm(total=len(loader), desc="eval", unit="batch", leave=False) if show_progress else None
    try:
        return evaluate_batches(model, loader, device, amp, channels_last, progress=bar)
    finally:
        if bar is not None:
            bar.close()


def eval_split(shards: str | os.PathLike, split: str = "auto") -> str | None:
    """The split ``blurgen eval`` reads (None: every shard). ``auto``: ``test`` when the
    folder ``shards`` holds test shards, else every shard; ``all``: every shard."""
    if split not in ("auto", "all"):
        return split
    if split == "auto" and Path(shards).is_dir():
        try:
            list_shards(shards, TEST_SPLIT)
            return TEST_SPLIT
        except InputError:
            return None
    return None


def evaluate_checkpoint(ckpt: str | os.PathLike, shards: str | os.PathLike, split: str = "auto", crop: int = 0,
                        batch_size: int = 1, limit: int | None = None, device: str | torch.device = "auto",
                        amp: str = "none", workers: int = 0, progress: bool = False) -> dict:
    """EPE of the checkpoint ``ckpt`` on ``shards``: the object ``blurgen eval --json`` prints.

    ``{"n", "epe_min", "epe_fwd", "epe_bwd", "zero_epe_min", "zero_epe_fwd", "zero_epe_bwd",
    "per_source": {source: {the same but "split"}}, "split"}``: EPE in pixels, a metric
    without a sample is None (JSON null). ``split``: see ``eval_split`` (``"all"`` in the
    result when every shard was read). ``crop``: 0 = full frames, else ``crop`` x ``crop``
    centre crops. ``limit``: only the first N samples. ``device``: "auto", "cpu", "cuda",
    "cuda:N" or a torch.device. Frames of several sizes need ``batch_size`` 1 or a crop.
    """
    sp = eval_split(shards, split)
    dev = pick_device(device) if isinstance(device, str) else torch.device(device)
    model, _ = load_model(ckpt, dev)
    ds = ShardDataset(shards, split=sp, crop=crop or None, crop_mode="center" if crop else "none")
    if len(ds) == 0:
        raise InputError(shards, "no samples to evaluate")
    if batch_size > 1 and not crop:
        sizes = sorted({size for _, size in shard_sizes(ds.paths)})
        if len(sizes) > 1:
            raise ConfigError(f"{shards}: frames of several sizes {sizes} cannot share a batch; "
                              "use --batch-size 1 or --crop N")
    idx = list(range(min(limit, len(ds)))) if limit else None
    meter = evaluate_dataset(model, ds, dev, batch_size=batch_size, workers=workers, amp=amp, indices=idx,
                             show_progress=progress)
    res = meter.result()
    res["split"] = sp or "all"
    return json_result(res)


def _fmt(v: float) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def format_table(result: dict) -> str:
    """A plain-text table: one row overall and one per source; model EPE and zero flow."""
    head = ("source", "n", "epe_min", "epe_fwd", "epe_bwd", "zero_min", "zero_fwd", "zero_bwd")
    rows = [head]

    def row(name: str, r: dict) -> tuple:
        return (name, str(r.get("n", 0)), _fmt(r.get("epe_min")), _fmt(r.get("epe_fwd")), _fmt(r.get("epe_bwd")),
                _fmt(r.get("zero_epe_min")), _fmt(r.get("zero_epe_fwd")), _fmt(r.get("zero_epe_bwd")))

    rows.append(row("all", result))
    for src, r in result.get("per_source", {}).items():
        rows.append(row(src or "(none)", r))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def json_result(result: dict) -> dict:
    """The result with NaN replaced by None (valid JSON)."""
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, float) and math.isnan(v):
            return None
        return v

    return clean(result)
