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

Pure scene maths lives in :mod:`blurgen.sources.procedural`; this module is the I/O edge.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blurgen import __version__
from blurgen.errors import ConfigError
from blurgen.io import write_flo, write_image, write_pfm
from blurgen.sources.procedural.catalog import LAYOUTS, SeqSpec, build_scene, sequences
from blurgen.sources.procedural.scene import Scene
from blurgen.sources.windows import plan_windows
from blurgen.utils import atomic_path, atomic_write_text

SAMPLE_FORMAT = 1
WINDOW = 7  # frames averaged per 240 fps blur window (about 30 fps)
NFS_30FPS_STEP = 8  # the 30/ folder of an NfS sequence holds every 8th 240 fps frame
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


# -- paths of the layouts -------------------------------------------------------------

def frame_path(spec: SeqSpec, index: int) -> str:
    """Path (posix, relative to the sample root) of frame ``index`` of ``spec``."""
    n = f"{index:0{spec.digits}d}"
    if spec.layout == "monkaa":
        return f"monkaa/frames_cleanpass/{spec.name}/left/{n}.png"
    if spec.layout == "gopro":
        return f"gopro/GOPRO_Large_all/{spec.split}/{spec.name}/{n}.png"
    if spec.layout == "nfs":
        return f"nfs/{spec.name}/240/{spec.name}/{n}.jpg"
    raise ValueError(f"{spec.layout} frames are not image files")


def monkaa_flow_path(scene: str, index: int, direction: str) -> str:
    """``direction`` ``"future"`` (flow index -> index + 1) or ``"past"`` (index -> index - 1)."""
    d = {"future": "Future", "past": "Past"}[direction]
    return f"monkaa/optical_flow/{scene}/into_{direction}/left/OpticalFlowInto{d}_{index:04d}_L.pfm"


def video_path(spec: SeqSpec) -> str:
    return f"video/{spec.name}.mp4"


def _truth_dir(spec: SeqSpec) -> str:
    if spec.layout == "gopro":
        return f"truth/gopro/{spec.split}/{spec.name}"
    return f"truth/{spec.layout}/{spec.name}"


# -- writing one sequence -------------------------------------------------------------

def _max_norm(flow: np.ndarray) -> float:
    return float(np.sqrt((flow.astype(np.float64) ** 2).sum(axis=2)).max())


def _write_video(path: Path, frames: list[np.ndarray], crf: int) -> None:
    """Encode RGB uint8 frames as 240 fps H.264 (yuv420p), atomically."""
    import imageio_ffmpeg

    h, w = frames[0].shape[:2]
    with atomic_path(path, suffix=path.suffix) as tmp:
        writer = imageio_ffmpeg.write_frames(
            str(tmp), (w, h), pix_fmt_in="rgb24", pix_fmt_out="yuv420p", fps=240, quality=None,
            codec="libx264", macro_block_size=1, ffmpeg_log_level="error",
            output_params=["-crf", str(crf), "-preset", "medium", "-threads", "1",
                           "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"])
        writer.send(None)
        for f in frames:
            writer.send(np.ascontiguousarray(f))
        writer.close()


def _nfs_box(scene: Scene, t: float) -> tuple[int, int, int, int]:
    """``(xmin, ymin, xmax, ymax)`` (inclusive pixel indices) of the NfS target at ``t``:
    the pixels whose centre its outline contains. The target is the last (front-most)
    sprite and stays near the image centre, so nothing hides it."""
    ids = scene.layer_map(t)
    ys, xs = np.nonzero(ids == len(scene.sprites))
    if len(xs) == 0:
        raise RuntimeError(f"the NfS target left the image at t={t}")  # a bug in the catalog
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


class _Writer:
    """Writes files under ``out`` and remembers their relative paths."""

    def __init__(self, out: Path):
        self.out = out
        self.files: list[str] = []

    def put(self, rel: str, write, arr) -> str:
        p = self.out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        write(p, arr)
        self.files.append(rel)
        return rel


def _write_monkaa(w: _Writer, spec: SeqSpec, scene: Scene) -> list[dict]:
    """Both flow files of every frame; the items of the pairs (k, k+1) (blur still to make)."""

    indices = spec.indices()
    fwd: dict[int, np.ndarray] = {}
    for i in indices:
        t = spec.time(i)
        fwd[i] = scene.flow(t, t + 1)
        w.put(monkaa_flow_path(spec.name, i, "future"), write_pfm, fwd[i])
        w.put(monkaa_flow_path(spec.name, i, "past"), write_pfm, scene.flow(t, t - 1))
    return [{
        "layout": "monkaa", "sequence": spec.name, "first": i, "last": i + 1,
        "t0": spec.time(i), "t1": spec.time(i + 1),
        "frames": [frame_path(spec, i), frame_path(spec, i + 1)],
        "blur": f"{_truth_dir(spec)}/blur_{i:04d}_{i + 1:04d}.pfm",
        "flow_fwd": monkaa_flow_path(spec.name, i, "future"),
        "flow_bwd": monkaa_flow_path(spec.name, i + 1, "past"),
        "s": round(_max_norm(fwd[i]), 4), "n_sub": None,
    } for i in indices[:-1]]


