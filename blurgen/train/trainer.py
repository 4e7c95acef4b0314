"""Training loop of B2F-net: data, optimiser and schedule, validation, checkpoints, DDP.

``train(cfg, resume=False) -> dict`` runs one training (see ``TrainConfig``) and writes to
``cfg.out``:

- ``last.pt``: written after every ``val_every`` epochs, every ``ckpt_every`` steps and when the run
  stops; everything needed to resume exactly (see checkpoint.py);
- ``best.pt``: the checkpoint with the lowest validation ``epe_min`` so far (validation is a
  holdout of the training samples by default; the test split is never read, see data.py);
- ``run.json``: the run's manifest (records.py): config, training shards and the digest of
  their keys, what selects ``best.pt``, the crop, and at the end the summary;
- ``tb/``: TensorBoard logs (train loss, per-level terms, EPE, lr; validation EPE and the
  epoch it ends or stops in); ``curve.py`` draws them;
- ``sync/rank-R.json`` with ``sync_report``: each rank's parameter hash at the end.

A run is a ``TrainState`` taken through one function per phase: ``_setup`` (datasets,
network, optimiser), ``_restore`` (a resumed checkpoint or ``--init-from``), ``_open_run``
(run folder, logs), ``_run_epoch`` (``_train_step`` per batch), ``_validate_and_save``
(last.pt / best.pt) and ``_finish`` (sync report, summary).

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

import math
import random
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from blurgen import __version__
from blurgen.errors import BlurgenError, ConfigError, InputError
from blurgen.models.b2fnet.net import B2FNet, count_parameters
from blurgen.train import ddp
from blurgen.train.checkpoint import (
    FORMAT,
    load_checkpoint,
    load_scheduler_state,
    rng_state,
    save_checkpoint,
    scheduler_state,
    set_rng_state,
)
from blurgen.train.config import TrainConfig, loader_workers
from blurgen.train.data import TEST_SPLIT, SkipSampler, TrainData, build_datasets
from blurgen.train.evaluate import autocast, evaluate_dataset
from blurgen.train.losses import multiscale_loss, uncertainty_weight
from blurgen.train.metrics import EpeMeter, flow_metrics
from blurgen.train.records import finish_run_manifest, run_manifest, write_json, write_sync_report

# Options that a resumed run takes from the new invocation instead of the checkpoint.
RESUME_OVERRIDABLE = ("max_steps", "workers", "device", "threads", "quiet", "log_every", "val_every", "ckpt_every",
                      "sync_report")
TARGETS = ("flow", "flow_bwd", "valid", "valid_bwd")  # batch tensors the loss and the metrics compare with


class TrainingDiverged(BlurgenError):
    """The loss became NaN or infinite; the run stopped without writing a new checkpoint."""


@dataclass
class TrainState:
    """One run in progress: what it trains and where it stands.

    ``model`` is the network, ``net`` what the steps call (``model``, or its DDP wrapper);
    ``epoch`` is the epoch in progress, ``step_in_epoch`` its batches done, ``step`` the
    optimiser steps in total; ``best`` the lowest validation ``epe_min`` (NaN before
    one), ``last_val`` the last validation result, ``last_saved`` the step of the last
    ``last.pt`` (None before one); ``loss_logs`` the last step's loss terms; ``keys_seen``
    the training keys of this rank (with ``sync_report``).
    """

    cfg: TrainConfig
    info: ddp.DistInfo
    data: TrainData
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.MultiStepLR
    net: torch.nn.Module | None = None
    epoch: int = 0
    step_in_epoch: int = 0
    step: int = 0
    best: float = float("nan")
    last_val: dict | None = None
    last_saved: int | None = None
    loss_logs: dict[str, torch.Tensor] = field(default_factory=dict)
    keys_seen: list[str] = field(default_factory=list)

    @property
    def out(self) -> Path:
        return Path(self.cfg.out)

    def stopped(self) -> bool:
        """True once ``max_steps`` steps are done."""
        return self.cfg.max_steps is not None and self.step >= self.cfg.max_steps

    def checkpoint(self) -> dict[str, Any]:
        """The content of ``last.pt`` / ``best.pt`` (layout in checkpoint.py)."""
        return {
            "format": FORMAT, "model": self.model.state_dict(), "model_config": self.cfg.model.to_dict(),
            "config": self.cfg.to_dict(), "optimizer": self.opt.state_dict(), "scheduler": scheduler_state(self.sched),
            "epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "step": self.step, "best_epe": self.best,
            "val": self.last_val, "selection": {k: v for k, v in self.data.selection.items() if k != "keys"},
            "rng": rng_state(),
            "versions": {"torch": str(torch.__version__), "blurgen": __version__},
        }


class _Report:
    """Messages (rank 0, stderr so that stdout stays for results) and TensorBoard scalars
    (rank 0, ``RUN/tb``; ``writer`` None elsewhere)."""

    def __init__(self, info: ddp.DistInfo, quiet: bool):
        self.on = info.is_main and not quiet
        self.writer = None

    def __call__(self, msg: str) -> None:
        if self.on:
            print(msg, file=sys.stderr, flush=True)

    def scalars(self, prefix: str, values: dict[str, Any], step: int) -> None:
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(f"{prefix}/{k}", float(v), step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    torch.manual_seed(seed)


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
    """The phases of a run: set up, restore, open the run folder, epochs, finish."""
    report = _Report(info, cfg.quiet)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    _seed_all(cfg.seed)
    st = _setup(cfg, info, report)
    _restore(st, ckpt, report)
    _open_run(st, report, crop_auto=cfg.crop is None, resumed=ckpt is not None)
    sampler = DistributedSampler(st.data.train, num_replicas=info.world_size, rank=info.rank, shuffle=True,
                                 seed=st.cfg.seed, drop_last=False)
    t_start = time.perf_counter()
    stop = st.stopped()
    while st.epoch < st.cfg.epochs and not stop:
        stop = _run_epoch(st, sampler, report)
        if stop or st.epoch >= st.cfg.epochs or st.epoch % st.cfg.val_every == 0:
            _validate_and_save(st, report)
    return _finish(st, report, time.perf_counter() - t_start)


def _setup(cfg: TrainConfig, info: ddp.DistInfo, report: _Report) -> TrainState:
    """Datasets, network, optimiser and schedule of ``cfg``, at step 0. The state's config
    records the crop and the DataLoader workers the run uses."""
    data = build_datasets(cfg)
    cfg = replace(cfg, crop=data.crop, workers=loader_workers(cfg.workers, info.device.type))
    if data.crop_note:
        report(data.crop_note)
    model = B2FNet(cfg.model)
    m = cfg.model
    report(f"B2F-net: {count_parameters(model):,} parameters (width {m.width}, STN {'on' if m.stn else 'off'}, "
           f"refining block {'on' if m.refine else 'off'}); {len(data.train)} training samples, {data.note}; "
           f"{cfg.crop}x{cfg.crop} {cfg.crop_mode} crops; device {info.device}, {info.world_size} process(es)")
    model.to(info.device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.lr_gamma)
    return TrainState(cfg, info, data, model, opt, sched)


def _restore(st: TrainState, ckpt: dict | None, report: _Report) -> None:
    """Continue from ``ckpt`` (a resumed run's last.pt: weights, optimiser, schedule,
    position, RNG states) or start from ``--init-from``'s weights; then wrap for DDP."""
    if ckpt is not None:
        st.model.load_state_dict(ckpt["model"])
        st.opt.load_state_dict(ckpt["optimizer"])
        load_scheduler_state(st.sched, ckpt["scheduler"])
        st.epoch, st.step_in_epoch, st.step = int(ckpt["epoch"]), int(ckpt["step_in_epoch"]), int(ckpt["step"])
        st.best = float(ckpt.get("best_epe", float("nan")))
        st.last_val = ckpt.get("val")
        st.last_saved = st.step
        set_rng_state(ckpt["rng"])
        report(f"resumed from {st.out / 'last.pt'} at epoch {st.epoch + 1}, step {st.step}")
    elif st.cfg.init_from:
        init = load_checkpoint(st.cfg.init_from)
        try:
            st.model.load_state_dict(init["model"])
        except RuntimeError as e:
            raise InputError(st.cfg.init_from, f"weights do not fit this network ({str(e).splitlines()[0]})",
                             "use the same --width / --no-stn / --no-refine as the run that wrote it") from None
        report(f"initialised from {st.cfg.init_from}")
    st.net = st.model
    if st.info.initialized:
        dev = st.info.device
        st.net = torch.nn.parallel.DistributedDataParallel(st.model, device_ids=[dev.index] if dev.type == "cuda" else None)


