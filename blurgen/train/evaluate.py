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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from blurgen.errors import ConfigError, InputError
from blurgen.models.b2fnet.net import pad_to_multiple
from blurgen.shards.dataset import ShardDataset
from blurgen.shards.reader import list_shards
from blurgen.train.checkpoint import load_model
from blurgen.train.data import TEST_SPLIT, shard_sizes
from blurgen.train.ddp import pick_device
from blurgen.train.metrics import METRIC_NAMES, EpeMeter, flow_metrics
from blurgen.train.tiling import DEFAULT_OVERLAP, check_overlap, resolve_tile, tiled


def autocast(device: torch.device, amp: str):
    """bf16 autocast context on ``device`` when ``amp == "bf16"``, else a no-op context."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=(amp == "bf16"))


def infer_flow(model: torch.nn.Module, blur: torch.Tensor, amp: str = "none",
               channels_last: bool = False, tile: int = 0, overlap: int = DEFAULT_OVERLAP) -> torch.Tensor:
    """blur (B, 3, H, W) float [0, 1] on the model's device -> flow (B, 2, H, W) float32 px.

    Any H, W: padded to multiples of 64 and cropped back. ``tile`` > 0: in tiles of that
    size sharing ``overlap`` px, blended (``blurgen.train.tiling``).
    """
    def whole(x: torch.Tensor) -> torch.Tensor:
        x, (h, w) = pad_to_multiple(x)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(x.device, amp):
            out = model(x)["flow"]
        return out[..., :h, :w].float()

    return tiled(whole, blur, tile, overlap)


@contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``model`` in eval mode inside the block, its own mode (training or not) again after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def score_batch(model: torch.nn.Module, batch: dict, device: torch.device, amp: str = "none",
                channels_last: bool = False, tile: tuple[int, int] = (0, DEFAULT_OVERLAP)
                ) -> tuple[torch.Tensor, dict, dict]:
    """The prediction for one batch (ShardDataset items collated) and its scores.

    Returns ``(pred, metrics, zero_metrics)``: pred (B, 2, H, W) float32 px on ``device``;
    ``flow_metrics`` of pred and of zero flow against the batch's labels, each (B,) float32 px.
    Runs in inference mode; call it inside ``evaluating(model)``. ``tile``: (size, overlap)
    of ``infer_flow``'s tiles (size 0: whole images).
    """
    with torch.inference_mode():
        blur = batch["blur"].to(device, non_blocking=True)
        t = {k: batch[k].to(device) for k in ("flow", "flow_bwd", "valid", "valid_bwd")}
        pred = infer_flow(model, blur, amp, channels_last, *tile)
        m = flow_metrics(pred, t["flow"], t["flow_bwd"], t["valid"], t["valid_bwd"])
        z = flow_metrics(torch.zeros_like(pred), t["flow"], t["flow_bwd"], t["valid"], t["valid_bwd"])
    return pred, m, z


def sample_records(batch: dict, metrics: dict, zero_metrics: dict) -> list[dict]:
    """One record per sample of a scored batch: ``{"key", "source", "epe_min", "epe_fwd",
    "epe_bwd", "zero_epe_min", "zero_epe_fwd", "zero_epe_bwd"}`` (EPE in pixels, float; NaN
    where a direction has no trusted label)."""
    recs = [{"key": k, "source": s} for k, s in zip(batch["key"], batch["source"])]
    for prefix, m in (("", metrics), ("zero_", zero_metrics)):
        for name in METRIC_NAMES:
            for rec, v in zip(recs, m[name].detach().cpu().tolist()):
                rec[prefix + name] = float(v)
    return recs


def evaluate_batches(model: torch.nn.Module, batches: Iterable[dict], device: torch.device,
                     amp: str = "none", channels_last: bool = False, meter: EpeMeter | None = None,
                     progress=None, samples: list[dict] | None = None,
                     tile: tuple[int, int] = (0, DEFAULT_OVERLAP)) -> EpeMeter:
    """Add the EPEs of every batch (ShardDataset items collated) to ``meter`` (new if None);
    with a ``samples`` list, append each sample's ``sample_records`` to it too."""
    meter = meter or EpeMeter()
    with evaluating(model):
        for batch in batches:
            _, m, z = score_batch(model, batch, device, amp, channels_last, tile)
            meter.add(list(batch["source"]), m, z)
            if samples is not None:
                samples.extend(sample_records(batch, m, z))
            if progress is not None:
                progress.update(1)
    return meter


def evaluate_dataset(model: torch.nn.Module, dataset, device: torch.device, batch_size: int = 1,
                     workers: int = 0, amp: str = "none", channels_last: bool = False,
                     indices: list[int] | None = None, show_progress: bool = False,
                     samples: list[dict] | None = None, tile: tuple[int, int] = (0, DEFAULT_OVERLAP)) -> EpeMeter:
    """EPE over ``dataset`` (a ShardDataset, or the ``indices`` of it) -> EpeMeter; per-sample
    records appended to ``samples`` when given (see ``evaluate_batches``)."""
    ds = dataset if indices is None else Subset(dataset, indices)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=workers,
                        pin_memory=(device.type == "cuda"))
    bar = tqdm(total=len(loader), desc="eval", unit="batch", leave=False) if show_progress else None
    try:
        return evaluate_batches(model, loader, device, amp, channels_last, progress=bar, samples=samples, tile=tile)
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