def _write_windows(w: _Writer, spec: SeqSpec, scene: Scene) -> tuple[list[dict], list[dict]]:
    """Flows first <-> last of every 7-frame window of a 240 fps sequence; returns
    ``(items, dropped)`` (blur still to make)."""

    windows, gaps = plan_windows(spec.indices(), WINDOW)
    tdir, d = _truth_dir(spec), spec.digits
    items = []
    for win in windows:
        t0, t1 = spec.time(win.first), spec.time(win.last)
        a, b = f"{win.first:0{d}d}", f"{win.last:0{d}d}"
        fwd = scene.flow(t0, t1)
        item = {
            "layout": spec.layout, "sequence": spec.name, "first": win.first, "last": win.last,
            "t0": t0, "t1": t1, "blur": f"{tdir}/blur_{a}_{b}.pfm",
            "flow_fwd": w.put(f"{tdir}/flow_{a}_{b}.flo", write_flo, fwd),
            "flow_bwd": w.put(f"{tdir}/flow_{b}_{a}.flo", write_flo, scene.flow(t1, t0)),
            "s": round(_max_norm(fwd), 4), "n_sub": None,
        }
        if spec.layout == "video":
            item["video"] = video_path(spec)
        else:
            item["frames"] = [frame_path(spec, i) for i in win.frames]
        if spec.split:
            item["split"] = spec.split
        items.append(item)
    dropped = [{"layout": spec.layout, "sequence": spec.name, "first": g.first,
                "present": list(g.present), "gap": list(g.gap), "reason": g.reason} for g in gaps]
    return items, dropped


def _write_nfs_extras(w: _Writer, spec: SeqSpec, scene: Scene, frames: dict[int, np.ndarray]) -> None:
    """The annotation file of ``240/`` and the ``30/`` folder (every 8th frame, numbered
    from 00001, with its own annotation file). One line per frame:
    ``1 xmin ymin xmax ymax frame lost occluded generated "label"``."""

    def line(i: int, number: int) -> str:
        x0, y0, x1, y1 = _nfs_box(scene, spec.time(i))
        return f'1 {x0} {y0} {x1} {y1} {number} 0 0 0 "{spec.label}"'

    indices = spec.indices()
    text = "".join(line(i, i) + "\n" for i in indices)
    w.put(f"nfs/{spec.name}/240/{spec.name}.txt", _write_text, text)
    lines30 = []
    for k, i in enumerate(indices[::NFS_30FPS_STEP], start=1):
        w.put(f"nfs/{spec.name}/30/{spec.name}/{k:05d}.jpg", write_image, frames[i])
        lines30.append(line(i, k) + "\n")
    w.put(f"nfs/{spec.name}/30/{spec.name}.txt", _write_text, "".join(lines30))


def _write_sequence(out: Path, spec: SeqSpec, cfg: SampleConfig, with_blur: bool
                    ) -> tuple[dict, Scene]:
    """Write one sequence's frames, flows and annotations (and, if ``with_blur``, its truth
    blurs); return its record (for ``truth/index.json`` and ``sample.json``) and its scene.
    Items whose blur is not made yet have ``n_sub`` None."""

    scene = build_scene(spec, cfg.seed, cfg.width, cfg.height)
    w = _Writer(out)
    indices = spec.indices()
    frames = {i: scene.frame(spec.time(i)) for i in indices}
    if spec.layout == "video":
        w.put(video_path(spec), lambda p, fr: _write_video(p, fr, cfg.crf), [frames[i] for i in indices])
    else:
        for i in indices:
            w.put(frame_path(spec, i), write_image, frames[i])
    dropped: list[dict] = []
    if spec.layout == "monkaa":
        items = _write_monkaa(w, spec, scene)
    else:
        items, dropped = _write_windows(w, spec, scene)
    if spec.layout == "nfs":
        _write_nfs_extras(w, spec, scene, frames)
    w.files += [it["blur"] for it in items]
    if with_blur:
        for it in items:
            it["n_sub"] = _write_blur(out, scene, it, cfg.blur_step)

    seq = {"layout": spec.layout, "name": spec.name, "frames": len(indices),
           "first_index": spec.first_index, "last_index": indices[-1]}
    if spec.split:
        seq["split"] = spec.split
    if spec.missing:
        seq["missing"] = list(spec.missing)
    if spec.layout == "video":
        seq.update(path=video_path(spec), fps=240)
    return {"sequence": seq, "files": w.files, "items": items, "dropped": dropped}, scene


def _write_blur(out: Path, scene: Scene, item: dict, blur_step: float) -> int:
    """Make and write the continuous-time blur of one truth item; return its ``n_sub``."""

    blur, n = scene.blur(item["t0"], item["t1"], blur_step)
    p = out / item["blur"]
    p.parent.mkdir(parents=True, exist_ok=True)
    write_pfm(p, blur)
    return n


