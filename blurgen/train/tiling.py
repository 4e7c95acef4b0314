"""Inference in tiles: a network run on square tiles of the size it was trained on.

What a trained B2F-net predicts for a pixel can depend on the size of the image around it
(docs/training.md, "Input size": the demo's checkpoint, trained on 128x128 crops, makes the
flows of a 320x180 frame 3x too long when given the whole frame). ``tiled(infer, blur,
tile, overlap)`` runs ``infer`` on tiles of ``tile`` x ``tile`` pixels that cover the image,
neighbours sharing at least ``overlap`` pixels, and blends them: in a shared band each
tile's weight falls linearly towards its edge, so the flow has no seams; at the image's
border a tile's weight stays 1. A side no longer than ``tile`` is not cut. The tiles of
one image run in batches of ``batch``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from blurgen.errors import ConfigError

if TYPE_CHECKING:  # torch loads inside the functions: the CLI's options import this module
    import torch

AUTO = "auto"
DEFAULT_OVERLAP = 32  # px shared by neighbouring tiles (docs/training.md, "Input size")


def parse_tile(value: str | int | None) -> str | int:
    """A ``--tile`` value: ``"auto"``, 0 (the whole image) or a size in pixels, a multiple of
    64 as a training crop is (smaller or other tiles would be padded to one anyway)."""
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    try:
        tile = int(value)
    except (TypeError, ValueError):
        tile = -1
    if tile < 0 or tile % 64 or str(value).strip() not in (str(tile), f"+{tile}"):
        raise ConfigError(f"--tile must be 'auto', 0 (whole images) or a multiple of 64 px (as --crop), got {value!r}")
    return tile


def resolve_tile(value: str | int | None, ckpt: dict) -> int:
    """The tile size in pixels: ``auto`` = the crop the checkpoint was trained on (0, whole
    images, when the checkpoint does not record one)."""
    tile = parse_tile(value)
    if tile == AUTO:
        return int((ckpt.get("config") or {}).get("crop") or 0)
    return int(tile)


def check_overlap(tile: int, overlap: int) -> None:
    """``ConfigError`` unless ``0 <= overlap < tile`` (any overlap when ``tile`` is 0)."""
    if tile > 0 and not 0 <= overlap < tile:
        raise ConfigError(f"--tile-overlap must be 0 .. {tile - 1} for tiles of {tile} px, got {overlap}")


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Starts of the tiles along one side of ``size`` pixels: the first at 0, the last ending
    at ``size``, evenly spread, neighbours sharing at least ``overlap`` pixels."""
    if size <= tile:
        return [0]
    stride = max(tile - overlap, 1)
    n = math.ceil((size - tile) / stride) + 1
    return [round(k * (size - tile) / (n - 1)) for k in range(n)]


def _ramp(length: int, starts: list[int], start: int) -> torch.Tensor:
    """Weights along one side of the tile at ``start``: 1, falling linearly towards an edge
    it shares with a neighbour, over the shared band (never 0)."""
    import torch

    w = torch.ones(length)
    k = starts.index(start)
    if k > 0:  # shared with the tile before
        band = starts[k - 1] + length - start
        if band > 0:
            w[:band] = torch.minimum(w[:band], (torch.arange(band) + 0.5) / band)
    if k + 1 < len(starts):  # shared with the tile after
        band = start + length - starts[k + 1]
        if band > 0:
            w[length - band:] = torch.minimum(w[length - band:], (band - torch.arange(band) - 0.5) / band)
    return w


def tiled(infer: Callable[[torch.Tensor], torch.Tensor], blur: torch.Tensor, tile: int, overlap: int = DEFAULT_OVERLAP,
          batch: int = 8) -> torch.Tensor:
    """``infer`` ((B, 3, h, w) -> (B, 2, h, w) flow) over ``blur`` (B, 3, H, W) in tiles of
    ``tile`` pixels (module doc); ``tile`` 0 or at least the image: one call on the whole image."""
    import torch

    b, _, h, w = blur.shape
    if tile <= 0 or (h <= tile and w <= tile):
        return infer(blur)
    check_overlap(tile, overlap)
    th, tw = min(tile, h), min(tile, w)
    ys, xs = tile_starts(h, th, overlap), tile_starts(w, tw, overlap)
    boxes = [(y, x) for y in ys for x in xs]
    # sums in float64: a pixel may get a share of many tiles (small tiles, large overlaps)
    out = torch.zeros((b, 2, h, w), dtype=torch.float64, device=blur.device)
    total = torch.zeros((1, 1, h, w), dtype=torch.float64, device=blur.device)
    for i in range(b):
        for k in range(0, len(boxes), batch):
            part = boxes[k:k + batch]
            flows = infer(torch.stack([blur[i, :, y:y + th, x:x + tw] for y, x in part]))
            for (y, x), f in zip(part, flows):
                wgt = torch.outer(_ramp(th, ys, y), _ramp(tw, xs, x)).to(blur.device, torch.float64)
                out[i, :, y:y + th, x:x + tw] += f.float() * wgt
                if i == 0:
                    total[0, 0, y:y + th, x:x + tw] += wgt
    return (out / total).float()