def _open_run(st: TrainState, report: _Report, crop_auto: bool, resumed: bool) -> None:
    """On rank 0: the run folder, its TensorBoard writer, and run.json (a resumed run keeps its own)."""
    if not st.info.is_main:
        return
    st.out.mkdir(parents=True, exist_ok=True)
    from torch.utils.tensorboard import SummaryWriter  # tensorboard: only where logs are written

    # resumed: hide what a stopped run logged after its last.pt (steps > st.step), which is done again
    report.writer = SummaryWriter(str(st.out / "tb"), purge_step=st.step + 1 if resumed else None)
    if not resumed or not (st.out / "run.json").is_file():
        write_json(st.out / "run.json", run_manifest(st.cfg, st.data, crop_auto=crop_auto))


def _run_epoch(st: TrainState, sampler: DistributedSampler, report: _Report) -> bool:
    """Train the rest of epoch ``st.epoch`` (from batch ``st.step_in_epoch``: its order is
    fixed by (seed, epoch)); True when ``max_steps`` stopped it."""
    cfg, device = st.cfg, st.info.device
    sampler.set_epoch(st.epoch)
    st.data.train.set_epoch(st.epoch)
    batches = math.ceil(len(sampler) / cfg.batch_size)
    loader = DataLoader(st.data.train, batch_size=cfg.batch_size,
                        sampler=SkipSampler(sampler, st.step_in_epoch * cfg.batch_size),
                        num_workers=cfg.workers, pin_memory=(device.type == "cuda"), drop_last=False)
    bar = tqdm(total=batches, initial=st.step_in_epoch, desc=f"epoch {st.epoch + 1}/{cfg.epochs}",
               unit="batch", disable=not report.on, leave=False, dynamic_ncols=True)
    stop = False
    st.net.train()
    with bar:
        for batch in loader:
            _train_step(st, batch, report, bar)
            bar.update(1)
            if cfg.ckpt_every and st.step % cfg.ckpt_every == 0:
                _save(st)
            if st.stopped():
                stop = True
                break
    if st.step_in_epoch >= batches:  # epoch complete
        st.epoch += 1
        st.step_in_epoch = 0
        st.sched.step()
    return stop


