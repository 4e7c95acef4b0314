"""The bundled procedural sample: real dataset layouts with exact ground truth.

``write_sample(out, SampleConfig(...))`` writes, under ``out``:

- ``monkaa/``: ``frames_cleanpass/<scene>/left/NNNN.png`` and
  ``optical_flow/<scene>/into_{future,past}/left/OpticalFlowInto{Future,Past}_NNNN_L.pfm``
  (exact flow NNNN -> NNNN+1 and NNNN -> NNNN-1; as in the real data there is one flow file
  per frame in each direction, so the last into-future and the first into-past files point
  to frames that are not on disk);
- ``gopro/GOPRO_Large_all/{train,test}/<seq>/NNNNNN.png`` (240 fps, from 000001; one
  sequence has a gap in its numbering);
- ``nfs/<seq>/240/<seq>/NNNNN.jpg`` (from 00001) with ``nfs/<seq>/240/<seq>.txt`` (one
  box per frame) and a ``30/`` folder beside ``240/`` (every 8th frame);
- ``video/<name>.mp4`` (240 fps, libx264);
- ``truth/``: continuous-time blur and exact flows per Monkaa pair and per 7-frame window,
  ``truth/index.json`` and ``truth/README.md`` (see :data:`TRUTH_README`);
- ``sample.json`` last, so a killed run never looks complete.

Pure scene maths lives in :mod:`blurgen.sources.procedural`; writing one sequence in its
layout in :mod:`blurgen.sources.sample_files`; this module drives the whole sample.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
from dataclasses import dataclass
from pathlib import Path


from blurgen import __version__
from blurgen.errors import ConfigError
from blurgen.sources.procedural.catalog import LAYOUTS, SeqSpec, build_scene, sequences
from blurgen.sources.procedural.scene import Scene
from blurgen.sources.sample_files import TRUTH_README, WINDOW, in_worker, write_blur, write_sequence
from blurgen.utils import atomic_write_text

SAMPLE_FORMAT = 1
MIN_SIDE, MAX_SIDE = 32, 4096
ENTRIES = ("monkaa", "gopro", "nfs", "video", "truth", "sample.json")


@dataclass(frozen=True)
class SampleConfig:
    """What ``blurgen sample`` writes.

    ``width`` x ``height`` pixels (even sides when the video is written: yuv420p);
    ``seed`` fixes everything; ``only`` the layouts (subset of ``monkaa, gopro, nfs,
    video``); ``blur_step`` the largest displacement (pixels) between consecutive
    sub-frame renders of a truth blur; ``crf`` the x264 quality of the video;
    ``workers`` processes (the output does not depend on it).
    """

    width: int = 320
    height: int = 180
    seed: int = 0
    only: tuple[str, ...] = LAYOUTS
    blur_step: float = 0.5
    crf: int = 14
    workers: int = 1

    def check(self) -> None:
        """Raise ConfigError on a value the sample cannot be written with."""
        for name, v in (("width", self.width), ("height", self.height)):
            if not (MIN_SIDE <= v <= MAX_SIDE):
                raise ConfigError(f"--size: {name} {v} is out of range ({MIN_SIDE}..{MAX_SIDE} pixels)")
        bad = [x for x in self.only if x not in LAYOUTS]
        if bad or not self.only:
            raise ConfigError(f"--only: unknown layout(s) {', '.join(bad) or '(none given)'}; "
                              f"choose from {', '.join(LAYOUTS)}")
        if "video" in self.only and (self.width % 2 or self.height % 2):
            raise ConfigError(f"--size {self.width}x{self.height}: the video needs an even width and "
                              "height (yuv420p); use even sides or leave the video out with --only")
        if not (0.05 <= self.blur_step <= 2.0):
            raise ConfigError(f"--blur-step {self.blur_step} is out of range (0.05..2 pixels)")
        if not (0 <= self.crf <= 51):
            raise ConfigError(f"--crf {self.crf} is out of range (0..51)")
        if self.workers < 1:
            raise ConfigError(f"--workers {self.workers} must be at least 1")


def parse_size(text: str) -> tuple[int, int]:
    """``"WxH"`` -> ``(W, H)``; ConfigError with the expected form otherwise."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ConfigError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 320x180")
    return int(parts[0]), int(parts[1])


# -- the whole sample -----------------------------------------------------------------