def _in_worker(fn, *args):
    """Run ``fn(*args)`` in a worker process with OpenCV on one thread (the processes
    already fill the cores)."""
    import cv2

    cv2.setNumThreads(1)
    return fn(*args)


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
    if cfg.workers > 1:
        # Frames and flows per sequence, then the blurs item by item (one Monkaa scene
        # holds almost half of the sub-frame renders). Scenes travel to the workers with
        # their textures memory-mapped; sequences with the most motion go first.
        from joblib import Parallel, delayed

        with Parallel(n_jobs=cfg.workers) as parallel:
            done = parallel(delayed(_in_worker)(_write_sequence, out, s, cfg, False) for s in specs)
            records = [r for r, _ in done]
            scenes = {r["sequence"]["name"]: sc for r, sc in done}
            work = {r["sequence"]["name"]: sum(it["s"] for it in r["items"]) for r in records}
            todo = sorted((it for r in records for it in r["items"]),
                          key=lambda it: (-work[it["sequence"]], it["sequence"], -it["s"]))
            ns = parallel(delayed(_in_worker)(_write_blur, out, scenes[it["sequence"]], it, cfg.blur_step)
                          for it in todo)
            for it, n in zip(todo, ns):
                it["n_sub"] = n
    else:
        records = [_write_sequence(out, s, cfg, True)[0] for s in specs]

    items = [it for r in records for it in r["items"]]
    dropped = [d for r in records for d in r["dropped"]]
    truth = out / "truth"
    truth.mkdir(exist_ok=True)
    index = {"format": SAMPLE_FORMAT, "blur_step_px": cfg.blur_step, "window": WINDOW,
             "items": items, "dropped_windows": dropped}
    _write_text(truth / "index.json", json.dumps(index, indent=1) + "\n")
    _write_text(truth / "README.md", TRUTH_README)

    layouts: dict[str, dict] = {}
    for layout in cfg.only:
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
        layouts[layout] = entry
    meta = {
        "format": SAMPLE_FORMAT,
        "generator": "blurgen sample",
        "blurgen_version": __version__,
        "seed": cfg.seed,
        "size": [cfg.width, cfg.height],
        "only": list(cfg.only),
        "blur_step_px": cfg.blur_step,
        "video_crf": cfg.crf,
        "layouts": layouts,
    }
    _write_text(out / "sample.json", json.dumps(meta, indent=1) + "\n")  # last: marks completion
    return meta


def _write_text(path: Path, text: str) -> None:
    atomic_write_text(path, text)


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


TRUTH_README = """\
# Ground truth of the blurgen sample

Written by `blurgen sample`. The scenes are procedural 2D layer scenes in continuous time
(a textured background seen by a moving camera, and textured objects that translate,
rotate and scale, with occlusions), so their flow and their motion blur are known exactly.
Frame number i of a sequence is the render at time t = i - first_index (in frames);
`truth/index.json` gives t0 and t1 for every item.

## Files
- `index.json`: `items`, one per Monkaa pair and per 7-frame window, with the paths of its
  frames (or video), blur and flows, `t0`, `t1`, `s` (max flow length first -> last, px)
  and `n_sub` (sub-frame renders averaged); `dropped_windows`: window positions cut by a
  gap in the frame numbering (no truth).
- `monkaa/<scene>/blur_AAAA_BBBB.pfm`: blur of the pair (A, B = A + 1). The pair's flows are
  the Monkaa files themselves: `OpticalFlowIntoFuture_A_L.pfm` (A -> B) and
  `OpticalFlowIntoPast_B_L.pfm` (B -> A).
- `gopro/{train,test}/<seq>/`, `nfs/<seq>/`, `video/<name>/`: per 7-frame window
  (first frame F, last frame L = F + 6; numbers as in the file names; video frames count
  from 0 in decoding order): `blur_F_L.pfm`, `flow_F_L.flo` (F -> L), `flow_L_F.flo` (L -> F).
  Windows are non-overlapping, laid from the first frame of each run of consecutive
  frame numbers (`blurgen.sources.windows.plan_windows`).

## Conventions
- Flow: Middlebury `.flo` or 3-channel PFM (third channel zero), float32, pixels;
  channel 0 = x (right), 1 = y (down); pixel centres at integer coordinates. The flow
  A -> B at pixel p is where the surface seen at p in frame A is at time B, for every
  pixel, including surfaces hidden or outside the image at B. It is exact: each layer's
  motion is a similarity transform, and the front-most layer whose outline contains the
  pixel centre carries the pixel.
- Blur: PFM `PF`, float32 RGB in [0, 255], not quantised (rows top to bottom in memory;
  stored bottom to top as PFM requires). It is the continuous-time average of the scene
  over [t0, t1]: the mean of n_sub renders at t0 + (i + 1/2)(t1 - t0)/n_sub, with n_sub
  chosen so that no pixel moves more than `blur_step_px` between consecutive renders.
  This is the blur a camera with a shutter open from frame A to frame B records; averaging
  only the 7 frames differs from it where things move more than about 1 px per frame.
- The frames on disk are the same renders at integer times, rounded to 8 bits (the video
  is H.264 at the `video_crf` of `../sample.json`, so it also carries coding loss).
"""
