"""Super-SloMo at 960x540: blurgen's padding against the public port's resize.

The network needs H and W in multiples of 32. blurgen pads the frames at the bottom and
right with edge values (540 -> 544 rows) and crops the result back. The public port
(``dataloader.Video`` + ``video_to_slomo.py``) instead resizes both frames down to the
multiple of 32 below (PIL ``ANTIALIAS``, i.e. Lanczos: 960x540 -> 960x512), runs the net,
turns each frame into 8 bits with ``ToPILImage`` (``x * 255`` truncated) and resizes it
back up with PIL bilinear. This prints how far the two interpolated frames are apart, in
/255 units (mean and max over pixels, channels and times) and as PSNR (peak 255):

- ``pad vs resize (float)``: the port's resize path with the frame resized back in float,
  the geometric difference alone;
- ``pad vs resize (as the port writes it)``: with the port's truncation to 8 bits;
- ``resize round trip of the input``: frame 0 resized to 960x512 and back against itself,
  what the resize loses before any network;
- ``old up-blocks vs fixed``: for scale, blurgen before and after the fix of its up-blocks
  (``align_corners=True``, which the port never used, against ``False``), both padded.

There are no real Super-SloMo weights here: the network has random weights with a
signal-preserving init (Kaiming for LeakyReLU(0.1); heads scaled so flows are a few
pixels and the visibility is not constant), so the numbers give the size of the effect
of a network of this shape, not that of the trained one. The pair is the real Sintel
alley_1 pair (1024x436) scaled by 540/436 (Lanczos) and centre-cropped to 960x540.

    python benchmarks/slomo_padding.py [--times 3] [--threads 2] [--realdata ../shared/realdata]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def real_pair(realdata: Path, h: int = 540, w: int = 960):
    """Sintel alley_1 frames 2 and 3 scaled to height ``h`` and centre-cropped to ``w``: uint8 (h, w, 3)."""
    import cv2

    from blurgen.io.frames import read_image

    d = realdata / "sintel_alley_1"
    out = []
    for name in ("frame_0002.png", "frame_0003.png"):
        img = read_image(d / name)
        sw = round(img.shape[1] * h / img.shape[0])
        big = cv2.resize(img, (sw, h), interpolation=cv2.INTER_LANCZOS4)
        x0 = (sw - w) // 2
        out.append(np.ascontiguousarray(big[:, x0:x0 + w]))
    return out


def random_model(seed: int):
    """SuperSloMo with Kaiming-normal weights for LeakyReLU(0.1), heads scaled (flow x16, interpolation x5)."""
    import torch

    from blurgen.models.superslomo import SuperSloMo

    torch.manual_seed(seed)
    model = SuperSloMo().eval()
    with torch.no_grad():
        for net, gain in ((model.flow_net, 16.0), (model.interp_net, 5.0)):
            for m in net.modules():
                if isinstance(m, torch.nn.Conv2d):
                    torch.nn.init.kaiming_normal_(m.weight, a=0.1, nonlinearity="leaky_relu")
                    torch.nn.init.normal_(m.bias, std=0.01)
            net.conv3.weight.mul_(gain)
            net.conv3.bias.mul_(gain)
    return model


def pil_resize(img: np.ndarray, size, resample) -> np.ndarray:
    """Resize (H, W, 3) with PIL to ``size`` = (W, H): uint8 as RGB, float32 channel by channel (mode F)."""
    from PIL import Image

    if img.dtype == np.uint8:
        return np.asarray(Image.fromarray(img).resize(size, resample))
    chans = [np.asarray(Image.fromarray(np.ascontiguousarray(img[..., c]), mode="F").resize(size, resample))
             for c in range(img.shape[2])]
    return np.stack(chans, axis=2).astype(np.float32)


def port_resize_path(it, a, b, times):
    """The port's way: Lanczos down to multiples of 32, net, back up bilinear.
    Returns (frames resized back in float, frames as the port writes them (uint8))."""
    from PIL import Image

    h, w = a.shape[:2]
    small = (w // 32 * 32, h // 32 * 32)
    sa, sb = (pil_resize(x, small, Image.LANCZOS) for x in (a, b))
    as_float, as_written = [], []
    for fr in it.frames(sa, sb, times=times):
        as_float.append(pil_resize(fr, (w, h), Image.BILINEAR))
        trunc = np.clip(fr, 0, 255).astype(np.uint8)  # ToPILImage: x.mul(255).byte()
        as_written.append(pil_resize(trunc, (w, h), Image.BILINEAR).astype(np.float32))
    return as_float, as_written


def old_up_forward(self, x, skip):
    """blurgen's up-block before the fix: bilinear x2 with align_corners=True."""
    import torch
    import torch.nn.functional as F

    x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
    x = F.leaky_relu(self.conv1(x), 0.1)
    return F.leaky_relu(self.conv2(torch.cat([x, skip], 1)), 0.1)


