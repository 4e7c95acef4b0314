"""Flow from single blurred images with a trained B2F-net.

``predict_flow(model, rgb)``: (H, W, 3) uint8 RGB -> (H, W, 2) float32 pixels (flow first ->
last frame, [..., 0] = x), any H and W (padded to multiples of 64 and cropped back; or in
tiles, ``tile``: see ``blurgen.train.tiling``).
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
from blurgen.io.frames import IMAGE_EXTS, image_files
from blurgen.train.checkpoint import load_model
from blurgen.train.ddp import pick_device
from blurgen.train.evaluate import infer_flow
from blurgen.train.results import label_row
from blurgen.train.tiling import DEFAULT_OVERLAP, check_overlap, resolve_tile


def predict_flow(model: torch.nn.Module, rgb: np.ndarray, device: torch.device | str = "cpu",
                 amp: str = "none", tile: int = 0, overlap: int = DEFAULT_OVERLAP) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W, 2) float32 flow in pixels; ``tile`` > 0: in tiles of
    that size sharing ``overlap`` px."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {rgb.shape} {rgb.dtype}")
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div_(255.0).to(device)
    with torch.inference_mode():
        flow = infer_flow(model, x, amp, tile=tile, overlap=overlap)
    return flow[0].permute(1, 2, 0).cpu().numpy().astype(np.float32)


def expand_folders(images: list[str | os.PathLike] | tuple) -> list[Path]:
    """``images`` with each folder replaced by the image files directly in it
    (``io.frames.image_files``); ``InputError`` for a folder without any."""
    out: list[Path] = []
    for p in map(Path, images):
        if not p.is_dir():
            out.append(p)
            continue
        found = image_files(p)
        if not found:
            raise InputError(p, f"no image files in this folder ({' '.join(IMAGE_EXTS)})", "give images or their folder")
        out += found
    return out


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


def _label_of(label: str | os.PathLike, image: Path, rgb: np.ndarray) -> np.ndarray:
    """The ``.flo`` label of ``image`` (NaN allowed: not trusted), of the image's size."""
    flow = read_flo(label, allow_nonfinite=True)
    if flow.shape[:2] != rgb.shape[:2]:
        raise InputError(label, f"the label is {flow.shape[1]}x{flow.shape[0]} but {image} is "
                                f"{rgb.shape[1]}x{rgb.shape[0]}", "give the flow of that image")
    return flow


def predict_files(images: list[str | os.PathLike], ckpt: str | os.PathLike, out: str | os.PathLike,
                  device: str | torch.device = "cpu", amp: str = "none", max_mag: float | None = None,
                  labels: list[str | os.PathLike] | None = None, tile: str | int = 0,
                  tile_overlap: int = DEFAULT_OVERLAP) -> list[dict]:
    """Predict every image, one at a time; write .flo and colour .png. Returns one record per
    image: ``{"image", "flo", "png", "size": [H, W], "mean_mag", "max_mag"}`` (pixels), or
    ``{"image", "error"}`` (an ``InputError``) for an image or label that cannot be read or
    does not fit: bad input of that image, the others are still predicted.
    ``device``: "auto", "cpu", "cuda", "cuda:N" or a torch.device. ``labels``: a ``.flo``
    per image (first -> last): also ``<name>-vs-label.png`` (blur | label | prediction |
    error, ``results.label_row``) and, in the record, ``"compare"`` (its path) and ``"epe"`` (px).
    ``tile``: ``"auto"`` (the crop the network was trained on), 0 (whole images) or a size in
    pixels (``blurgen.train.tiling``); the record's ``"tile"`` says which, ``"train_crop"`` the
    crop the network was trained on (None when the checkpoint does not say)."""
    device = pick_device(device) if isinstance(device, str) else device
    paths = [Path(p) for p in images]
    targets = output_paths(paths, Path(out))
    if labels and len(labels) != len(paths):
        raise ConfigError(f"{len(labels)} --label file(s) for {len(paths)} image(s): give one label per image, "
                          "in the order of the images")
    model, ck = load_model(ckpt, device)
    tiles = (resolve_tile(tile, ck), tile_overlap)
    check_overlap(*tiles)
    trained = (ck.get("config") or {}).get("crop")
    records = []
    for i, (p, (flo, png)) in enumerate(zip(paths, targets)):
        try:
            rgb = read_image(p)
            label = _label_of(labels[i], p, rgb) if labels else None
        except InputError as e:
            records.append({"image": str(p), "error": e})
            continue
        records.append({**_predict_one(model, rgb, label, p, flo, png, device, amp, max_mag, tiles),
                        "train_crop": trained})
    return records


def _predict_one(model, rgb: np.ndarray, label: np.ndarray | None, image: Path, flo: Path, png: Path, device,
                 amp: str, max_mag: float | None, tiles: tuple[int, int]) -> dict:
    """Predict one read image, write its outputs, return its record (see :func:`predict_files`)."""
    flow = predict_flow(model, rgb, device, amp, *tiles)
    flo.parent.mkdir(parents=True, exist_ok=True)
    write_flo(flo, flow)
    write_flow_png(png, flow, max_mag=max_mag)
    mag = np.linalg.norm(flow, axis=-1)
    record = {"image": str(image), "flo": str(flo), "png": str(png), "size": list(rgb.shape[:2]),
              "mean_mag": float(mag.mean()), "max_mag": float(mag.max()), "tile": tiles[0]}
    if label is not None:
        compare = flo.with_name(f"{flo.stem}-vs-label.png")
        row, epe = label_row(rgb, label, flow, title=image.name)
        write_image(compare, row)
        record.update(compare=str(compare), epe=epe)
    return record
