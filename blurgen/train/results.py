"""What a trained B2F-net makes of held-out images, side by side with their labels.

One row per image: blur | label | prediction | error. The label and the prediction share
one colour scale (``flow_to_color`` with ``max_mag`` = the label's largest trusted
magnitude, stated on the label tile), the error map (|prediction - label| per pixel, inferno
from 0 to that same magnitude; grey where the label is not trusted) averages to the EPE
written on the prediction tile. That EPE is the one ``blurgen eval`` computes for the image:
it comes from the same ``score_batch`` and ``flow_metrics``; the label shown is the
direction (first -> last or last -> first) that gives ``epe_min``.

``write_results(ckpt, shards, png, run=RUN)`` is the demo's ``results.png``: the first
images of the evaluated split and, below, the run's training curve (curve.py).
``comparison_row`` is the numpy drawing; ``blurgen predict --label`` uses it too.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from blurgen.io.flowviz import flow_to_color
from blurgen.io.frames import write_image
from blurgen.report import _fit, _label, _tag
from blurgen.train.checkpoint import load_model
from blurgen.train.curve import curve_image, read_curve
from blurgen.train.ddp import pick_device
from blurgen.train.evaluate import eval_dataset, evaluating, json_result, sample_records, score_batch
from blurgen.train.tiling import DEFAULT_OVERLAP, check_overlap, resolve_tile
from blurgen.train.losses import label_mask
from blurgen.train.metrics import flow_metrics

TILES = ("blur", "label", "prediction", "error")
UNTRUSTED_GREY = 128


def _hwc(t: torch.Tensor) -> np.ndarray:
    """(C, H, W) tensor -> (H, W, C) float32 array."""
    return t.detach().float().cpu().permute(1, 2, 0).numpy()


def scored_samples(model: torch.nn.Module, dataset, device: torch.device, indices: list[int],
                   amp: str = "none", tile: tuple[int, int] = (0, DEFAULT_OVERLAP)) -> Iterator[dict]:
    """Each sample ``dataset[i]`` for ``i`` in ``indices``, scored one at a time as
    ``evaluate_checkpoint`` scores it: its ``sample_records`` entry plus ``blur`` (H, W, 3)
    uint8 RGB, ``flow`` / ``flow_bwd`` / ``pred`` (H, W, 2) float32 px, ``mask`` / ``mask_bwd``
    (H, W) bool (the pixels each label's EPE averages over). ``tile``: (size, overlap) of the
    inference tiles (``blurgen.train.tiling``; size 0: whole frames)."""
    loader = DataLoader(Subset(dataset, indices), batch_size=1, shuffle=False, num_workers=0)
    with evaluating(model):
        for batch in loader:
            pred, m, z = score_batch(model, batch, device, amp, tile=tile)
            rec = sample_records(batch, m, z)[0]
            rec["blur"] = np.rint(_hwc(batch["blur"][0]) * 255).astype(np.uint8)
            rec["pred"] = _hwc(pred[0])
            for name, valid, mask in (("flow", "valid", "mask"), ("flow_bwd", "valid_bwd", "mask_bwd")):
                rec[name] = _hwc(batch[name][0])
                rec[mask] = label_mask(batch[name], batch[valid])[0].bool().numpy()
            yield rec


def error_to_color(err: np.ndarray, mask: np.ndarray, max_err: float) -> np.ndarray:
    """(H, W) error in px -> (H, W, 3) uint8 RGB: inferno from 0 to ``max_err`` (clipped);
    grey where ``mask`` is False."""
    import cv2

    level = np.clip(np.nan_to_num(err) / max_err, 0, 1) * 255
    rgb = cv2.applyColorMap(level.astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1]
    rgb = np.ascontiguousarray(rgb)
    rgb[~mask] = UNTRUSTED_GREY
    return rgb


def colour_scale(label: np.ndarray, mask: np.ndarray, pred: np.ndarray) -> float:
    """The magnitude (px) of full colour saturation for a row: the label's largest trusted
    |flow|; the prediction's when the label has none (at least 1e-3)."""
    mag = np.linalg.norm(label[mask], axis=-1)
    top = float(mag.max()) if mag.size else 0.0
    if top <= 0:
        top = float(np.linalg.norm(pred, axis=-1).max(initial=0.0))
    return max(top, 1e-3)


def comparison_row(blur: np.ndarray, label: np.ndarray, pred: np.ndarray, mask: np.ndarray, *, epe: float,
                   caption: list[str], label_name: str = "label", tile_width: int = 200) -> np.ndarray:
    """(h, 4 * tile_width, 3) uint8 RGB: blur | label | prediction | error, then ``caption``.

    blur (H, W, 3) uint8 RGB; label, pred (H, W, 2) float32 px; mask (H, W) bool, the
    trusted label pixels (black in the label tile, grey in the error map elsewhere);
    ``epe`` (px) is written on the prediction tile. Each tile is ``fit`` to ``tile_width``.
    """
    scale = colour_scale(label, mask, pred)
    err = np.linalg.norm(pred - np.where(mask[..., None], label, 0), axis=-1)
    tiles = [blur, flow_to_color(np.where(mask[..., None], label, np.nan), scale),
             flow_to_color(pred, scale), error_to_color(err, mask, scale)]
    tags = ["blur", f"{label_name}, max {scale:.1f} px", f"prediction, EPE {epe:.2f} px",
            f"|error|, 0 to {scale:.1f} px"]
    strip = np.hstack([_tag(_fit(t, tile_width), tag) for t, tag in zip(tiles, tags)])
    return np.vstack([strip, _label(strip.shape[1], caption)])


def _direction(rec: dict) -> str:
    """"fwd" or "bwd": the label whose EPE is the sample's ``epe_min``."""
    fwd = rec["epe_fwd"]
    return "fwd" if fwd is not None and not math.isnan(fwd) and fwd <= rec["epe_min"] else "bwd"


def _f(v: float | None) -> str:
    return "-" if v is None or math.isnan(v) else f"{v:.3f}"


def sample_row(rec: dict, tile_width: int = 200) -> tuple[np.ndarray, dict]:
    """The row of one ``scored_samples`` record and its numbers: the record's key, source
    and EPEs (px; None for NaN) with ``direction`` (the label shown) and ``max_mag`` (its colour scale)."""
    d = _direction(rec)
    label, mask = (rec["flow"], rec["mask"]) if d == "fwd" else (rec["flow_bwd"], rec["mask_bwd"])
    scale = colour_scale(label, mask, rec["pred"])
    shown = "first -> last" if d == "fwd" else "last -> first"
    caption = [f"{rec['key']}   EPE min {_f(rec['epe_min'])} px (fwd {_f(rec['epe_fwd'])}, "
               f"bwd {_f(rec['epe_bwd'])});  zero flow {_f(rec['zero_epe_min'])} px",
               f"label shown: {d} ({shown}), the direction of EPE min; colours saturate at {scale:.2f} px"]
    row = comparison_row(rec["blur"], label, rec["pred"], mask, epe=rec["epe_min"], caption=caption,
                         label_name=f"label {d}", tile_width=tile_width)
    info = {k: v for k, v in rec.items() if not isinstance(v, np.ndarray)}
    info.update(direction=d, max_mag=scale)
    return row, json_result(info)


def results_sheet(model: torch.nn.Module, dataset, device: torch.device, indices: list[int],
                  tile_width: int = 200, amp: str = "none", tile: tuple[int, int] = (0, DEFAULT_OVERLAP)
                  ) -> tuple[np.ndarray, list[dict]]:
    """(H, 4 * tile_width, 3) uint8 RGB, one ``sample_row`` per index, and the rows' numbers
    (``sample_row``'s, plus ``top`` and ``height``: the pixel rows each one takes);
    ``tile``: as in ``scored_samples``."""
    rows, infos, top = [], [], 0
    for rec in scored_samples(model, dataset, device, indices, amp, tile):
        row, info = sample_row(rec, tile_width)
        info.update(top=top, height=row.shape[0])
        top += row.shape[0]
        rows.append(row)
        infos.append(info)
    return np.vstack(rows), infos


def write_results(ckpt: str | os.PathLike, shards: str | os.PathLike, png: str | os.PathLike, *,
                  run: str | os.PathLike | None = None, split: str = "auto", n: int = 8,
                  device: str | torch.device = "cpu", tile_width: int = 200, title: str | None = None,
                  tile: str | int = 0, tile_overlap: int = DEFAULT_OVERLAP) -> dict:
    """The results sheet of ``ckpt`` on the first ``n`` full frames of the split
    ``blurgen eval`` reads (see ``eval_dataset``), under a ``title`` band (default: the
    checkpoint and the split) and, with ``run``, above the run's training curve: written to
    ``png``. Returns ``{"png", "split", "rows", "title", "curve"}``: rows as ``results_sheet``
    gives them but ``top`` counted in the PNG; title and curve: pixel heights (curve 0
    without ``run``). ``tile``: ``"auto"``, 0 or a size in pixels: the frames are predicted in
    tiles (``blurgen.train.tiling``), as ``blurgen eval --tile`` does."""
    dev = pick_device(device) if isinstance(device, str) else torch.device(device)
    model, ck = load_model(ckpt, dev)
    tiles = (resolve_tile(tile, ck), tile_overlap)
    check_overlap(*tiles)
    ds, split_name = eval_dataset(shards, split)
    sheet, rows = results_sheet(model, ds, dev, list(range(min(n, len(ds)))), tile_width, tile=tiles)
    head = _label(sheet.shape[1], [title or f"{Path(ckpt).name} on the {split_name} split of {Path(shards).name}: "
                                            "blur | label | prediction | error"])
    curve = curve_image(read_curve(run), width=sheet.shape[1]) if run is not None else sheet[:0]
    write_image(png, np.vstack([head, sheet, curve]))
    for r in rows:
        r["top"] += head.shape[0]
    return {"png": str(png), "split": split_name, "rows": rows, "title": head.shape[0], "curve": curve.shape[0]}


def label_row(blur: np.ndarray, label: np.ndarray, pred: np.ndarray, title: str,
              tile_width: int = 200) -> tuple[np.ndarray, float]:
    """``comparison_row`` of one image against a label file's flow (first -> last as given;
    NaN = not trusted) and the EPE (px) ``flow_metrics`` gives for it."""
    lab = torch.from_numpy(np.ascontiguousarray(label)).permute(2, 0, 1)[None]
    epe = float(flow_metrics(torch.from_numpy(pred).permute(2, 0, 1)[None], lab)["epe_fwd"][0])
    mask = label_mask(lab)[0].bool().numpy()
    row = comparison_row(blur, label, pred, mask, epe=epe, tile_width=tile_width,
                         caption=[f"{title}   EPE {_f(epe)} px against this label (first -> last)"])
    return row, epe


__all__ = ["comparison_row", "label_row", "results_sheet", "scored_samples", "write_results"]
