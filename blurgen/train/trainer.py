"""Training loop of B2F-net: data, optimiser and schedule, validation, checkpoints, DDP.

``train(cfg, resume=False) -> dict`` runs one training (see ``TrainConfig``) and writes to
``cfg.out``:

- ``last.pt``: written after every ``val_every`` epochs, every ``ckpt_every`` steps and when the run
  stops; everything needed to resume exactly (see checkpoint.py);
- ``best.pt``: the checkpoint with the lowest validation ``epe_min`` so far (validation is a
  holdout of the training samples by default; the test split is never read, see data.py);
- ``run.json``: the run's manifest: config, training shards and the digest of their keys,
  what selects ``best.pt`` (the holdout's rule, fraction, salt and keys), the crop, and at
  the end the summary;
- ``tb/``: TensorBoard logs (train loss, per-level terms, EPE, lr; validation EPE);
- ``sync/rank-R.json`` with ``sync_report``: each rank's parameter hash at the end.

Exact resume: the training order of epoch e is fixed by (seed, e) (DistributedSampler's
shuffle; random crops by (seed, e, index)), so resuming in the middle of an epoch skips
the batches already done and continues with the same batches and the same RNG states.

Multi-GPU / multi-process: launch with ``torchrun --nproc_per_node N -m blurgen train ...``;
RANK / WORLD_SIZE select DDP (NCCL on CUDA, gloo on CPU). Each rank reads its share of
every epoch (DistributedSampler); rank 0 writes checkpoints and logs; validation is split
across ranks and reduced. The batch size is per process.

A non-finite loss stops the run before the optimiser step with ``TrainingDiverged``;
checkpoints already on disk are left as they were.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from blurgen.errors import BlurgenError, ConfigError, InputError
from blurgen.models.b2fnet import B2FNet, count_parameters
from blurgen.train import ddp
from blurgen.train.checkpoint import (
    FORMAT, load_checkpoint, load_scheduler_state, rng_state, save_checkpoint,
    scheduler_state, set_rng_state,
)
from blurgen.train.config import TrainConfig, loader_workers
from blurgen.train.data import TEST_SPLIT, TrainData, build_datasets, keys_sha256
from blurgen.train.evaluate import autocast, evaluate_dataset
from blurgen.train.losses import multiscale_loss
from blurgen.train.metrics import EpeMeter, flow_metrics

# Options that a resumed run takes from the new invocation instead of the checkpoint.
RESUME_OVERRIDABLE = ("max_steps", "workers", "device", "threads", "quiet", "log_every", "val_every", "ckpt_every",
                      "sync_report")


class TrainingDiverged(BlurgenError):
    """The loss became NaN or infinite; the run stopped without writing a new checkpoint."""


class _SkipSampler(torch.utils.data.Sampler):
    """The indices of ``base`` without the first ``skip`` (to resume inside an epoch)."""

    def __init__(self, base, skip: int):
        self.base, self.skip = base, int(skip)

    def __iter__(self):
        it = iter(self.base)
        for _ in range(self.skip):
            next(it, None)
        yield from it

    def __len__(self) -> int:
        return max(len(self.base) - self.skip, 0)


def param_digest(model: torch.nn.Module) -> str:
    """sha256 of every parameter and buffer (name order, float32 bytes on the CPU)."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    torch.manual_seed(seed)


RUN_FORMAT = "blurgen-train-run/1"


def run_manifest(cfg: TrainConfig, data: TrainData, crop_auto: bool) -> dict[str, Any]:
    """The content of ``RUN/run.json`` when a run starts (``summary`` is filled at its end)."""
    return {
        "format": RUN_FORMAT, "blurgen": _version(), "config": cfg.to_dict(),
        "train": {"shards": [str(p) for p in data.train_paths], "n": len(data.train_keys),
                  "keys_sha256": keys_sha256(data.train_keys)},
        "selection": data.selection,
        "test_split": f"never read: no '{TEST_SPLIT}' shard is opened by training; use blurgen eval",
        "crop": {"size": data.crop, "auto": crop_auto, "note": data.crop_note},
        "summary": None,
    }


