"""GPU check: run each CUDA path of blurgen briefly and print one table.

Usage:
    python benchmarks/gpu_check.py                # on a machine with a CUDA GPU (a few minutes, at most ~8)
    python benchmarks/gpu_check.py --cpu-smoke    # the same code paths on tiny inputs on the CPU (tests)
    options: --only PATH[,PATH...] --crops 256,448 --batches 4,8 --budget S --threads N --json OUT

One row per path and setting, each through the project's own functions:

- ``train_step``: one optimiser step as the trainer takes it (``B2FNet`` built from a
  ``TrainConfig``, ``autocast`` from blurgen.train.evaluate, ``multiscale_loss``, Adam with
  the config's settings) on a random batch, for fp32, bf16 and bf16 + channels-last at each
  batch size and crop: steps/s (samples/s in the note);
- ``loader``: ``ShardDataset`` + ``DataLoader`` (4 workers; pinned memory on CUDA) over
  gzip shards of 320x320 toy samples, 256x256 centre crops, each batch copied to the
  device: samples/s once the first batch is in, against the fastest train_step's
  samples/s at that crop (the step's need);
- ``trainer``: ``blurgen.train.trainer.train`` on toy shards (bf16, channels-last, loader
  workers, two epochs with validation and checkpoints): steps/s over the whole run;
- ``superslomo``: ``SuperSloMoInterpolator`` on a random-weight checkpoint written by
  ``save_checkpoint``, through ``synthesize_blur`` (the Monkaa job's path; all times of a
  pair in one batched pass) at 960x544: interpolated frames/s;
- ``flow``: ``get_estimator(pwcnet | flownet2, ckpt="random")`` and ``estimate_window``
  (``blurgen real``'s default ``direct`` mode) on a 7-frame 1280x720 window: s/window;
- ``ddp``: ``torchrun --nproc_per_node 2 -m blurgen train`` with ``--sync-report`` (NCCL
  with 2+ GPUs, "n/a" with one; gloo in ``--cpu-smoke``): wall seconds including start-up;
  fails unless both ranks end with the same parameters.

Columns: path | setting | result | peak memory (``torch.cuda.max_memory_allocated`` of
that row; "-" on the CPU and for the torchrun subprocesses) | status: ``ok``,
``FAILED (reason)``, ``n/a (why)`` or ``not run (time budget)`` once the run is past
``--budget`` seconds (default 420 on a GPU). A failing row does not stop the others; the
exit status is 1 when any row FAILED, 2 for bad usage or when no GPU is present without
``--cpu-smoke``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

PATHS = ("train_step", "loader", "trainer", "superslomo", "flow", "ddp")
MODES = {"fp32": ("none", False), "bf16": ("bf16", False), "bf16+cl": ("bf16", True)}  # name: (amp, channels-last)
FLOW_MODE = "direct"  # blurgen real's default (RealConfig.flow_mode)


@dataclass(frozen=True)
class Profile:
    """Sizes and repeats of one run. Sizes are (H, W) pixels; ``width``: B2F-net width multiplier."""

    name: str
    crops: tuple[int, ...]
    batches: tuple[int, ...]
    width: float
    warmup: int  # untimed calls before a row's timed ones
    steps: int  # timed steps of a train_step row
    passes: int  # timed passes of the superslomo and flow rows
    loader_workers: int
    loader_samples: int
    trainer_steps: int
    slomo_size: tuple[int, int]
    slomo_times: int
    flow_size: tuple[int, int]
    flow_window: int
    flow_models: tuple[str, ...]
    ddp_steps: int
    budget_s: float


GPU = Profile("gpu", crops=(256, 448), batches=(4, 8), width=1.0, warmup=2, steps=10, passes=3, loader_workers=4,
              loader_samples=128, trainer_steps=20, slomo_size=(544, 960), slomo_times=31, flow_size=(720, 1280),
              flow_window=7, flow_models=("pwcnet", "flownet2"), ddp_steps=10, budget_s=420.0)
SMOKE = Profile("cpu-smoke", crops=(64,), batches=(1, 2), width=0.05, warmup=0, steps=1, passes=1, loader_workers=2,
                loader_samples=16, trainer_steps=2, slomo_size=(64, 96), slomo_times=2, flow_size=(128, 192),
                flow_window=7, flow_models=("pwcnet", "flownet2"), ddp_steps=2, budget_s=300.0)


class NotApplicable(Exception):
    """The path does not apply on this machine (the message says why)."""


@dataclass
class Row:
    """One line of the table. ``status``: ok | FAILED | n/a | not run; ``reason``: one line."""

    path: str
    setting: str
    value: float | None = None
    unit: str = ""
    note: str = ""
    peak_mib: float | None = None
    status: str = "ok"
    reason: str = ""

    def result(self) -> str:
        if self.value is None:
            return "-"
        return f"{fmt(self.value)} {self.unit}" + (f"; {self.note}" if self.note else "")

    def status_text(self) -> str:
        return f"{self.status} ({self.reason})" if self.reason else self.status

    def memory(self) -> str:
        if self.peak_mib is None:
            return "-"
        return f"{self.peak_mib / 1024:.2f} GiB" if self.peak_mib >= 1024 else f"{self.peak_mib:.0f} MiB"


def fmt(v: float) -> str:
    """A number with about three significant digits, never in exponent form."""
    if not math.isfinite(v):
        return str(v)
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.2f}" if abs(v) >= 1 else f"{v:.3g}"


def one_line(e: BaseException) -> str:
    lines = [s.strip() for s in str(e).splitlines() if s.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:240]


class Check:
    """Runs rows under the time budget, measures peak GPU memory per row, keeps the table."""

    def __init__(self, profile: Profile, device, tmp: Path, threads: int | None):
        self.profile, self.device, self.tmp, self.threads = profile, device, tmp, threads
        self.rows: list[Row] = []
        self.need: dict[int, float] = {}  # crop -> fastest training samples/s measured at that crop
        self.t0 = time.perf_counter()
        self._toy: Path | None = None

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def remaining(self) -> float:
        return self.profile.budget_s - self.elapsed()

    def run(self, path: str, setting: str, fn: Callable[[], tuple[float, str, str]]) -> Row:
        """Run ``fn`` -> (value, unit, note) as one row; an exception becomes a FAILED row."""
        import torch

        row = Row(path, setting)
        if self.remaining() <= 0:
            row.status, row.reason = "not run", "time budget"
        else:
            if self.cuda:
                torch.cuda.reset_peak_memory_stats(self.device)
            try:
                row.value, row.unit, row.note = fn()
            except NotApplicable as e:
                row.status, row.reason = "n/a", str(e)
            except Exception as e:  # noqa: BLE001 - every failure becomes a row; the exit status reports it
                row.status, row.reason = "FAILED", one_line(e)
            if self.cuda and row.status == "ok" and path != "ddp":
                row.peak_mib = torch.cuda.max_memory_allocated(self.device) / 2**20
            gc.collect()
            if self.cuda:
                torch.cuda.empty_cache()
        self.rows.append(row)
        print(f"[{self.elapsed():6.1f} s] {path} {setting}: {row.status_text()}", file=sys.stderr, flush=True)
        return row

    def toy_shards(self) -> Path:
        """Toy train / test shards (first crop size) for the trainer and DDP rows, written once."""
        if self._toy is None:
            from blurgen.train.toy import write_toy_shards

            p = self.profile
            crop, batch = p.crops[0], p.batches[-1]
            self._toy = self.tmp / "toy"
            n_train = batch * max(1, p.trainer_steps // 2)  # the trainer row runs two epochs
            write_toy_shards(self._toy, n_train=n_train, n_test=batch, size=(crop, crop), seed=0,
                             oversample=1)
        return self._toy

    def sync(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize(self.device)


def timed(ck: Check, fn: Callable[[], None], warmup: int, repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` calls of ``fn`` after ``warmup`` calls (GPU work included)."""
    for _ in range(warmup):
        fn()
    ck.sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ck.sync()
        times.append(time.perf_counter() - t)
    return times