def _train_step(st: TrainState, batch: dict[str, Any], report: _Report, bar: tqdm) -> None:
    """One optimiser step on ``batch``; a non-finite loss raises ``TrainingDiverged`` before it."""
    cfg, info = st.cfg, st.info
    blur = batch["blur"].to(info.device, non_blocking=True)
    if cfg.channels_last:
        blur = blur.contiguous(memory_format=torch.channels_last)
    t = {k: batch[k].to(info.device, non_blocking=True) for k in TARGETS}
    with autocast(info.device, cfg.amp):
        pred = st.net(blur)
    w = {}
    if cfg.uncertainty_weight is not None:  # --uncertainty-weight: the items carry the labels' uncertainty
        w = {k: uncertainty_weight(batch[u].to(info.device, non_blocking=True), cfg.uncertainty_weight)
             for k, u in (("weight", "uncertainty"), ("weight_bwd", "uncertainty_bwd"))}
    loss, st.loss_logs = multiscale_loss(pred["flows"], t["flow"], t["valid"], t["flow_bwd"],
                                         direction=cfg.loss_direction, div_flow=cfg.model.div_flow,
                                         valid_bwd=t["valid_bwd"], **w)
    total = ddp.all_reduce_sum(loss.detach().float(), info)
    if not torch.isfinite(total):
        raise _diverged(st, loss)
    st.opt.zero_grad(set_to_none=True)
    loss.backward()
    st.opt.step()
    st.step += 1
    st.step_in_epoch += 1
    if cfg.sync_report:
        st.keys_seen.extend(batch["key"])
    if report.writer is not None and (st.step % cfg.log_every == 0 or st.step == 1):
        with torch.no_grad():
            epe = flow_metrics(pred["flow"].detach().float(), t["flow"], t["flow_bwd"], t["valid"], t["valid_bwd"])
            epe = float(torch.nanmean(epe["epe_min"]))
        mean_loss = float(total) / info.world_size
        report.scalars("train", {"loss": mean_loss, "epe_min": epe, "lr": st.opt.param_groups[0]["lr"]}, st.step)
        report.scalars("train", {k: v for k, v in st.loss_logs.items() if k != "loss"}, st.step)
        bar.set_postfix(loss=f"{mean_loss:.3g}", epe=f"{epe:.3f}")


