"""Reading the ground truth of a written procedural sample (``blurgen sample OUT``).

``OUT/truth/index.json`` lists one item per Monkaa pair and per 7-frame window of the 240
fps layouts (``docs/sample.md``). These functions read an item's inputs as the dataset
commands read them (frames from the files: PNG, JPEG or the H.264 video) and its exact
truth: flows ``(H, W, 2) float32`` px and the continuous-time blur ``(H, W, 3) float32``
in [0, 255]. The benchmarks and ``blurgen calibrate`` compare what blurgen makes with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from blurgen.errors import InputError
from blurgen.io.flo import read_flo
from blurgen.io.frames import read_image
from blurgen.io.pfm import read_pfm, read_pfm_flow
from blurgen.io.video import iter_video_frames
from blurgen.sources.sample import read_sample_meta

WINDOW_LAYOUTS = ("gopro", "nfs", "video")


def truth_items(sample: str | Path, layouts: tuple[str, ...] | None = None, per_seq: int | None = None) -> list[dict]:
    """The items of ``truth/index.json`` of the layouts given (None: all), in index order;
    ``per_seq`` keeps at most that many per sequence. A folder that is not a complete
    sample -> ``ConfigError``; no index -> ``InputError``."""
    sample = Path(sample)
    read_sample_meta(sample)
    path = sample / "truth" / "index.json"
    if not path.is_file():
        raise InputError(path, "truth index missing", "write the sample again with `blurgen sample`")
    items = json.loads(path.read_text())["items"]
    out, counts = [], {}
    for it in items:
        if layouts is not None and it["layout"] not in layouts:
            continue
        seq = f"{it['layout']}/{it['sequence']}"
        if per_seq is not None and counts.get(seq, 0) >= per_seq:
            continue
        counts[seq] = counts.get(seq, 0) + 1
        out.append(it)
    return out


class FrameReader:
    """Frames of window items, read as ``blurgen real`` reads them; a video is decoded once
    and kept (the sample's videos are short)."""

    def __init__(self, sample: str | Path):
        self.sample = Path(sample)
        self._videos: dict[str, list[np.ndarray]] = {}

    def frames(self, item: dict) -> list[np.ndarray]:
        """The item's frames, ``(H, W, 3) uint8`` RGB each, in time order."""

        if "video" in item:
            if item["video"] not in self._videos:
                self._videos[item["video"]] = list(iter_video_frames(self.sample / item["video"]))
            return self._videos[item["video"]][item["first"]: item["last"] + 1]
        return [read_image(self.sample / f) for f in item["frames"]]


def truth_flows(sample: str | Path, item: dict) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``(flow first -> last, flow last -> first)`` of an item (PFM for Monkaa pairs,
    .flo for windows)."""

    sample = Path(sample)
    read = read_pfm_flow if item["flow_fwd"].endswith(".pfm") else read_flo
    return read(sample / item["flow_fwd"]), read(sample / item["flow_bwd"])


def truth_blur(sample: str | Path, item: dict) -> np.ndarray:
    """The item's continuous-time blur, ``(H, W, 3) float32`` RGB in [0, 255]."""

    return read_pfm(Path(sample) / item["blur"])


def windows(sample: str | Path, per_seq: int | None = None,
            layouts: tuple[str, ...] = WINDOW_LAYOUTS) -> Iterator[tuple[dict, list[np.ndarray], np.ndarray, np.ndarray]]:
    """``(item, frames, flow_fwd, flow_bwd)`` for the 240 fps windows of a sample."""
    reader = FrameReader(sample)
    for it in truth_items(sample, layouts, per_seq):
        yield (it, reader.frames(it), *truth_flows(sample, it))


def sample_info(sample: str | Path) -> dict[str, Any]:
    """``{"seed", "size": [W, H]}`` of a written sample (from its ``sample.json``)."""
    meta = read_sample_meta(sample)
    return {"seed": int(meta["seed"]), "size": list(meta["size"])}