# ----------------------------------------------------------------------------- training
def step_config(ck: Check, crop: int, batch: int, mode: str):
    """The TrainConfig of a train_step row (validated: a bad crop fails the row as it fails `blurgen train`)."""
    from blurgen.models.b2fnet import B2FNetConfig
    from blurgen.train.config import TrainConfig

    amp, channels_last = MODES[mode]
    return TrainConfig(shards="", out="", crop=crop, batch_size=batch, amp=amp, channels_last=channels_last,
                       device=ck.device.type, model=B2FNetConfig(width=ck.profile.width)).validate()


def make_train_step(cfg, device) -> Callable[[], None]:
    """One optimiser step of the trainer's loop on a fixed random batch: cfg's model, amp, memory format."""
    import torch

    from blurgen.models.b2fnet import B2FNet
    from blurgen.train.evaluate import autocast
    from blurgen.train.losses import multiscale_loss

    torch.manual_seed(cfg.seed)
    model = B2FNet(cfg.model).to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    b, c = cfg.batch_size, cfg.crop
    blur = torch.rand(b, 3, c, c, device=device)
    if cfg.channels_last:
        blur = blur.contiguous(memory_format=torch.channels_last)
    flow = torch.randn(b, 2, c, c, device=device) * 4.0
    valid = torch.ones(b, c, c, device=device)

    def step() -> None:
        with autocast(device, cfg.amp):
            pred = model(blur)
        loss, _ = multiscale_loss(pred["flows"], flow, valid, -flow, direction=cfg.loss_direction,
                                  div_flow=cfg.model.div_flow)
        if not torch.isfinite(loss):
            raise RuntimeError(f"the loss is {loss.item()}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def train_step_rate(ck: Check, crop: int, batch: int, mode: str) -> tuple[float, str, str]:
    cfg = step_config(ck, crop, batch, mode)
    times = timed(ck, make_train_step(cfg, ck.device), ck.profile.warmup, ck.profile.steps)
    rate = 1.0 / statistics.median(times)
    ck.need[crop] = max(ck.need.get(crop, 0.0), rate * batch)
    return rate, "steps/s", f"{fmt(rate * batch)} samples/s"


def check_train_step(ck: Check) -> None:
    for crop in ck.profile.crops:
        for batch in ck.profile.batches:
            for mode in MODES:
                ck.run("train_step", f"{mode}, batch {batch}, {crop}x{crop}",
                       lambda c=crop, b=batch, m=mode: train_step_rate(ck, c, b, m))


def trainer_rate(ck: Check) -> tuple[float, str, str]:
    """``train()`` itself for ``trainer_steps`` steps: bf16, channels-last, workers, validation, checkpoints."""
    from blurgen.models.b2fnet import B2FNetConfig
    from blurgen.train.config import TrainConfig
    from blurgen.train.trainer import train

    p = ck.profile
    crop, batch = p.crops[0], p.batches[-1]
    cfg = TrainConfig(shards=str(ck.toy_shards()), out=str(ck.tmp / "trainer-run"), crop=crop, batch_size=batch,
                      max_steps=p.trainer_steps, workers=p.loader_workers, amp="bf16", channels_last=True,
                      device=ck.device.type, threads=ck.threads, val_batch_size=batch, quiet=True,
                      model=B2FNetConfig(width=p.width))
    summary = train(cfg)
    if summary["steps"] != p.trainer_steps:
        raise RuntimeError(f"train() stopped after {summary['steps']} of {p.trainer_steps} steps")
    val = (summary.get("val") or {}).get("epe_min")
    val_text = "-" if val is None else fmt(val)
    rate = summary["steps"] / summary["seconds"]
    return rate, "steps/s", (f"bf16+cl, batch {batch}, {crop}x{crop}, {p.loader_workers} workers; "
                             f"{summary['steps']} steps, {summary['epoch']} epoch(s) with validation and "
                             f"checkpoints in {summary['seconds']:.1f} s; val epe_min {val_text}")


# ----------------------------------------------------------------------------- loader
def write_loader_shards(folder: Path, size: int, n: int) -> None:
    """``n`` toy samples of size x size in two gzip shards (the pipeline's default compression)."""
    from blurgen.shards.writer import write_shard
    from blurgen.train.toy import toy_sample
    from blurgen.utils import rng_for

    keys = [f"gpu-check/{i:05d}" for i in range(n)]
    samples = [toy_sample(k, rng_for(0, k), (size, size), oversample=1) for k in keys]
    half = n // 2
    folder.mkdir(parents=True, exist_ok=True)
    write_shard(folder / "train-00000-of-00002.h5", samples[:half])
    write_shard(folder / "train-00001-of-00002.h5", samples[half:])


def loader_rate(ck: Check) -> tuple[float, str, str]:
    import torch
    from torch.utils.data import DataLoader

    from blurgen.shards.dataset import ShardDataset

    p = ck.profile
    crop, batch, workers = p.crops[0], p.batches[0], p.loader_workers
    folder = ck.tmp / "loader"
    write_loader_shards(folder, crop + 64, p.loader_samples)
    ds = ShardDataset(folder, split="train", crop=crop, crop_mode="center")
    loader = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, pin_memory=ck.cuda,
                        generator=torch.Generator().manual_seed(0))
    t_start, t_first, n_after = time.perf_counter(), None, 0
    for b in loader:
        for k in ("blur", "flow", "flow_bwd", "valid"):
            b[k].to(ck.device, non_blocking=True)
        if t_first is None:
            t_first = time.perf_counter()
        else:
            n_after += len(b["key"])
    ck.sync()
    if not n_after:
        raise RuntimeError(f"the loader gave {len(ds)} samples: too few to time after the first batch")
    rate = n_after / (time.perf_counter() - t_first)
    need = ck.need.get(crop)
    vs = (f"fastest train_step needs {fmt(need)}/s: {rate / need:.1f}x" if need
          else "train_step's need unknown (not run)")
    return rate, "samples/s", (f"{workers} workers, batch {batch}, {crop}x{crop} from {crop + 64}x{crop + 64} gzip; "
                               f"first batch after {t_first - t_start:.2f} s; "
                               f"{vs}")


