"""Writing one sequence of the bundled sample in its dataset's on-disk layout: frames (or
the video), exact flows, annotations, and the truth blurs. ``blurgen.sources.sample``
drives it for the whole sample; the scene maths is in ``blurgen.sources.procedural``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from blurgen.io import write_flo, write_image, write_pfm
from blurgen.sources.procedural.catalog import SeqSpec, build_scene
from blurgen.sources.procedural.scene import Scene
from blurgen.sources.windows import plan_windows
from blurgen.utils import atomic_path, atomic_write_text

if TYPE_CHECKING:
    from blurgen.sources.sample import SampleConfig

WINDOW = 7  # frames averaged per 240 fps blur window (about 30 fps)
NFS_30FPS_STEP = 8  # the 30/ folder of an NfS sequence holds every 8th 240 fps frame


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
    w.put(f"nfs/{spec.name}/240/{spec.name}.txt", atomic_write_text, text)
    lines30 = []
    for k, i in enumerate(indices[::NFS_30FPS_STEP], start=1):
        w.put(f"nfs/{spec.name}/30/{spec.name}/{k:05d}.jpg", write_image, frames[i])
        lines30.append(line(i, k) + "\n")
    w.put(f"nfs/{spec.name}/30/{spec.name}.txt", atomic_write_text, "".join(lines30))


def write_sequence(out: Path, spec: SeqSpec, cfg: SampleConfig, with_blur: bool
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
            it["n_sub"] = write_blur(out, scene, it, cfg.blur_step)

    seq = {"layout": spec.layout, "name": spec.name, "frames": len(indices),
           "first_index": spec.first_index, "last_index": indices[-1]}
    if spec.split:
        seq["split"] = spec.split
    if spec.missing:
        seq["missing"] = list(spec.missing)
    if spec.layout == "video":
        seq.update(path=video_path(spec), fps=240)
    return {"sequence": seq, "files": w.files, "items": items, "dropped": dropped}, scene


def write_blur(out: Path, scene: Scene, item: dict, blur_step: float) -> int:
    """Make and write the continuous-time blur of one truth item; return its ``n_sub``."""

    blur, n = scene.blur(item["t0"], item["t1"], blur_step)
    p = out / item["blur"]
    p.parent.mkdir(parents=True, exist_ok=True)
    write_pfm(p, blur)
    return n


def in_worker(fn, *args):
    """Run ``fn(*args)`` in a worker process with OpenCV on one thread (the processes
    already fill the cores)."""
    import cv2

    cv2.setNumThreads(1)
    return fn(*args)


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
