"""Flow from single blurred images with a trained B2F-net.

``predict_flow(model, rgb)``: (H, W, 3) uint8 RGB -> (H, W, 2) float32 pixels (flow first ->
last frame, [..., 0] = x), any H and W (padded to multiples of 64 and cropped back).
``predict_files`` reads images and writes ``<stem>.flo`` and ``<stem>.png`` (flow colour);
given a label per image, also ``<stem>-vs-label.png`` (blur | label | prediction | error, EPE).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from blurgen.errors import ConfigError, InputError
from blurgen.io import read_flo, read_image, write_flo, write_flow_png, write_image
from blurgen.train.checkpoint import load_model
from blurgen.train.ddp import pick_device
from blurgen.train.evaluate import infer_flow
from blurgen.train.results import label_row


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


def read_labels(labels: list[str | os.PathLike], images: list[Path], rgbs: list[np.ndarray]) -> list[np.ndarray]:
    """The ``.flo`` label of each image (NaN allowed: not trusted), checked against the
    images: one label per image, each of its image's size."""
    if len(labels) != len(images):
        raise ConfigError(f"{len(labels)} --label file(s) for {len(images)} image(s): give one label per image, "
                          "in the order of the images")
    flows = []
    for lab, img, rgb in zip(labels, images, rgbs):
        flow = read_flo(lab, allow_nonfinite=True)
        if flow.shape[:2] != rgb.shape[:2]:
            raise InputError(lab, f"the label is {flow.shape[1]}x{flow.shape[0]} but {img} is "
                                  f"{rgb.shape[1]}x{rgb.shape[0]}", "give the flow of that image")
        flows.append(flow)
    return flows


def predict_files(images: list[str | os.PathLike], ckpt: str | os.PathLike, out: str | os.PathLike,
                  device: str | torch.device = "cpu", amp: str = "none", max_mag: float | None = None,
                  labels: list[str | os.PathLike] | None = None) -> list[dict]:
    """Predict every image; write .flo and colour .png. Returns one record per image:
    ``{"image", "flo", "png", "size": [H, W], "mean_mag", "max_mag"}`` (pixels).
    ``device``: "auto", "cpu", "cuda", "cuda:N" or a torch.device. ``labels``: a ``.flo``
    per image (first -> last): also ``<name>-vs-label.png`` (blur | label | prediction |
    error, ``results.label_row``) and, in the record, ``"compare"`` (its path) and ``"epe"`` (px)."""
    device = pick_device(device) if isinstance(device, str) else device
    paths = [Path(p) for p in images]
    targets = output_paths(paths, Path(out))
    rgbs = [read_image(p) for p in paths]  # fail on a bad image or label before any work
    flows = read_labels(labels, paths, rgbs) if labels else [None] * len(paths)
    model, _ = load_model(ckpt, device)
    records = []
    for p, rgb, label, (flo, png) in zip(paths, rgbs, flows, targets):
        flow = predict_flow(model, rgb, device, amp)
        flo.parent.mkdir(parents=True, exist_ok=True)
        write_flo(flo, flow)
        write_flow_png(png, flow, max_mag=max_mag)
        mag = np.linalg.norm(flow, axis=-1)
        records.append({"image": str(p), "flo": str(flo), "png": str(png), "size": list(rgb.shape[:2]),
                        "mean_mag": float(mag.mean()), "max_mag": float(mag.max())})
        if label is not None:
            compare = flo.with_name(f"{flo.stem}-vs-label.png")
            row, epe = label_row(rgb, label, flow, title=p.name)
            write_image(compare, row)
            records[-1].update(compare=str(compare), epe=epe)
    return records