# ----------------------------------------------------------------------------- data generation
def random_frames(rng: np.random.Generator, n: int, size: tuple[int, int]) -> list[np.ndarray]:
    """``n`` (H, W, 3) uint8 RGB frames of uniform noise (content does not change the cost)."""
    return [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(n)]


def slomo_rate(ck: Check) -> tuple[float, str, str]:
    import torch

    from blurgen.models.superslomo import MULTIPLE, SuperSloMo, save_checkpoint
    from blurgen.synth.blur import synthesize_blur
    from blurgen.synth.interpolate import SuperSloMoInterpolator

    p = ck.profile
    torch.manual_seed(0)
    path = ck.tmp / "superslomo-random.ckpt"
    save_checkpoint(path, SuperSloMo())
    interp = SuperSloMoInterpolator.from_checkpoint(path, device=str(ck.device))
    (h, w), n = p.slomo_size, p.slomo_times
    a, b = random_frames(np.random.default_rng(0), 2, (h, w))
    out: dict[str, np.ndarray] = {}

    def once() -> None:
        out["blur"] = synthesize_blur(interp, a, b, None, None, n)

    times = timed(ck, once, p.warmup, p.passes)
    if out["blur"].shape != (h, w, 3) or not np.isfinite(out["blur"]).all():
        raise RuntimeError(f"blur of shape {out['blur'].shape}, finite: {bool(np.isfinite(out['blur']).all())}")
    per_pass = interp.batch_size(-(-h // MULTIPLE) * MULTIPLE, -(-w // MULTIPLE) * MULTIPLE)
    rate = n / statistics.median(times)
    return rate, "frames/s", f"{w}x{h}, {n} times per pair, up to {per_pass} per pass, random weights"


def flow_seconds(ck: Check, model: str) -> tuple[float, str, str]:
    from blurgen.flow import estimate_window, get_estimator

    p = ck.profile
    est = get_estimator(model, ckpt="random", device=str(ck.device))
    frames = random_frames(np.random.default_rng(1), p.flow_window, p.flow_size)
    out: dict[str, tuple] = {}

    def once() -> None:
        out["flows"] = estimate_window(est, frames, FLOW_MODE)

    times = timed(ck, once, p.warmup, p.passes)
    if not all(np.isfinite(f).all() for f in out["flows"]):
        raise RuntimeError(f"{model} gave non-finite flow on {p.flow_size[1]}x{p.flow_size[0]}")
    sec = statistics.median(times)
    return sec, "s/window", (f"{p.flow_size[1]}x{p.flow_size[0]}, {p.flow_window} frames, {FLOW_MODE} "
                             f"(2 passes, batch {est.batch_size}), random weights; {fmt(1 / sec)} windows/s")


def check_flow(ck: Check) -> None:
    h, w = ck.profile.flow_size
    for model in ck.profile.flow_models:
        ck.run("flow", f"{model}, {w}x{h} window", lambda m=model: flow_seconds(ck, m))


# ----------------------------------------------------------------------------- DDP
def ddp_command(ck: Check, out: Path, device: str) -> list[str]:
    p = ck.profile
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "blurgen", "train", "--shards", str(ck.toy_shards()), "--out", str(out), "--width", str(p.width),
           "--crop", str(p.crops[0]), "--batch-size", str(p.batches[0]), "--max-steps", str(p.ddp_steps),
           "--device", device, "--val-split", "none", "--sync-report", "--quiet"]
    if ck.threads:
        cmd += ["--threads", str(ck.threads)]
    return cmd


def ddp_seconds(ck: Check) -> tuple[float, str, str]:
    """Two ranks under torchrun train for ``ddp_steps`` steps and must end with equal parameters."""
    import torch

    if ck.cuda:
        n_gpus = torch.cuda.device_count()
        if n_gpus < 2:
            raise NotApplicable(f"{n_gpus} GPU")
        device, backend = "cuda", "NCCL"
    else:
        device, backend = "cpu", "gloo"
    out = ck.tmp / "ddp-run"
    t = time.perf_counter()
    res = subprocess.run(ddp_command(ck, out, device), capture_output=True, text=True,
                         env=dict(os.environ, PYTHONUNBUFFERED="1"), timeout=max(ck.remaining(), 0) + 120)
    wall = time.perf_counter() - t
    if res.returncode != 0:
        tail = [s for s in res.stderr.splitlines() if s.strip()][-1:] or ["no output"]
        raise RuntimeError(f"torchrun exited with {res.returncode}: {tail[0].strip()}")
    reps = [json.loads((out / "sync" / f"rank-{r}.json").read_text()) for r in (0, 1)]
    if len({r["param_sha256"] for r in reps}) != 1:
        raise RuntimeError("the two ranks ended with different parameters")
    steps = [r["step"] for r in reps]
    if steps != [ck.profile.ddp_steps] * 2:
        raise RuntimeError(f"ranks stopped at steps {steps}, expected {ck.profile.ddp_steps}")
    p = ck.profile
    return wall, "s", (f"{backend}, 2 ranks x {steps[0]} steps, batch {p.batches[0]} per rank, "
                       f"{p.crops[0]}x{p.crops[0]}, incl. start-up; replicas equal")


# ----------------------------------------------------------------------------- table and main
def run_paths(ck: Check, paths: list[str]) -> None:
    p = ck.profile
    single = {
        "loader": (f"{p.loader_workers} workers, {p.crops[0]}x{p.crops[0]}", loader_rate),
        "trainer": (f"train(), {p.trainer_steps} steps", trainer_rate),
        "superslomo": (f"{p.slomo_size[1]}x{p.slomo_size[0]}, {p.slomo_times} times batched", slomo_rate),
        "ddp": ("torchrun, 2 processes", ddp_seconds),
    }
    for path in paths:
        if path == "train_step":
            check_train_step(ck)
        elif path == "flow":
            check_flow(ck)
        else:
            setting, fn = single[path]
            ck.run(path, setting, lambda f=fn: f(ck))


def device_text(device) -> str:
    import torch

    if device.type == "cuda":
        n = torch.cuda.device_count()
        return f"{torch.cuda.get_device_name(device)} ({n} GPU{'s' if n > 1 else ''}), CUDA {torch.version.cuda}"
    return f"CPU ({torch.get_num_threads()} torch threads)"


def format_table(rows: list[Row]) -> str:
    lines = ["| path | setting | result | peak memory | status |", "|---|---|---|---|---|"]
    lines += [f"| {r.path} | {r.setting} | {r.result()} | {r.memory()} | {r.status_text()} |" for r in rows]
    return "\n".join(lines)


def write_json(path: str, ck: Check, header: dict) -> None:
    from blurgen.utils import atomic_write_bytes

    rows = [dict(asdict(r), result=r.result(), status_text=r.status_text()) for r in ck.rows]
    doc = dict(header, rows=rows, failed=sum(r.status == "FAILED" for r in ck.rows))
    atomic_write_bytes(path, (json.dumps(doc, indent=1) + "\n").encode())


def csv_arg(kind):
    def parse(text: str):
        items = [s.strip() for s in text.split(",") if s.strip()]
        if not items:
            raise argparse.ArgumentTypeError("give at least one value")
        if kind is int:
            try:
                return tuple(int(s) for s in items)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers separated by commas") from None
        bad = [s for s in items if s not in PATHS]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown path {', '.join(bad)}; choose from {', '.join(PATHS)}")
        return [s for s in PATHS if s in items]
    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpu-smoke", action="store_true", help="the same code paths on tiny inputs on the CPU")
    ap.add_argument("--only", type=csv_arg(str), default=list(PATHS), help=f"paths to run, from {', '.join(PATHS)}")
    ap.add_argument("--crops", type=csv_arg(int), help="train_step crops (the first is used by the other rows)")
    ap.add_argument("--batches", type=csv_arg(int), help="train_step batch sizes")
    ap.add_argument("--budget", type=float, help="seconds after which the remaining rows are not run "
                    f"(default {GPU.budget_s:g} on a GPU, {SMOKE.budget_s:g} with --cpu-smoke)")
    ap.add_argument("--threads", type=int, help="torch CPU threads (also given to the trainer and DDP ranks)")
    ap.add_argument("--json", metavar="OUT", help="also write the rows to OUT as JSON")
    args = ap.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        ap.error("--threads must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.cpu_smoke and not torch.cuda.is_available():
        print("Error: torch sees no CUDA GPU here; run this on a GPU machine, or pass --cpu-smoke", file=sys.stderr)
        return 2
    profile, device = (SMOKE, torch.device("cpu")) if args.cpu_smoke else (GPU, torch.device("cuda", 0))
    profile = replace(profile, crops=args.crops or profile.crops, batches=args.batches or profile.batches,
                      budget_s=profile.budget_s if args.budget is None else args.budget)
    with tempfile.TemporaryDirectory(prefix="blurgen-gpu-check-") as tmp:
        ck = Check(profile, device, Path(tmp), args.threads)
        run_paths(ck, args.only)
    header = {"profile": profile.name, "device": device_text(device), "torch": str(torch.__version__),
              "seconds": round(ck.elapsed(), 1), "budget_s": profile.budget_s}
    print(f"blurgen GPU check ({profile.name}): {header['device']}, torch {header['torch']}; "
          f"{header['seconds']:.0f} s (budget {profile.budget_s:g} s)")
    print(format_table(ck.rows))
    if args.json:
        write_json(args.json, ck, header)
    failed = [r for r in ck.rows if r.status == "FAILED"]
    if failed:
        print(f"{len(failed)} path(s) FAILED", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