def eval_dataset(shards: str | os.PathLike, split: str = "auto", crop: int = 0) -> tuple[ShardDataset, str]:
    """The samples ``blurgen eval`` reads and the name of their split (``"all"``: every
    shard): see ``eval_split``; ``crop`` 0 = full frames, else ``crop`` x ``crop`` centre crops."""
    sp = eval_split(shards, split)
    ds = ShardDataset(shards, split=sp, crop=crop or None, crop_mode="center" if crop else "none")
    if len(ds) == 0:
        raise InputError(shards, "no samples to evaluate")
    return ds, sp or "all"


def evaluate_checkpoint(ckpt: str | os.PathLike, shards: str | os.PathLike, split: str = "auto", crop: int = 0,
                        batch_size: int = 1, limit: int | None = None, device: str | torch.device = "auto",
                        amp: str = "none", workers: int = 0, progress: bool = False,
                        per_sample: bool = False, tile: str | int = 0, tile_overlap: int = DEFAULT_OVERLAP) -> dict:
    """EPE of the checkpoint ``ckpt`` on ``shards``: the object ``blurgen eval --json`` prints.

    ``{"n", "epe_min", "epe_fwd", "epe_bwd", "zero_epe_min", "zero_epe_fwd", "zero_epe_bwd",
    "per_source": {source: {the same but "split"}}, "split", "tile", "input_sizes",
    "train_crop"}``: EPE in pixels (``tile``: the tile size used, 0 = whole images;
    ``input_sizes``: the [H, W] the network was given; ``train_crop``: the crop it was trained
    on, from the checkpoint), a metric without a sample is None (JSON null). ``split``: see ``eval_split`` (``"all"`` in the
    result when every shard was read). ``crop``: 0 = full frames, else ``crop`` x ``crop``
    centre crops. ``tile``: ``"auto"`` (the training crop), 0 or a size in pixels: the
    frames (or crops) are run in tiles of that size (``blurgen.train.tiling``), neighbours
    sharing ``tile_overlap`` px. ``limit``: only the first N samples. ``device``: "auto", "cpu", "cuda",
    "cuda:N" or a torch.device. Frames of several sizes need ``batch_size`` 1 or a crop.
    ``per_sample``: also ``"samples"``, one ``sample_records`` entry per sample in dataset
    order (the numbers the means are made of).
    """
    dev = pick_device(device) if isinstance(device, str) else torch.device(device)
    model, ck = load_model(ckpt, dev)
    tile = resolve_tile(tile, ck)
    check_overlap(tile, tile_overlap)
    ds, split_name = eval_dataset(shards, split, crop)
    sizes = sorted({size for _, size in shard_sizes(ds.paths)})
    if batch_size > 1 and not crop:
        if len(sizes) > 1:
            raise ConfigError(f"{shards}: frames of several sizes {sizes} cannot share a batch; "
                              "use --batch-size 1 or --crop N")
    idx = list(range(min(limit, len(ds)))) if limit else None
    samples: list[dict] | None = [] if per_sample else None
    meter = evaluate_dataset(model, ds, dev, batch_size=batch_size, workers=workers, amp=amp, indices=idx,
                             show_progress=progress, samples=samples, tile=(tile, tile_overlap))
    res = meter.result()
    res["split"] = split_name
    res["tile"] = tile
    res["input_sizes"] = [list(sz) for sz in sorted({(min(h, tile or h), min(w, tile or w))
                                                     for h, w in ([(crop, crop)] if crop else sizes)})]
    res["train_crop"] = (ck.get("config") or {}).get("crop")  # None: a checkpoint that does not say
    if samples is not None:
        res["samples"] = samples
    return json_result(res)


def _fmt(v: float) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def format_table(result: dict) -> str:
    """A plain-text table: one row overall and one per source; model EPE and zero flow; then,
    when the result has ``"samples"``, one row per sample (its key)."""
    head = ("source", "n", "epe_min", "epe_fwd", "epe_bwd", "zero_min", "zero_fwd", "zero_bwd")
    rows = [head]

    def row(name: str, r: dict) -> tuple:
        return (name, str(r.get("n", 0)), _fmt(r.get("epe_min")), _fmt(r.get("epe_fwd")), _fmt(r.get("epe_bwd")),
                _fmt(r.get("zero_epe_min")), _fmt(r.get("zero_epe_fwd")), _fmt(r.get("zero_epe_bwd")))

    rows.append(row("all", result))
    for src, r in result.get("per_source", {}).items():
        rows.append(row(src or "(none)", r))
    rules = {1, len(rows)}  # a rule under the header and above the samples
    rows += [row(s["key"], {**s, "n": 1}) for s in result.get("samples", [])]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for k, r in enumerate(rows):
        if k in rules:
            lines.append("  ".join("-" * w for w in widths))
        lines.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
    return "\n".join(lines)


def json_result(result: dict) -> dict:
    """The result with NaN replaced by None (valid JSON)."""
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        if isinstance(v, float) and math.isnan(v):
            return None
        return v

    return clean(result)