def _diverged(st: TrainState, loss: torch.Tensor) -> TrainingDiverged:
    where = (f"the last good checkpoint {st.out / 'last.pt'} (step {st.last_saved}) is intact"
             if st.last_saved is not None else "no checkpoint had been written yet")
    return TrainingDiverged(f"training stopped: the loss is {loss.item()} at step {st.step + 1} (epoch {st.epoch + 1}); "
                            f"{where}; lower --lr, try --amp none, or check the training shards for extreme flow values")


def _validate(st: TrainState) -> dict | None:
    """EPE on the validation set (split over the ranks, summed), None without one."""
    if st.data.val is None:
        return None
    cfg, info = st.cfg, st.info
    idx = list(range(info.rank, len(st.data.val), info.world_size))
    meter = evaluate_dataset(st.model, st.data.val, info.device, batch_size=cfg.val_batch_size, workers=cfg.workers,
                             amp=cfg.amp, channels_last=cfg.channels_last, indices=idx)
    total = EpeMeter()
    for sums in ddp.gather_objects(meter.sums, info):
        total.merge(sums)
    return total.result()


def _validate_and_save(st: TrainState, report: _Report) -> None:
    """Validate, log, write last.pt, and best.pt when the validation EPE is the lowest yet."""
    st.last_val = _validate(st)
    if st.last_val is None:
        _save(st)
        return
    v = st.last_val["epe_min"]
    epoch = st.epoch if st.step_in_epoch == 0 else st.epoch + 1  # epochs done or in progress, from 1
    report.scalars("val", {**{k: st.last_val[k] for k in ("epe_min", "epe_fwd", "epe_bwd", "zero_epe_min")},
                           "epoch": epoch}, st.step)
    improved = not math.isnan(v) and (math.isnan(st.best) or v < st.best)
    if improved:
        st.best = v
    report(f"epoch {epoch}: step {st.step}, "
           f"loss {float(st.loss_logs.get('loss', float('nan'))):.4g}, val epe_min {v:.4f} "
           f"(zero flow {st.last_val['zero_epe_min']:.4f}){' *best*' if improved else ''}")
    _save(st)
    if improved:
        _save(st, "best.pt")


def _save(st: TrainState, name: str = "last.pt") -> None:
    if st.info.is_main:
        save_checkpoint(st.out / name, st.checkpoint())
        if name == "last.pt":
            st.last_saved = st.step


def _finish(st: TrainState, report: _Report, elapsed: float) -> dict[str, Any]:
    """Close the logs, write the sync report and the run's summary; returns the summary."""
    report.close()
    ddp.barrier(st.info)
    if st.cfg.sync_report:
        write_sync_report(st.out, st.info.rank, st.info.world_size, st.step, st.model, st.keys_seen)
    out = st.out
    report(f"done: {st.step} steps in {elapsed:.1f} s; last checkpoint {out / 'last.pt'}"
           + (f", best val epe_min {st.best:.4f} in {out / 'best.pt'}" if not math.isnan(st.best) else ""))
    summary = {
        "steps": st.step, "epoch": st.epoch, "step_in_epoch": st.step_in_epoch, "best_epe": st.best,
        "val": st.last_val, "last": str(out / "last.pt"),
        "best": str(out / "best.pt") if (out / "best.pt").exists() else None, "seconds": elapsed,
        "parameters": count_parameters(st.model), "selected_on": st.data.selection["on"],
    }
    if st.info.is_main:
        finish_run_manifest(out / "run.json", summary)
    return summary

