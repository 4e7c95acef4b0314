"""Labelled real blur: ``blurgen real --flow-model dis`` against a plain script of the same recipe.

Usage: python benchmarks/real_vs_script.py [--frames ROOT] [--windows 18] [--repeats 3] [--workers 1] [--phases]
       [--other CHECKOUT] [--backend B] [--also-backend B2]

The plain script (printed below the table) is the recipe with nothing else: read the 7
frames of each window (``cv2.imread``), average them in float, DIS (OpenCV, medium preset)
from the first frame to the last and back, write the blur as PNG and both flows as
``.npy``. ``blurgen real --no-quality`` does the same work and more: forward-backward masks for both
directions, the sample checks and digests, gzip-compressed HDF5 shards written atomically,
the input hashes and the manifest, the preview and the dataset card; ``blurgen real`` (the
default, quality estimates on) also computes the label's uncertainty maps and estimates
(``blurgen.quality.label``), which the script has no counterpart of. Both run as fresh
processes on the same frames (``--windows`` windows of 7 frames of 1280x720 PNG in a GoPro
tree: ROOT, or textured frames written to a temporary folder), alternating, ``--repeats``
times; the table gives the wall time of each run (process start to exit), the fastest of
each, and their ratio. Both outputs are written (and listed), so neither side skips work.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PLAIN = '''\
import glob, sys, cv2, numpy as np
root, out = sys.argv[1], sys.argv[2]
files = sorted(glob.glob(f"{root}/GOPRO_Large_all/*/*/*.png"))
dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
for i in range(0, len(files) - 6, 7):
    frames = [cv2.imread(f) for f in files[i:i + 7]]
    blur = np.mean(np.stack(frames).astype(np.float32), axis=0).round().astype(np.uint8)
    a, b = (cv2.cvtColor(frames[k], cv2.COLOR_BGR2GRAY) for k in (0, -1))
    cv2.imwrite(f"{out}/{i:06d}.png", blur)
    np.save(f"{out}/{i:06d}_fwd.npy", dis.calc(a, b, None))
    np.save(f"{out}/{i:06d}_bwd.npy", dis.calc(b, a, None))
'''


# One `blurgen real` run in a process that times its phases: the loop's functions wrapped
# in place (wall seconds from process start, and the packer thread's busy time)
PHASES = '''\
import functools, json, sys, threading, time
t_start = time.perf_counter()
from blurgen import cli
import blurgen.pipeline.loop as loop, blurgen.pipeline.packing as packing
spans = {}
def timed(mod, name):
    f = getattr(mod, name)
    @functools.wraps(f)
    def g(*a, **k):
        t0 = time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            spans.setdefault(name, []).append((t0 - t_start, time.perf_counter() - t_start))
    setattr(mod, name, g)
for mod, name in ((loop, "_open_book"), (loop, "make_one"), (packing.ShardPacker, "write"),
                  (loop, "write_companions"), (packing, "pack_sample")):
    timed(mod, name)
try:
    cli.main(sys.argv[1:])
except SystemExit:
    pass
spans["end"] = [(0.0, time.perf_counter() - t_start)]
print(json.dumps(spans))
'''


def phases(root: Path, out: Path, env: dict[str, str], cwd: Path, flags: list[str]) -> list[tuple[str, float, str]]:
    """(phase, seconds, what) of one ``blurgen real --flow-model dis`` run, from PHASES."""
    import json

    cmd = [sys.executable, "-c", PHASES, "real", "--source", "gopro", "--root", str(root), "--flow-model", "dis",
           "--out", str(out), "--quiet", *flags]
    sp = json.loads(subprocess.run(cmd, check=True, env=env, cwd=cwd, capture_output=True, text=True)
                    .stdout.strip().splitlines()[-1])
    made, packs = sp["make_one"], sp.get("pack_sample", [])
    first, last = made[0][0], made[-1][1]
    write1 = sp["write"][-1][1]  # the last shard's write (in the packer's writer thread)
    comp0, comp1 = sp["write_companions"][0]
    return [("start-up", first, "imports, plan, input hashes, until the first sample starts"),
            ("samples", last - first, f"{len(made)} samples made in this process (decode, average, DIS, masks)"),
            ("shard write", write1 - last, "the last sample's compression, the HDF5 file image from the packed "
             "chunks, atomic write, fsync"),
            ("card and preview", comp1 - comp0, "read back for the preview"),
            ("rest", (comp0 - write1) + (sp["end"][0][1] - comp1), "the manifest between the write and the card, "
             "the summary (not the interpreter's exit)"),
            ("packer thread busy", sum(b - a for a, b in packs), "gzip of every chunk, beside the samples")]


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system of the process and its children). ``cwd``:
    a folder without a blurgen package (``python -m`` imports from the working folder first)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=cwd)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def folder_summary(out: Path) -> str:
    files = [p for p in out.rglob("*") if p.is_file()]
    return f"{len(files)} files, {sum(p.stat().st_size for p in files) / 2**20:.0f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=Path, default=None, help="GoPro tree of 1280x720 frames (else synthesized)")
    ap.add_argument("--windows", type=int, default=18)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1, help="blurgen real --workers")
    ap.add_argument("--backend", default=None, help="blurgen real --backend for every blurgen row (default: sequential for 1 worker, else loky)")
    ap.add_argument("--also-backend", default=None,
                    help="one more row: the --no-quality recipe with this --backend, in the same rounds")
    ap.add_argument("--phases", action="store_true", help="also time the phases of one blurgen run")
    ap.add_argument("--other", type=Path, default=None,
                    help="another blurgen checkout, run with --no-quality in the same rounds (e.g. the code "
                         "before a change)")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        root = args.frames
        if root is None:
            from real import synth_gopro

            root = tmp / "gopro"
            synth_gopro(root, 7 * args.windows, 720, 1280)
        script = tmp / "plain.py"
        script.write_text(PLAIN)
        load0 = os.getloadavg()[0]
        # (row name, PYTHONPATH, extra flags): the script's recipe (gzip-1 shards, no quality
        # estimates), the same with uncompressed shards (flows stored raw, as the script's
        # .npy), and the default (with the quality estimates)
        blurgens = [("blurgen real --no-quality", env, ["--no-quality"]),
                    ("blurgen real --no-quality --compression none", env, ["--no-quality", "--compression", "none"]),
                    ("blurgen real", env, [])]
        if args.also_backend:
            blurgens.append((f"blurgen real --no-quality --backend {args.also_backend}", env,
                             ["--no-quality", "--backend", args.also_backend]))
        if args.backend:
            blurgens = [(n, e, [*f, "--backend", args.backend] if "--backend" not in f else f) for n, e, f in blurgens]
        if args.other is not None:
            blurgens.append((f"blurgen real --no-quality ({args.other.name})",
                             {**env, "PYTHONPATH": str(args.other.resolve())}, ["--no-quality"]))
        runs: dict[str, list[tuple[float, float]]] = {"plain script": [], **{b[0]: [] for b in blurgens}}
        outs = {}
        (tmp / "cwd").mkdir()
        for k in range(args.repeats):
            outs = {name: tmp / f"run-{i}-{k}" for i, name in enumerate(runs)}
            outs["plain script"].mkdir()
            runs["plain script"].append(timed([sys.executable, str(script), str(root), str(outs["plain script"])], env,
                                              tmp / "cwd"))
            for name, benv, flags in blurgens:
                runs[name].append(timed(
                    [sys.executable, "-m", "blurgen", "real", "--source", "gopro", "--root", str(root), "--flow-model",
                     "dis", "--out", str(outs[name]), "--workers", str(args.workers), "--quiet", *flags], benv, tmp / "cwd"))
        print(f"# {os.cpu_count()} CPU cores, load {load0:.1f} before, {os.getloadavg()[0]:.1f} after; "
              f"{args.windows} windows of 7 frames, 1280x720 PNG; blurgen --workers {args.workers}"
              + (f" --backend {args.backend}" if args.backend else ""))
        w = max(len(n) for n in runs)
        print(f"| {'run':<{w}} | wall s (each run)        | fastest s | fastest / plain | CPU s (fastest run) | output |")
        print(f"|{'-' * (w + 2)}|--------------------------|-----------|-----------------|---------------------|--------|")
        best_plain = min(runs["plain script"])[0]
        for name, rs in runs.items():
            each = " ".join(f"{w:.2f}" for w, _ in rs)
            wall, cpu = min(rs)
            print(f"| {name:<{w}} | {each:<24} | {wall:>9.2f} | {wall / best_plain:>14.2f}x | {cpu:>19.2f} | "
                  f"{folder_summary(outs[name])} |")
        if args.phases:
            print(f"\nphases of one `blurgen real --no-quality` run (wall s; load {os.getloadavg()[0]:.1f}):\n")
            print("| phase | s | what |\n|---|---|---|")
            for name, sec, what in phases(root, tmp / "phases", env, tmp / "cwd", ["--no-quality"]):
                print(f"| {name} | {sec:.2f} | {what} |")
        print("\nthe plain script:\n" + PLAIN)


if __name__ == "__main__":
    main()