def _prepare(out: Path, overwrite: bool) -> None:
    """Make ``out`` ready: refuse a non-empty folder unless ``overwrite``; then remove
    ``sample.json`` first (so the old sample stops looking complete) and our subfolders."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a folder; give a new folder name")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"{out}: folder is not empty; give a new folder or pass --overwrite")
        (out / "sample.json").unlink(missing_ok=True)
        for name in ENTRIES:
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _stats(values: list[float]) -> dict:
    if not values:
        return {"count": 0}
    return {"count": len(values), "min": round(min(values), 3),
            "median": round(statistics.median(values), 3), "max": round(max(values), 3)}


MONKAA_BANDS = ((0.0, 5.0), (5.0, 20.0), (20.0, 50.0), (50.0, 100.0), (100.0, float("inf")))


def band_counts(s_values: list[float]) -> dict[str, int]:
    """Counts of ``s`` per band ``[lo, hi)``: ``"<5"``, ``"5-20"``, ``"20-50"``, ``"50-100"``, ``">100"``."""
    names = ("<5", "5-20", "20-50", "50-100", ">100")
    return {n: sum(lo <= s < hi for s in s_values) for n, (lo, hi) in zip(names, MONKAA_BANDS)}


def write_sample(out: str | os.PathLike, cfg: SampleConfig = SampleConfig(), *,
                 overwrite: bool = False) -> dict:
    """Write the sample to ``out``; return the content of ``out/sample.json``.

    Deterministic: the same config writes the same bytes on the same platform and
    library versions, whatever ``cfg.workers``. Raises ConfigError on a bad config or a
    non-empty ``out`` without ``overwrite``.
    """
    cfg.check()
    out = Path(out)
    _prepare(out, overwrite)
    specs = sequences(tuple(cfg.only))
    records = _write_parallel(out, specs, cfg) if cfg.workers > 1 else [
        write_sequence(out, s, cfg, True)[0] for s in specs]
    truth = out / "truth"
    truth.mkdir(exist_ok=True)
    index = {"format": SAMPLE_FORMAT, "blur_step_px": cfg.blur_step, "window": WINDOW,
             "items": [it for r in records for it in r["items"]],
             "dropped_windows": [d for r in records for d in r["dropped"]]}
    atomic_write_text(truth / "index.json", json.dumps(index, indent=1) + "\n")
    atomic_write_text(truth / "README.md", TRUTH_README)
    meta = {
        "format": SAMPLE_FORMAT,
        "generator": "blurgen sample",
        "blurgen_version": __version__,
        "seed": cfg.seed,
        "size": [cfg.width, cfg.height],
        "only": list(cfg.only),
        "blur_step_px": cfg.blur_step,
        "video_crf": cfg.crf,
        "layouts": {layout: _layout_entry(layout, records) for layout in cfg.only},
    }
    atomic_write_text(out / "sample.json", json.dumps(meta, indent=1) + "\n")  # last: marks completion
    return meta


def _write_parallel(out: Path, specs: list[SeqSpec], cfg: SampleConfig) -> list[dict]:
    """Frames and flows per sequence, then the blurs item by item (one Monkaa scene holds
    almost half of the sub-frame renders), in ``cfg.workers`` processes. Scenes travel to
    the workers with their textures memory-mapped; sequences with the most motion go first."""
    from joblib import Parallel, delayed

    with Parallel(n_jobs=cfg.workers) as parallel:
        done = parallel(delayed(in_worker)(write_sequence, out, s, cfg, False) for s in specs)
        records = [r for r, _ in done]
        scenes = {r["sequence"]["name"]: sc for r, sc in done}
        work = {r["sequence"]["name"]: sum(it["s"] for it in r["items"]) for r in records}
        todo = sorted((it for r in records for it in r["items"]),
                      key=lambda it: (-work[it["sequence"]], it["sequence"], -it["s"]))
        ns = parallel(delayed(in_worker)(write_blur, out, scenes[it["sequence"]], it, cfg.blur_step) for it in todo)
        for it, n in zip(todo, ns):
            it["n_sub"] = n
    return records


def _layout_entry(layout: str, records: list[dict]) -> dict:
    """What ``sample.json`` says of one layout: its sequences, file counts and the range of s."""
    recs = [r for r in records if r["sequence"]["layout"] == layout]
    s_vals = [it["s"] for r in recs for it in r["items"]]
    n_truth = sum(f.startswith("truth/") for r in recs for f in r["files"])
    entry = {
        "sequences": [r["sequence"] for r in recs],
        "files": sum(len(r["files"]) for r in recs) - n_truth,
        "truth_files": n_truth,
        "truth_items": len(s_vals),
        "s": _stats(s_vals),
    }
    if layout == "monkaa":
        entry["s_bands"] = band_counts(s_vals)
    return entry


def read_sample_meta(out: str | os.PathLike) -> dict:
    """The ``sample.json`` of a complete sample; ConfigError when it is absent (incomplete)."""
    p = Path(out) / "sample.json"
    if not p.is_file():
        raise ConfigError(f"{out}: no sample.json, so not a complete sample; run `blurgen sample {out}` again")
    return json.loads(p.read_text())


def scene_for(out_or_meta: str | os.PathLike | dict, layout: str, name: str) -> tuple[SeqSpec, Scene]:
    """The spec and scene of one sequence of a written sample (from its ``sample.json``),
    to compute truth the files do not hold (any time, any window)."""
    meta = out_or_meta if isinstance(out_or_meta, dict) else read_sample_meta(out_or_meta)
    for spec in sequences(LAYOUTS):
        if spec.layout == layout and spec.name == name:
            w, h = meta["size"]
            return spec, build_scene(spec, int(meta["seed"]), int(w), int(h))
    raise ConfigError(f"no sequence {layout}/{name} in the sample")


