"""Flow from single blurred images with a trained B2F-net.

``predict_flow(model, rgb)``: (H, W, 3) uint8 RGB -> (H, W, 2) float32 pixels (flow first ->
last frame, [..., 0] = x), any H and W (padded to multiples of 64 and cropped back).
``predict_files`` reads images and writes ``<stem>.flo`` and ``<stem>.png`` (flow colour).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from blurgen.errors import ConfigError
from blurgen.io import read_image, write_flo, write_flow_png
from blurgen.train.checkpoint import load_model
from blurgen.train.ddp import pick_device
from blurgen.train.evaluate import infer_flow


def predict_flow(model: torch.nn.Module, rgb: np.ndarray, device: torch.device | str = "cpu",
                 amp: str = "none") -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W, 2) float32 flow in pixels."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {rgb.shape} {rgb.dtype}")
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div_(255.0).to(device)
    with torch.inference_mode():
        flow = infer_flow(model, x, amp)
    return flow[0].permute(1, 2, 0).cpu().numpy().astype(np.float32)


def output_paths(images: list[Path], out: Path) -> list[tuple[Path, Path]]:
    """(.flo path, .png path) per image. ``out`` is a folder, or a .flo file for one image."""
    if out.suffix.lower() == ".flo":
        if len(images) != 1:
            raise ConfigError(f"--out {out}: a .flo file name takes exactly one image; give a folder for {len(images)}")
        return [(out, out.with_suffix(".png"))]
    stems = [p.stem for p in images]
    if len(set(stems)) != len(stems):
        raise ConfigError("several input images share a file name; their outputs would overwrite each other")
    return [(out / f"{s}.flo", out / f"{s}.png") for s in stems]


def predict_files(images: list[str | os.PathLike], ckpt: str | os.PathLike, out: str | os.PathLike,
                  device: str | torch.device = "cpu", amp: str = "none", max_mag: float | None = None) -> list[dict]:
    """Predict every image; write .flo and colour .png. Returns one record per image:
    ``{"image", "flo", "png", "size": [H, W], "mean_mag", "max_mag"}`` (pixels).
    ``device``: "auto", "cpu", "cuda", "cuda:N" or a torch.device."""
    device = pick_device(device) if isinstance(device, str) else device
    paths = [Path(p) for p in images]
    targets = output_paths(paths, Path(out))
    rgbs = [read_image(p) for p in paths]  # fail on a bad image before any work
    model, _ = load_model(ckpt, device)
    records = []
    for p, rgb, (flo, png) in zip(paths, rgbs, targets):
        flow = predict_flow(model, rgb, device, amp)
        flo.parent.mkdir(parents=True, exist_ok=True)
        write_flo(flo, flow)
        write_flow_png(png, flow, max_mag=max_mag)
        mag = np.linalg.norm(flow, axis=-1)
        records.append({"image": str(p), "flo": str(flo), "png": str(png), "size": list(rgb.shape[:2]),
                        "mean_mag": float(mag.mean()), "max_mag": float(mag.max())})
    return records
