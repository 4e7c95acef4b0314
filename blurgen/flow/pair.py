"""One flow field between two image files, written as .flo and a colour PNG (``blurgen flow``).

    r = flow_between_files("frame1.png", "frame7.png", "flow.flo", model="dis")
    r.written   # [flow.flo, flow.png]; with backward=True also flow.bwd.flo, flow.valid.png

Importing this module imports numpy only; OpenCV, torch and ptlflow load with the estimator.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from blurgen.errors import ConfigError
from blurgen.flow.consistency import fb_consistency
from blurgen.flow.registry import get_estimator
from blurgen.io.flo import write_flo
from blurgen.io.flowviz import write_flow_png
from blurgen.io.frames import read_image, write_image


@dataclass
class PairFlow:
    """What :func:`flow_between_files` estimated and wrote.

    label: the estimator (``dis``, ``pwcnet/things``, ...); width, height: pixels;
    mean_mag, max_mag: of the forward flow's length, pixels; seconds: estimation time
    (reading and writing excluded); consistent: the share (0..1) of pixels where the two
    directions agree, None without ``backward``; written: the files, in the order written.
    """

    label: str
    width: int
    height: int
    mean_mag: float
    max_mag: float
    seconds: float
    consistent: float | None = None
    written: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        """One line: ``dis: 320x180, mean |flow| 1.23 px, max 4.56 px, 0.01 s[, consistent 98.7 %]``."""
        line = (f"{self.label}: {self.width}x{self.height}, mean |flow| {self.mean_mag:.2f} px, "
                f"max {self.max_mag:.2f} px, {self.seconds:.2f} s")
        if self.consistent is not None:
            line += f", consistent {100 * self.consistent:.1f} %"
        return line


def flow_between_files(img1: str | os.PathLike, img2: str | os.PathLike, out: str | os.PathLike, *,
                       model: str = "dis", ckpt: str | None = None, device: str | None = None,
                       max_mag: float | None = None, backward: bool = False) -> PairFlow:
    """Estimate the flow ``img1 -> img2`` and write it to ``out`` (.flo, (H, W, 2) float32
    pixels, [..., 0] = x) and its colour image beside it (``out`` with .png; ``max_mag``:
    the length in pixels of full colour saturation, None = the field's largest).

    backward: also estimate ``img2 -> img1`` and write ``out`` with .bwd.flo and
    .valid.png (white where the two directions agree, :func:`fb_consistency`).
    model, ckpt, device: as :func:`blurgen.flow.get_estimator` (ckpt and device are
    refused for the classical estimators). A bad ``out`` suffix or ``max_mag`` is a
    ``ConfigError`` raised before anything is read.
    """
    img1, img2, out = Path(img1), Path(img2), Path(out)
    if out.suffix.lower() != ".flo":
        raise ConfigError(f"--out {out}: the flow file must end in .flo (the PNG goes beside it)")
    if max_mag is not None and not max_mag > 0:
        raise ConfigError(f"--max-mag must be > 0, got {max_mag}")
    est = get_estimator(model, ckpt=ckpt, device=device)
    a, b = read_image(img1), read_image(img2)
    t0 = time.perf_counter()
    if backward:
        fwd, bwd = est.estimate([a, b], [b, a], names1=[str(img1), str(img2)], names2=[str(img2), str(img1)])
    else:
        fwd = est.estimate([a], [b], names1=[str(img1)], names2=[str(img2)])[0]
    seconds = time.perf_counter() - t0

    out.parent.mkdir(parents=True, exist_ok=True)
    png = out.with_suffix(".png")
    write_flo(out, fwd)
    write_flow_png(png, fwd, max_mag)
    mag = np.linalg.norm(fwd, axis=2)
    h, w = fwd.shape[:2]
    result = PairFlow(est.label, w, h, float(mag.mean()), float(mag.max()), seconds, written=[out, png])
    if backward:
        bwd_path, valid_path = out.with_suffix(".bwd.flo"), out.with_suffix(".valid.png")
        valid = fb_consistency(fwd, bwd)
        write_flo(bwd_path, bwd)
        write_image(valid_path, np.repeat(valid[..., None] * 255, 3, axis=2))
        result.consistent = float(valid.mean())
        result.written += [bwd_path, valid_path]
    return result