def _finish_run_manifest(path: Path, summary: dict[str, Any]) -> None:
    """Fill ``summary`` (NaN as null, no validation detail) into ``path``."""
    man = json.loads(path.read_text(encoding="utf-8"))
    man["summary"] = {k: (None if isinstance(v, float) and math.isnan(v) else v)
                      for k, v in summary.items() if k != "val"}
    _write_json(path, man)


def _write_json(path: Path, obj: dict) -> None:
    from blurgen.utils import atomic_write_bytes

    atomic_write_bytes(path, (json.dumps(obj, indent=1, allow_nan=False) + "\n").encode("utf-8"))


class _Log:
    """Messages from rank 0 (stderr so that stdout stays for results)."""

    def __init__(self, info: ddp.DistInfo, quiet: bool):
        self.on = info.is_main and not quiet

    def __call__(self, msg: str) -> None:
        if self.on:
            print(msg, file=sys.stderr, flush=True)


def _validate(model, val_ds, cfg: TrainConfig, info: ddp.DistInfo) -> dict | None:
    if val_ds is None:
        return None
    idx = list(range(info.rank, len(val_ds), info.world_size))
    meter = evaluate_dataset(model, val_ds, info.device, batch_size=cfg.val_batch_size, workers=cfg.workers,
                             amp=cfg.amp, channels_last=cfg.channels_last, indices=idx)
    total = EpeMeter()
    for sums in ddp.gather_objects(meter.sums, info):
        total.merge(sums)
    return total.result()


def _resolve_resume(cfg: TrainConfig) -> tuple[TrainConfig, dict]:
    last = Path(cfg.out) / "last.pt"
    if not last.is_file():
        raise InputError(last, "nothing to resume: no last.pt in the run folder", "start without --resume")
    ckpt = load_checkpoint(last)
    saved = TrainConfig.from_dict(ckpt["config"])
    if TEST_SPLIT in (saved.val_split, saved.train_split):
        raise ConfigError(f"{last}: this run read the test split (validation on it was an older blurgen's default); "
                          f"resuming would go on reading it. Start a new run from its weights with "
                          f"--init-from {last}")
    for name in RESUME_OVERRIDABLE:
        setattr(saved, name, getattr(cfg, name))
    saved.out = cfg.out
    return saved.validate(), ckpt


def train(cfg: TrainConfig, resume: bool = False) -> dict[str, Any]:
    """Run (or resume) a training; returns a summary dict (steps, epochs, best, last, val)."""
    cfg.validate()
    out = Path(cfg.out)
    ckpt = None
    if resume:
        cfg, ckpt = _resolve_resume(cfg)
    elif (out / "last.pt").exists():
        raise ConfigError(f"{out} already holds a training run (last.pt): pass --resume to continue it or choose another --out")
    info = ddp.setup(cfg.device)
    try:
        return _train(cfg, ckpt, info)
    finally:
        ddp.cleanup(info)


