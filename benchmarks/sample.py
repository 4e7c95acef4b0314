"""Cost of `blurgen sample`: wall and CPU seconds per size, renders, files and bytes.

Usage: python benchmarks/sample.py [--sizes 320x180,960x540] [--workers 1] [--only LAYOUTS]

Writes each sample to a temporary folder. CPU seconds include worker processes. Renders
are the frames plus the sub-frame renders of every truth blur (``n_sub`` in
``truth/index.json``); the displacement range ``s`` is per layout (pixels, min / median /
max over Monkaa pairs and 7-frame windows). The load average is printed because on a
shared machine wall time says little without it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="320x180,960x540")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--only", default="monkaa,gopro,nfs,video")
    ap.add_argument("--blur-step", type=float, default=0.5)
    args = ap.parse_args()

    from blurgen.sources.sample import SampleConfig, parse_size, write_sample

    only = tuple(args.only.split(","))
    rows = []
    for size in args.sizes.split(","):
        w, h = parse_size(size)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "S"
            load = os.getloadavg()[0]
            t, c = time.perf_counter(), _cpu_seconds()
            meta = write_sample(out, SampleConfig(w, h, only=only, blur_step=args.blur_step,
                                                  workers=args.workers))
            wall = time.perf_counter() - t
            if args.workers > 1:  # let the worker processes exit, so their CPU time counts
                from joblib.externals.loky import get_reusable_executor

                get_reusable_executor().shutdown(wait=True)
            cpu = _cpu_seconds() - c
            index = json.loads((out / "truth" / "index.json").read_text())
            n_sub = sum(it["n_sub"] for it in index["items"])
            per_seq: dict[str, int] = {}
            for it in index["items"]:
                seq = f"{it['layout']}/{it['sequence']}"
                per_seq[seq] = per_seq.get(seq, 0) + it["n_sub"]
            top = max(per_seq, key=per_seq.get)
            n_frames = sum(s["frames"] for e in meta["layouts"].values() for s in e["sequences"])
            files = [p for p in out.rglob("*") if p.is_file()]
            mib = sum(p.stat().st_size for p in files) / 2**20
            rows.append((f"{w}x{h}", args.workers, wall, cpu, load, n_frames + n_sub, len(files), mib,
                         meta["layouts"], (top, per_seq[top], n_sub)))

    print(time.strftime("%Y-%m-%d"), f"{os.cpu_count()} CPU cores (load: per row, at its start)")
    print(f"{'size':>9} {'workers':>7} {'wall s':>7} {'cpu s':>6} {'load':>5} {'renders':>8} "
          f"{'files':>6} {'MiB':>7}")
    for size, wk, wall, cpu, load, renders, nfiles, mib, *_ in rows:
        print(f"{size:>9} {wk:>7} {wall:>7.1f} {cpu:>6.1f} {load:>5.1f} {renders:>8} {nfiles:>6} {mib:>7.1f}")
    print()
    for size, *_, (top, n_top, n_sub) in rows:
        print(f"{size:>9} sub-frame renders of the truth blurs: {n_sub}, of which {top} {n_top} "
              f"({100 * n_top / n_sub:.0f} %), the largest share of one sequence")
    print()
    print(f"{'size':>9} {'layout':>7} {'items':>6}   s (px) min / median / max")
    for size, *_, layouts, _ in rows:
        for name, e in layouts.items():
            s = e["s"]
            print(f"{size:>9} {name:>7} {s['count']:>6}   {s['min']:.2f} / {s['median']:.2f} / {s['max']:.2f}")


if __name__ == "__main__":
    main()
