"""benchmarks/gpu_check.py: the GPU check runs every path (on tiny CPU inputs here) and
reports a failing path with a non-zero exit, so the script cannot rot while no GPU is at hand."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"

# (path, setting, unit) of every row --cpu-smoke must print, in order
SMOKE_ROWS = [
    *[("train_step", f"{mode}, batch {b}, 64x64", "steps/s") for b in (1, 2) for mode in ("fp32", "bf16", "bf16+cl")],
    ("loader", "2 workers, 64x64", "samples/s"),
    ("trainer", "train(), 2 steps", "steps/s"),
    ("superslomo", "96x64, 2 times batched", "frames/s"),
    ("flow", "pwcnet, 192x128 window", "s/window"),
    ("flow", "flownet2, 192x128 window", "s/window"),
    ("ddp", "torchrun, 2 processes", "s"),
]


def run_check(tmp_path, *args, timeout=600, threads=1):
    """Run the script with ``args``; (CompletedProcess, the --json document or None)."""
    out = tmp_path / "rows.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    if threads:  # 2 shared cores: one torch thread per process
        env["OMP_NUM_THREADS"] = str(threads)
        args = (*args, "--threads", str(threads))
    res = subprocess.run([sys.executable, str(SCRIPT), *args, "--json", str(out)],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    doc = json.loads(out.read_text()) if out.exists() else None
    return res, doc


def test_cpu_smoke_runs_every_path(tmp_path):
    res, doc = run_check(tmp_path, "--cpu-smoke")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    rows = doc["rows"]
    assert [(r["path"], r["setting"], r["unit"]) for r in rows] == SMOKE_ROWS
    for r in rows:
        assert r["status"] == "ok" and r["reason"] == "", r
        assert r["value"] is not None and math.isfinite(r["value"]) and r["value"] > 0, r
        assert r["peak_mib"] is None  # CPU: no GPU memory to report
        # the printed table holds the same row
        assert f"| {r['path']} | {r['setting']} | {r['result']} | - | ok |" in res.stdout
    by_path = {r["path"]: r for r in rows}
    assert "fastest train_step needs" in by_path["loader"]["note"]  # measured against the step's need
    assert "2 epoch(s) with validation" in by_path["trainer"]["note"]
    assert "gloo" in by_path["ddp"]["note"] and "replicas equal" in by_path["ddp"]["note"]
    assert doc["profile"] == "cpu-smoke" and doc["failed"] == 0


def test_a_failing_path_fails_the_run_and_the_others_still_run(tmp_path):
    # --crop 96 is refused by TrainConfig.validate (B2F-net needs multiples of 64), as by `blurgen train`
    res, doc = run_check(tmp_path, "--cpu-smoke", "--only", "train_step,superslomo", "--crops", "96", "--batches", "1")
    assert res.returncode == 1, res.stdout[-3000:] + res.stderr[-3000:]
    rows = doc["rows"]
    assert [(r["path"], r["status"]) for r in rows] == [("train_step", "FAILED")] * 3 + [("superslomo", "ok")]
    for r in rows[:3]:
        assert "ConfigError" in r["reason"] and "multiple of 64" in r["reason"] and r["value"] is None
        assert f"| train_step | {r['setting']} | - | - | FAILED (ConfigError: " in res.stdout
    assert doc["failed"] == 3
    assert "3 path(s) FAILED" in res.stderr


def test_time_budget_skips_the_remaining_rows_without_failing(tmp_path):
    res, doc = run_check(tmp_path, "--cpu-smoke", "--only", "superslomo,flow", "--budget", "0", timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    assert [(r["path"], r["status"], r["reason"]) for r in doc["rows"]] == (
        [("superslomo", "not run", "time budget")] + [("flow", "not run", "time budget")] * 2)
    assert res.stdout.count("not run (time budget)") == 3


def test_bad_usage_is_refused_in_one_line(tmp_path):
    res, _ = run_check(tmp_path, "--cpu-smoke", "--only", "train_step,nccl", timeout=120)
    assert res.returncode == 2 and "unknown path nccl" in res.stderr
    if not torch.cuda.is_available():
        res, doc = run_check(tmp_path, timeout=120)
        assert res.returncode == 2 and doc is None
        assert res.stderr.strip() == ("Error: torch sees no CUDA GPU here; run this on a GPU machine, "
                                      "or pass --cpu-smoke")


@pytest.mark.gpu
def test_gpu_check_on_a_gpu(tmp_path):
    res, doc = run_check(tmp_path, timeout=900, threads=None)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-3000:]
    assert doc["profile"] == "gpu" and all(r["status"] in ("ok", "n/a", "not run") for r in doc["rows"])
