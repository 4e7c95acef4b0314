"""How a trained B2F-net's predictions depend on the size of the image it is given.

B2F-net is fully convolutional, so it runs on any size; but the network of a checkpoint
was trained on crops of one size (``--crop``), and what it predicts for the same pixels can
change with the size of the input around them (zero padding at every level, the 1/64
grids at the coarsest levels, the spatial transformers' global average pools). For each
test image of ``--shards``, the checkpoint is run on centre crops of growing size (the
multiples of 64 up to the frame, then the full frame) and every prediction is scored on
the same centre region (``--region`` px square, the smallest crop): its EPE (min of the
two directions) and its mean magnitude against the label's.

``--identity-stn`` replaces the spatial transformers' predicted transforms by the identity
(whether they make the difference). Then the whole frames as ``blurgen eval`` scores them
(EPE over all pixels): given whole, and in tiles of the training crop (``--tile auto``)
with overlaps of at least 32, 64 and 96 px (tiles are spread evenly, so neighbours may
share more than asked).

    python benchmarks/input_size.py --ckpt RUN/best.pt --shards OUT/monkaa [--split test] [--region 128]
                                    [--identity-stn]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blurgen.train.checkpoint import load_model  # noqa: E402
from blurgen.train.evaluate import eval_dataset, evaluate_checkpoint, infer_flow  # noqa: E402


def centre(a: np.ndarray, h: int, w: int) -> np.ndarray:
    y0, x0 = (a.shape[0] - h) // 2, (a.shape[1] - w) // 2
    return a[y0:y0 + h, x0:x0 + w]


def predictions(model, blur: np.ndarray, region: int) -> dict[str, np.ndarray]:
    """{input size: prediction on the centre ``region`` square}, for centre crops of
    ``region``, ``region + 64``, ... up to the frame and for the full frame."""
    H, W = blur.shape[:2]
    sizes = [(min(s, H), s) for s in range(region, W + 1, 64)] + [(H, W)]
    out = {}
    for h, w in dict.fromkeys(sizes):
        x = torch.from_numpy(np.ascontiguousarray(centre(blur, h, w))).permute(2, 0, 1)[None].float() / 255
        with torch.inference_mode():
            f = infer_flow(model, x)[0].permute(1, 2, 0).numpy()
        # the region's place in this crop: the frame's centre square
        y0 = (H - region) // 2 - (H - h) // 2
        x0 = (W - region) // 2 - (W - w) // 2
        out[f"{w}x{h}" + (" (full)" if (h, w) == (H, W) else "")] = f[y0:y0 + region, x0:x0 + region]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--shards", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--region", type=int, default=128)
    ap.add_argument("--identity-stn", action="store_true", help="the spatial transformers' transforms = identity")
    args = ap.parse_args()
    if args.identity_stn:
        from blurgen.models.b2fnet.decoder import SpatialTransformer

        def identity(self, u):
            return torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], device=u.device).expand(u.shape[0], 2, 3)

        SpatialTransformer.theta = identity
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    model, ck = load_model(args.ckpt)
    crop = (ck.get("config") or {}).get("crop")
    ds, split = eval_dataset(args.shards, args.split)
    print(f"# {args.ckpt} (trained on crops of {crop}) on {args.shards}, split {split}, {len(ds)} images; "
          f"scored on the centre {args.region}x{args.region} pixels of each"
          + ("; spatial transformers: identity" if args.identity_stn else ""))
    rows: dict[str, list[tuple[float, float, float, float]]] = {}
    for i in range(len(ds)):
        item = ds[i]
        blur = (item["blur"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        fwd = centre(item["flow"].permute(1, 2, 0).numpy(), args.region, args.region)
        bwd = centre(item["flow_bwd"].permute(1, 2, 0).numpy(), args.region, args.region)
        for size, p in predictions(model, blur, args.region).items():
            epe = min(np.linalg.norm(p - g, axis=-1).mean() for g in (fwd, bwd))
            rows.setdefault(size, []).append((float(epe), float(np.linalg.norm(p, axis=-1).mean()),
                                              float(np.linalg.norm(fwd, axis=-1).mean()),
                                              float(np.linalg.norm(fwd, axis=-1).mean())))  # zero flow: |label|
    print("| input | images | EPE min px | zero flow px | mean |prediction| px | mean |label| px | prediction / label |")
    print("|---|---|---|---|---|---|---|")
    for size, r in rows.items():
        epe, mag, lab, zero = (float(np.mean(c)) for c in zip(*r))
        print(f"| {size} | {len(r)} | {epe:.2f} | {zero:.2f} | {mag:.2f} | {lab:.2f} | {mag / lab:.2f} |")
    print(f"\nwhole frames, all pixels (blurgen eval --split {split} [--tile auto --tile-overlap P]):\n")
    print("| given as | EPE min px | zero flow px |\n|---|---|---|")
    for tile, overlap in ((0, 0), ("auto", 32), ("auto", 64), ("auto", 96)):
        r = evaluate_checkpoint(args.ckpt, args.shards, split=args.split, device="cpu", tile=tile, tile_overlap=overlap)
        given = "whole frames" if not r["tile"] else f"tiles of {r['tile']}, overlap {overlap}"
        print(f"| {given} | {r['epe_min']:.2f} | {r['zero_epe_min']:.2f} |")


if __name__ == "__main__":
    main()
