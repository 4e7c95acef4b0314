"""Cost of real-blur samples on 1280x720 frames: decode, average, flow, write; 1 vs 2 workers.

Usage: python benchmarks/real.py [--frames ROOT] [--size 1280x720] [--samples 8]
       [--flows none,dis,pwcnet] [--ptlflow-samples 2] [--workers 1,2] [--compression none]
       [--video-gops 30,240] [--video-windows 9] [--repeats 2]

ROOT is a GoPro tree (``blurgen sample --size 1280x720`` writes one under OUT/gopro); without
it, textured 1280x720 PNG frames that move a few pixels per frame are written to a
temporary GoPro tree. The ptlflow model runs with random weights (``--flow-ckpt random``):
the cost of a forward pass does not depend on the weights.

Columns, per sample (window of 7 frames), in one process: decode (read_image of the 7
frames), average (srgb), flow (both directions + both consistency masks), write (what the
pipeline does with a made sample: with a flow, its chunks compressed by the packer and the
shard written from them; blur only, which no shard holds, the blur written into an HDF5
file the same way); total = their sum. ``decode only`` is the pure decode time of the same
frames (a loop of read_image and nothing else), measured right before each sample is made,
and ``total / decode only`` is the decode-bound target (<= 1.15 without flow). Each is the
fastest of ``--repeats`` tries (the machine is shared), then the median over samples.

Then whole runs with 1 and 2 workers, made the way ``blurgen.pipeline`` makes a shard:
joblib workers (sequential for one, loky processes otherwise) make the samples, the main
process takes each as it comes (the packer; blur only: written) and writes the shard after
the last. Seconds per sample (fastest of ``--repeats`` runs, after a warm-up that starts
the workers), the speed-up, the bound the stage costs allow (all work on 2 cores at best,
except ``serial``: the part of the write that waits for the last sample), and the mean
decode time per sample measured inside the workers: when it grows with the worker count,
the workers were not given a core each (other load on the machine), whatever the code does.

Video: the frames are encoded as a 240 fps H.264 file per GOP size; the decode time of a
window (``RealJob.make_timed``, no flow) by a seek of its own (``read_window``: ``--limit``,
sparse subsets) and in a whole-video run's stream groups (``RealJob.groups``, one
``WindowStream`` each) is compared with 7 frames' share of one decode of the whole stream.
A stream group's ffmpeg decodes ahead while the window is averaged, so its decode wait can
be below that share; the "whole" columns time the group's windows from start to end
(decode wait, averaging, group starts) against the share plus the averaging alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blurgen.pipeline.worker import Made  # noqa: E402
from blurgen.shards.writer import DEFAULT_TILE  # noqa: E402


def synth_gopro(root: Path, n_frames: int, h: int, w: int, seed: int = 0) -> None:
    """A GOPRO_Large_all tree with one sequence of textured frames moving 2 px per frame."""
    import cv2

    from blurgen.io.frames import write_image

    rng = np.random.default_rng(seed)
    pad = 2 * n_frames + 8
    base = rng.uniform(0, 255, size=(h // 16 + 1, (w + pad) // 16 + 1, 3)).astype(np.float32)
    canvas = cv2.resize(base, (w + pad, h), interpolation=cv2.INTER_CUBIC)
    y, x = np.mgrid[0:h, 0:w + pad]
    canvas += 40 * np.sin(x[..., None] / 7.0) * (np.sin(y / 23.0)[..., None] > 0)
    d = root / "GOPRO_Large_all" / "train" / "GOPR0372_07_00"
    d.mkdir(parents=True, exist_ok=True)
    for k in range(n_frames):
        frame = canvas[:, 2 * k:2 * k + w] + rng.normal(0, 3, size=(h, w, 3))
        write_image(d / f"{k + 1:06d}.png", np.clip(frame, 0, 255).astype(np.uint8))


class BlurWriter:
    """The blur of each sample into one HDF5 file as it comes, chunked and filtered as the
    shard writer does (a shard needs a flow, so blur-only samples cannot be one): the main
    process's share of a run, as the pipeline's packer takes each sample as it comes."""

    def __init__(self, path: Path, n: int, hw: tuple[int, int], compression: str):
        import h5py

        from blurgen.shards.writer import DEFAULT_TILE, chunk_shape, compression_options

        self.f = h5py.File(path, "w")
        self.ds = self.f.create_dataset("blur", shape=(n, *hw, 3), dtype=np.uint8,
                                        chunks=chunk_shape("blur", hw, DEFAULT_TILE),
                                        **compression_options(compression).kwargs)

    def add(self, i: int, blur: np.ndarray) -> None:
        self.ds[i] = blur

    def close(self) -> None:
        self.f.close()


def _make(job, task, pack=None):
    """What a pipeline worker does (blurgen.pipeline.worker.make_one): make the sample, and
    pack it for its shard when asked (loky workers do); here also return the stage times."""
    from blurgen.shards.packed import pack_sample

    sample, times = job.make_timed(task)
    return (sample if pack is None or "flow" not in sample.arrays else pack_sample(sample, *pack)), times


def stage_costs(job, tasks, tmp: Path, compression: str, repeats: int) -> dict[str, float]:
    """ms per sample of each stage, in this process: for each sample, the pure decode of
    its 7 frames (``decode only``: read_image and nothing else) and then the sample made
    (decode, average, flow as ``make_timed`` times them), each the fastest of ``repeats``
    tries, then the median over samples; write: what the pipeline does with a made sample
    (with a flow: its chunks compressed, then the shard written from them; blur only: the
    blur written into an HDF5 file), all of it divided by the number of samples, fastest of
    ``repeats``; serial: the part of write that waits for the last sample (the shard file)."""
    from blurgen.io.frames import read_image

    rows, samples = [], []
    for t in tasks:
        best: dict[str, float] = {}
        for _ in range(repeats):
            t0 = time.perf_counter()
            for f in t.payload["files"]:
                read_image(job.root / f)
            best["decode only"] = min(best.get("decode only", 1e9), time.perf_counter() - t0)
            sample, times = job.make_timed(t)
            for k, v in times.items():
                best[k] = min(best.get(k, 1e9), v)
        rows.append(best)
        samples.append(sample)
    out = {k: 1000 * statistics.median(r[k] for r in rows) for k in ("decode", "average", "flow", "decode only")}
    out["write"], out["serial"] = (1000 * v / len(samples) for v in min(
        (_write_costs(samples, tmp, compression) for _ in range(repeats)), key=lambda ws: ws[0]))
    return out


def _write_costs(samples, tmp: Path, compression: str) -> tuple[float, float]:
    """(seconds for all of the write, seconds of it after the last sample) for ``samples``."""
    from blurgen.pipeline.packing import ShardPacker

    t0 = time.perf_counter()
    if "flow" in samples[0].arrays:
        with ShardPacker(compression, DEFAULT_TILE) as packer:
            pending = [packer.add(Made(x, "")) for x in samples]
            for p in pending:
                if hasattr(p.item, "result"):
                    p.item.result()
            t1 = time.perf_counter()
            packer.write(tmp / "stage.h5", pending, {})
    else:
        w = BlurWriter(tmp / "stage.h5", len(samples), samples[0].arrays["blur"].shape[:2], compression)
        for i, x in enumerate(samples):
            w.add(i, x.arrays["blur"])
        t1 = time.perf_counter()
        w.close()
    t2 = time.perf_counter()
    (tmp / "stage.h5").unlink()
    return t2 - t0, t2 - t1


def video_costs(root: Path, tmp: Path, gops: list[int], n_windows: int, repeats: int,
                min_frames: int = 0) -> list[tuple[str, ...]]:
    """Decode cost of a window of a 240 fps H.264 video made from the frames, per window:
    a seek of its own (what ``--limit`` and sparse subsets use) and a whole-video run's
    stream groups (``RealJob.groups``: consecutive windows decoded as one stream each),
    both as ``RealJob.make_timed`` measures them (no flow), against the window's share of
    one decode of the whole stream (7 frames' worth); each the fastest of ``repeats``. The
    frames loop to fill two GOPs of the largest size, or ``min_frames`` if more."""
    import subprocess

    import imageio_ffmpeg

    from blurgen.io.frames import list_frames
    from blurgen.io.video import iter_video_frames
    from blurgen.jobs.real import build

    seq = root / "GOPRO_Large_all" / "train" / "GOPR0372_07_00"
    frames = list_frames(seq)
    rows = []
    for gop in gops:
        vdir = tmp / f"gop{gop}"
        vdir.mkdir()
        path = vdir / "clip.mp4"
        loops = max(0, -(-max(2 * max(gops), min_frames) // len(frames)) - 1)  # two GOPs or min_frames
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-framerate", "240",
               "-stream_loop", str(loops), "-start_number", str(frames[0].index), "-i", str(seq / "%06d.png"),
               "-c:v", "libx264",
               "-preset", "veryfast", "-g", str(gop), "-x264-params", "scenecut=0",  # keyframes every GOP only
               "-pix_fmt", "yuv420p", str(path)]
        subprocess.run(cmd, check=True)
        job = build({"source": "video", "flow_model": "none", "valid_bwd": True}, vdir)
        tasks = sorted(job.tasks(), key=lambda t: t.payload["frames"][0])
        picked = [tasks[int(i)] for i in np.linspace(0, len(tasks) - 1, n_windows)]
        groups = job.groups(tasks)
        stream_s, seek_s, group_s, whole_s = [1e9], {t.key: 1e9 for t in picked}, 1e9, 1e9
        average_s = {t.key: 1e9 for t in picked}
        for _ in range(repeats):  # the three in turn, the fastest of each kept
            t0 = time.perf_counter()
            n = sum(1 for _ in iter_video_frames(path))
            stream_s.append(time.perf_counter() - t0)
            for t in picked:
                cost = job.make_timed(t)[1]
                seek_s[t.key] = min(seek_s[t.key], cost["decode"])
                average_s[t.key] = min(average_s[t.key], cost["average"])
            total = 0.0
            t0 = time.perf_counter()
            for g in groups:
                with job.group([tasks[i] for i in g]):
                    total += sum(job.make_timed(tasks[i])[1]["decode"] for i in g)
            whole_s = min(whole_s, time.perf_counter() - t0)
            group_s = min(group_s, total)
        stream_ms = 1000 * min(stream_s) / n
        seek_ms = 1000 * statistics.median(seek_s.values())
        group_ms = 1000 * group_s / len(tasks)
        whole_ms = 1000 * whole_s / len(tasks)
        share = 7 * stream_ms
        average_ms = 1000 * statistics.median(average_s.values())
        rows.append((str(gop), str(n), f"{stream_ms:.1f} ms", f"{share:.0f} ms", f"{seek_ms:.0f} ms",
                     f"{seek_ms / share:.2f}", f"{group_ms:.0f} ms", f"{group_ms / share:.2f}",
                     f"{whole_ms:.0f} ms", f"{average_ms:.0f} ms", f"{whole_ms / (share + average_ms):.2f}",
                     f"{len(groups)} ({len(tasks)} windows)"))
    return rows


def print_table(header, rows) -> None:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]
    print("| " + " | ".join(c.ljust(wd) for c, wd in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (wd + 2) for wd in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(wd) for c, wd in zip(r, widths)) + " |")


def run_workers(job, tasks, workers: int, out: Path, compression: str) -> tuple[float, float]:
    """One run the way ``blurgen.pipeline`` runs a shard: joblib workers (``sequential`` for
    one, ``loky`` processes otherwise) make the samples (loky workers also pack them); the
    main process takes each as it comes (the pipeline's packer: one worker's samples
    compressed in a background thread; blur only: written into the file) and writes the
    shard after the last.
    Returns (wall seconds, mean seconds of decoding per sample inside the workers)."""
    from joblib import Parallel, delayed

    from blurgen.pipeline.packing import ShardPacker

    t0 = time.perf_counter()
    backend = "sequential" if workers == 1 else "loky"
    decode = []
    with Parallel(n_jobs=workers, backend=backend, return_as="generator") as par, \
            ShardPacker(compression, DEFAULT_TILE) as packer:
        writer, pending = None, []
        pack = packer.worker_packing(backend)
        for i, (sample, times) in enumerate(par(delayed(_make)(job, t, pack) for t in tasks)):
            decode.append(times["decode"])
            if not hasattr(sample, "arrays") or "flow" in sample.arrays:
                pending.append(packer.add(Made(sample, "")))
                continue
            if writer is None:
                writer = BlurWriter(out, len(tasks), sample.arrays["blur"].shape[:2], compression)
            writer.add(i, sample.arrays["blur"])
        if writer is not None:
            writer.close()
        else:
            packer.write(out, pending, {})
    wall = time.perf_counter() - t0
    out.unlink()
    return wall, statistics.mean(decode)


def flow_row(build, flow: str, root: Path, tmp: Path, workers: list[int], args) -> tuple[str, ...]:
    """One row of the first table: the stage costs of ``flow``'s samples in one process, then
    whole runs with each worker count (the fastest of ``args.repeats``), and the bound."""
    params = {"source": "gopro", "flow_model": flow, "valid_bwd": True}
    if flow not in ("none", "dis", "dis-fast", "farneback", "zero"):
        params.update(flow_ckpt="random", device="cpu")
    job = build(params, root)
    n = args.samples if flow in ("none", "dis", "dis-fast", "farneback") else args.ptlflow_samples
    tasks = sorted(job.tasks(), key=lambda t: t.key)[:n]
    if not tasks:
        raise SystemExit(f"no windows under {root}")
    job.make_timed(tasks[0])  # warm up: page cache, lazy imports, model load
    st = stage_costs(job, tasks, tmp, args.compression, args.repeats)
    dec = st.pop("decode only")
    total = sum(v for k, v in st.items() if k != "serial")
    best: dict[int, tuple[float, float]] = {}
    for k in workers:
        run_workers(job, tasks[:2 * k], k, tmp / "warm.h5", args.compression)  # start workers, imports
    for _ in range(args.repeats):  # the worker counts in turn, the fastest run of each kept
        for k in workers:
            r = run_workers(job, tasks, k, tmp / f"run-{k}.h5", args.compression)
            best[k] = min(best.get(k, r), r, key=lambda x: x[0])
    per = {k: best[k][0] / len(tasks) for k in workers}
    k1, k2 = workers[0], workers[-1]
    # Bound from the stage costs: the work runs on k cores at best, except the part of the
    # write that waits for the last sample (serial)
    par_work = total - st["serial"]
    bound = ((par_work / k1 + st["serial"]) / (par_work / k2 + st["serial"])) if k2 > k1 else 1.0
    return (flow if flow == "none" or flow.startswith("dis") else f"{flow} (random w.)", str(len(tasks)),
            *(f"{st[k]:.0f} ms" for k in ("decode", "average", "flow")),
            f"{st['write']:.0f} ms ({st['serial']:.0f})",
            f"{total:.0f} ms", f"{dec:.0f} ms", f"{total / dec:.2f}",
            *(f"{per[k]:.3f}" for k in workers), f"{per[k1] / per[k2]:.2f}x", f"{bound:.1f}x",
            " / ".join(f"{1000 * best[k][1]:.0f}" for k in workers))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=Path, default=None, help="GoPro tree of 1280x720 frames (else synthesized)")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--samples", type=int, default=8, help="samples (windows of 7) for none and dis")
    ap.add_argument("--ptlflow-samples", type=int, default=2, help="samples for the ptlflow model")
    ap.add_argument("--flows", default="none,dis,pwcnet")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--compression", default="none", help="shard compression (see blurgen.shards.writer)")
    ap.add_argument("--video-gops", default="30,240", help="GOP sizes of the video test ('' to skip)")
    ap.add_argument("--video-windows", type=int, default=9)
    ap.add_argument("--video-frames", type=int, default=0,
                    help="at least this many frames in the test video (default: two GOPs of the largest)")
    ap.add_argument("--repeats", type=int, default=2, help="runs per worker count (the fastest is kept)")
    ap.add_argument("--torch-threads", type=int, default=None, help="torch threads per process")
    args = ap.parse_args()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    w, h = (int(v) for v in args.size.lower().split("x"))
    workers = [int(v) for v in args.workers.split(",")]

    from blurgen.jobs.real import build

    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        root = args.frames
        n_max = max(args.samples, args.ptlflow_samples)
        if root is None:
            root = tmp / "gopro"
            synth_gopro(root, 7 * n_max, h, w)
        print(f"# {os.cpu_count()} CPU cores, load {os.getloadavg()[0]:.1f}; frames: "
              f"{'synthesized PNG' if args.frames is None else root}; window 7; compression {args.compression}")
        header = ("flow", "samples", "decode", "average", "flow", "write (serial)", "total", "decode only",
                  "total/decode")
        header += tuple(f"{k} worker{'s' if k > 1 else ''} s/sample" for k in workers)
        header += ("speed-up", "bound", "decode in workers ms (" + " / ".join(map(str, workers)) + ")")
        rows = []
        for flow in args.flows.split(","):
            rows.append(flow_row(build, flow, root, tmp, workers, args))
            print("  done:", rows[-1][0], file=sys.stderr)
        print_table(header, rows)
        if args.video_gops:
            print(f"\n# video source: decode time per window of 7 (RealJob.make_timed, no flow): by a seek of its own "
                  f"(median of {args.video_windows} windows spread over the video) and in a whole-video run's stream "
                  "groups (mean over all windows), vs the same 7 frames' share of one stream decode (each the "
                  "fastest of --repeats); the frames "
                  "loop to fill two GOPs or --video-frames; load {:.1f}".format(os.getloadavg()[0]))
            print_table(("GOP", "frames", "stream decode / frame", "7 frames of stream", "seek window",
                         "seek / stream", "stream-group window", "group / stream", "group window, whole",
                         "averaging", "whole / (stream + averaging)", "groups"),
                        video_costs(root, tmp, [int(g) for g in args.video_gops.split(",")], args.video_windows,
                                    args.repeats, args.video_frames))


if __name__ == "__main__":
    main()