def _train(cfg: TrainConfig, ckpt: dict | None, info: ddp.DistInfo) -> dict[str, Any]:
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler
    from tqdm import tqdm

    log = _Log(info, cfg.quiet)
    out = Path(cfg.out)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = info.device
    _seed_all(cfg.seed)

    data = build_datasets(cfg)
    # checkpoints record the crop and the DataLoader workers used
    cfg_in, cfg = cfg, replace(cfg, crop=data.crop, workers=loader_workers(cfg.workers, device.type))
    train_ds, val_ds = data.train, data.val
    if data.crop_note:
        log(data.crop_note)
    model = B2FNet(cfg.model)
    m = cfg.model
    log(f"B2F-net: {count_parameters(model):,} parameters (width {m.width}, STN {'on' if m.stn else 'off'}, "
        f"refining block {'on' if m.refine else 'off'}); {len(train_ds)} training samples, {data.note}; "
        f"{cfg.crop}x{cfg.crop} {cfg.crop_mode} crops; device {device}, {info.world_size} process(es)")
    if cfg.init_from and ckpt is None:
        init = load_checkpoint(cfg.init_from)
        try:
            model.load_state_dict(init["model"])
        except RuntimeError as e:
            raise InputError(cfg.init_from, f"weights do not fit this network ({str(e).splitlines()[0]})",
                             "use the same --width / --no-stn / --no-refine as the run that wrote it") from None
        log(f"initialised from {cfg.init_from}")
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.lr_gamma)

    epoch, step_in_epoch, step, best = 0, 0, 0, float("nan")
    last_val: dict | None = None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        load_scheduler_state(sched, ckpt["scheduler"])
        epoch, step_in_epoch, step = int(ckpt["epoch"]), int(ckpt["step_in_epoch"]), int(ckpt["step"])
        best = float(ckpt.get("best_epe", float("nan")))
        last_val = ckpt.get("val")
        set_rng_state(ckpt["rng"])
        log(f"resumed from {out / 'last.pt'} at epoch {epoch + 1}, step {step}")

    net = model
    if info.initialized:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    sampler = DistributedSampler(train_ds, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                                 seed=cfg.seed, drop_last=False)
    batches_per_epoch = math.ceil(len(sampler) / cfg.batch_size)
    writer = None
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))
        if ckpt is None or not (out / "run.json").is_file():  # a resumed run keeps its manifest
            _write_json(out / "run.json", run_manifest(cfg, data, crop_auto=cfg_in.crop is None))
    last_saved = {"step": None}
    if ckpt is not None:
        last_saved["step"] = step
    keys_seen: list[str] = []

    def checkpoint_dict() -> dict[str, Any]:
        return {
            "format": FORMAT, "model": model.state_dict(), "model_config": cfg.model.to_dict(),
            "config": cfg.to_dict(), "optimizer": opt.state_dict(), "scheduler": scheduler_state(sched),
            "epoch": epoch, "step_in_epoch": step_in_epoch, "step": step, "best_epe": best,
            "val": last_val, "selection": {k: v for k, v in data.selection.items() if k != "keys"},
            "rng": rng_state(),
            "versions": {"torch": str(torch.__version__), "blurgen": _version()},
        }

    def save(name: str = "last.pt") -> None:
        if info.is_main:
            save_checkpoint(out / name, checkpoint_dict())
            if name == "last.pt":
                last_saved["step"] = step

    stop = cfg.max_steps is not None and step >= cfg.max_steps
    t_start = time.perf_counter()
    loss_logs: dict[str, torch.Tensor] = {}
    while epoch < cfg.epochs and not stop:
        sampler.set_epoch(epoch)
        train_ds.set_epoch(epoch)
        loader = DataLoader(train_ds, batch_size=cfg.batch_size, sampler=_SkipSampler(sampler, step_in_epoch * cfg.batch_size),
                            num_workers=cfg.workers, pin_memory=(device.type == "cuda"), drop_last=False)
        bar = tqdm(total=batches_per_epoch, initial=step_in_epoch, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   unit="batch", disable=not log.on, leave=False, dynamic_ncols=True)
        net.train()
        for batch in loader:
            blur = batch["blur"].to(device, non_blocking=True)
            if cfg.channels_last:
                blur = blur.contiguous(memory_format=torch.channels_last)
            flow = batch["flow"].to(device, non_blocking=True)
            flow_bwd = batch["flow_bwd"].to(device, non_blocking=True)
            valid = batch["valid"].to(device, non_blocking=True)
            valid_bwd = batch["valid_bwd"].to(device, non_blocking=True)
            with autocast(device, cfg.amp):
                pred = net(blur)
            loss, loss_logs = multiscale_loss(pred["flows"], flow, valid, flow_bwd, direction=cfg.loss_direction,
                                              div_flow=cfg.model.div_flow, valid_bwd=valid_bwd)
            total = ddp.all_reduce_sum(loss.detach().float(), info)
            if not torch.isfinite(total):
                bar.close()
                where = (f"the last good checkpoint {out / 'last.pt'} (step {last_saved['step']}) is intact"
                         if last_saved["step"] is not None else "no checkpoint had been written yet")
                raise TrainingDiverged(
                    f"training stopped: the loss is {loss.item()} at step {step + 1} (epoch {epoch + 1}); {where}; "
                    f"lower --lr, try --amp none, or check the training shards for extreme flow values")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            step_in_epoch += 1
            if cfg.sync_report:
                keys_seen.extend(batch["key"])
            if writer is not None and (step % cfg.log_every == 0 or step == 1):
                with torch.no_grad():
                    epe = flow_metrics(pred["flow"].detach().float(), flow, flow_bwd, valid, valid_bwd)["epe_min"]
                    epe = float(torch.nanmean(epe))
                writer.add_scalar("train/loss", float(total) / info.world_size, step)
                writer.add_scalar("train/epe_min", epe, step)
                writer.add_scalar("train/lr", opt.param_groups[0]["lr"], step)
                for k, v in loss_logs.items():
                    if k != "loss":
                        writer.add_scalar(f"train/{k}", float(v), step)
                bar.set_postfix(loss=f"{float(total) / info.world_size:.3g}", epe=f"{epe:.3f}")
            bar.update(1)
            if cfg.ckpt_every and step % cfg.ckpt_every == 0:
                save()
            if cfg.max_steps is not None and step >= cfg.max_steps:
                stop = True
                break
        bar.close()
        if step_in_epoch >= batches_per_epoch:  # epoch complete
            epoch += 1
            step_in_epoch = 0
            sched.step()
        if not (stop or epoch >= cfg.epochs or epoch % cfg.val_every == 0):
            continue
        last_val = _validate(model, val_ds, cfg, info)
        if last_val is not None:
            v = last_val["epe_min"]
            if writer is not None:
                for k in ("epe_min", "epe_fwd", "epe_bwd", "zero_epe_min"):
                    writer.add_scalar(f"val/{k}", last_val[k], step)
            improved = not math.isnan(v) and (math.isnan(best) or v < best)
            if improved:
                best = v
            log(f"epoch {epoch if step_in_epoch == 0 else epoch + 1}: step {step}, "
                f"loss {float(loss_logs.get('loss', float('nan'))):.4g}, val epe_min {v:.4f} "
                f"(zero flow {last_val['zero_epe_min']:.4f}){' *best*' if improved else ''}")
            save()
            if improved:
                save("best.pt")
        else:
            save()
    if writer is not None:
        writer.close()
    ddp.barrier(info)
    if cfg.sync_report:
        rep = {"rank": info.rank, "world_size": info.world_size, "step": step, "param_sha256": param_digest(model),
               "keys_seen": keys_seen}
        (out / "sync").mkdir(parents=True, exist_ok=True)
        (out / "sync" / f"rank-{info.rank}.json").write_text(json.dumps(rep, indent=1))
    elapsed = time.perf_counter() - t_start
    log(f"done: {step} steps in {elapsed:.1f} s; last checkpoint {out / 'last.pt'}"
        + (f", best val epe_min {best:.4f} in {out / 'best.pt'}" if not math.isnan(best) else ""))
    summary = {
        "steps": step, "epoch": epoch, "step_in_epoch": step_in_epoch, "best_epe": best, "val": last_val,
        "last": str(out / "last.pt"), "best": str(out / "best.pt") if (out / "best.pt").exists() else None,
        "seconds": elapsed, "parameters": count_parameters(model), "selected_on": data.selection["on"],
    }
    if info.is_main:
        _finish_run_manifest(out / "run.json", summary)
    return summary


def _version() -> str:
    from blurgen import __version__

    return __version__
