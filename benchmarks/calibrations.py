"""Refit the calibrations blurgen ships (blurgen/resources/calibration/) on the calibration samples.

Usage: python benchmarks/calibrations.py [--samples DIR] [--only KEY,...] [--check]

The calibration samples are `blurgen sample` at 320x180 with seeds 0, 2 and 3 (written
under --samples when absent). Seed 1 is kept out: benchmarks/quality.py evaluates on it
(at 640x360). Each shipped file is what `blurgen calibrate` prints for its settings (the
table below), so `blurgen calibrate S0 S2 S3 ...` remakes any one of them. --check fits
again and reports files whose numbers differ instead of writing them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from blurgen.jobs import calibrate as fit
from blurgen.jobs.monkaa import params_from as monkaa_params
from blurgen.quality.calibration import file_stem
from blurgen.sources.sample import SampleConfig, write_sample

SEEDS = (0, 2, 3)
SIZE = (320, 180)
OUT = Path(__file__).resolve().parents[1] / "blurgen" / "resources" / "calibration"
# key -> how to fit it
LABEL = {
    "direct:dis": dict(flow_model="dis"),
    "direct:farneback": dict(flow_model="farneback"),
    "direct:dis,farneback": dict(flow_model="dis,farneback"),
    "direct:farneback,dis": dict(flow_model="farneback,dis"),
    "chained:dis": dict(flow_model="dis", flow_mode="chained"),
    "chained:farneback": dict(flow_model="farneback", flow_mode="chained"),
    "chained-init:dis": dict(flow_model="dis", flow_mode="chained-init"),
    "chained-init:farneback": dict(flow_model="farneback", flow_mode="chained-init"),
    "direct:generic": dict(flow_model="dis,dis-fast,farneback", generic=True),
}
FIDELITY = {
    "flow-guided/splat/quadratic": {},
    "flow-guided/splat/linear": {"motion": "linear"},
    "flow-guided/slomo": {"method": "slomo"},
    "linear": {"interpolator": "linear"},
}


def samples(root: Path) -> list[Path]:
    out = []
    for seed in SEEDS:
        p = root / f"sample-{SIZE[0]}x{SIZE[1]}-seed{seed}"
        if not (p / "sample.json").is_file():
            write_sample(p, SampleConfig(width=SIZE[0], height=SIZE[1], seed=seed, workers=2))
        out.append(p)
    return out


def fit_one(key: str, paths: list[Path]) -> dict:
    if key in LABEL:
        return fit.fit_label(paths, **LABEL[key])
    return fit.fit_fidelity(paths, monkaa_params({}, FIDELITY[key]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=Path, default=None, help="folder holding (or to hold) the calibration samples")
    ap.add_argument("--only", default="", help="semicolon-separated keys (default: every shipped calibration)")
    ap.add_argument("--check", action="store_true", help="compare with the shipped files instead of writing")
    a = ap.parse_args()
    keys = [k for k in a.only.split(";") if k] if a.only else [*LABEL, *FIDELITY]
    with tempfile.TemporaryDirectory() as tmp:
        paths = samples(a.samples or Path(tmp))
        bad = []
        for key in keys:
            cal = fit_one(key, paths)
            kind = "label" if key in LABEL else "fidelity"
            dest = OUT / kind / f"{file_stem(key)}.json"
            text = json.dumps(cal, indent=1, sort_keys=True) + "\n"
            print(f"{key:32s} {cal['fit']}")
            if a.check:
                if not dest.is_file() or json.loads(dest.read_text()) != cal:
                    bad.append(key)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(text)
    if a.check:
        print("identical" if not bad else "DIFFERENT: " + ", ".join(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