def compare(xs, ys):
    d = np.concatenate([np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)).ravel() for x, y in zip(xs, ys)])
    mse = float(np.mean(d ** 2))
    psnr = 10 * math.log10(255.0 ** 2 / mse) if mse > 0 else float("inf")
    return float(d.mean()), float(d.max()), psnr


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--times", type=int, default=3, help="interpolated frames per pair (t = k / (n + 1))")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--realdata", type=Path, default=REPO / ".." / "shared" / "realdata")
    args = ap.parse_args(argv)
    if not (args.realdata / "sintel_alley_1" / "frame_0003.png").is_file():
        print(f"{args.realdata / 'sintel_alley_1'}: Sintel pair not found; give --realdata the realdata folder",
              file=sys.stderr)
        return 1
    import torch
    from PIL import Image

    from blurgen.models import superslomo
    from blurgen.synth.interpolate import SuperSloMoInterpolator

    torch.set_num_threads(args.threads)
    a, b = real_pair(args.realdata)
    times = [(k + 1) / (args.times + 1) for k in range(args.times)]
    model = random_model(args.seed)
    it = SuperSloMoInterpolator(model, "cpu", max_batch=args.times)
    t0 = time.perf_counter()
    with torch.inference_mode():
        i0, i1, _, _ = it._prepare(a, b)
        f01, _ = model.flows(i0, i1)
    padded = list(it.frames(a, b, times=times))
    resized, written = port_resize_path(it, a, b, times)
    secs = time.perf_counter() - t0
    with mock.patch.object(superslomo._Up, "forward", old_up_forward):
        old = list(it.frames(a, b, times=times))
    small = (a.shape[1], a.shape[0] // 32 * 32)
    round_trip = pil_resize(pil_resize(a, small, Image.LANCZOS), (a.shape[1], a.shape[0]), Image.BILINEAR)
    rows = [("pad vs resize (float)", compare(padded, resized)),
            ("pad vs resize (as the port writes it)", compare(padded, written)),
            ("resize round trip of the input (no net)", compare([a], [round_trip])),
            ("old up-blocks vs fixed (both padded)", compare(old, padded))]
    print(f"Super-SloMo, random signal-preserving weights (seed {args.seed}; flow F01 std "
          f"{f01.std().item():.2f} px, max {f01.abs().max().item():.1f} px), Sintel alley_1 pair at "
          f"{a.shape[1]}x{a.shape[0]}: pad to {i0.shape[-1]}x{i0.shape[-2]} vs resize to {small[0]}x{small[1]}; "
          f"t = {', '.join(f'{t:.2f}' for t in times)}")
    print("\n| comparison | mean /255 | max /255 | PSNR dB |\n|---|---|---|---|")
    for name, (mean, mx, psnr) in rows:
        print(f"| {name} | {mean:.2f} | {mx:.1f} | {psnr:.2f} |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n{secs:.0f} s for both paths, torch {args.threads} threads, load average {load:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
