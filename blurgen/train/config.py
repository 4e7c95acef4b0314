"""Typed training configuration and the paper's presets: the one home of training defaults.

``TrainConfig`` holds everything a run needs; ``apply_preset`` fills in the schedule of
one of ``PRESETS``; the CLI overrides fields from flags, and its options take their
defaults from here (``defaults``). A checkpoint stores the config as a plain dict
(``to_dict``) so that ``torch.load(weights_only=True)`` reads it back. Importing this
module does not import torch.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any

from blurgen.errors import ConfigError
from blurgen.models.b2fnet.config import B2FNetConfig


@dataclass(frozen=True)
class Preset:
    """A training schedule: epochs, initial lr, epochs at which the lr is multiplied by ``lr_gamma``."""

    epochs: int
    lr: float
    milestones: tuple[int, ...]
    lr_gamma: float = 0.5


PRESETS: dict[str, Preset] = {
    # Paper, "Implementation details": Monkaa from scratch, 300 epochs, lr 1e-4 halved
    # at 100/150/200/250.
    "monkaa": Preset(300, 1e-4, (100, 150, 200, 250)),
    # GoPro / NfS: 120 epochs, lr 1e-4 halved at 60/80/100, usually with --init-from.
    "finetune": Preset(120, 1e-4, (60, 80, 100)),
}

DEFAULT_PRESET = "monkaa"
AMP_MODES = ("none", "bf16")
CROP_MODES = ("center", "random")
LOSS_DIRECTIONS = ("fwd", "min")
DEFAULT_CROP = 256  # the paper's; a run whose frames are smaller takes the largest multiple of 64 that fits
CUDA_WORKERS = 4  # DataLoader workers when training on CUDA and ``workers`` is None (0 on the CPU)


@dataclass
class TrainConfig:
    """One training run.

    Data (rules in ``blurgen.train.data``): ``shards`` (a folder of shards or a shard file),
    ``train_split`` (split name of the training shards; "" = every shard in the folder but
    ``test`` and the validation split). A ``test`` split is never read. Validation (which
    picks ``best.pt``): ``val_split`` = "holdout" (a ``val_fraction`` of the training
    samples, chosen by the hash of ``val_salt`` + "/" + key, removed from training), "none"
    (no validation), or the name of another split of ``shards``; or ``val_shards``, a
    separate set. ``crop``: square crop in pixels (multiple of 64); None = 256, or the
    largest multiple of 64 that fits every shard when 256 does not (a run saves the crop
    it used). ``crop_mode``: "center" (paper) or "random". The schedule's defaults are
    the ``monkaa`` preset's.
    Optimiser (paper): Adam, ``betas``, ``weight_decay``; lr schedule: ``lr`` halved
    (``lr_gamma``) at each epoch in ``milestones``. ``max_steps``: stop after this many
    optimiser steps in total (None = run all epochs). ``amp``: "none" or "bf16" (CUDA
    autocast). ``val_every``: validate and write last.pt every N epochs (and when the run
    stops). ``ckpt_every``: also write last.pt every N steps. ``device``: "auto" (CUDA when
    available), "cpu", "cuda". ``workers``: DataLoader processes; None = 4 on CUDA, 0 on the
    CPU (a run saves the number it used).
    Label quality (docs/quality.md): ``max_label_epe`` (px) leaves out of training the
    samples whose ``label_epe_est`` is larger, ``min_fidelity_db`` (dB) those whose
    ``fidelity_db_est`` is smaller (samples without the estimate are kept; validation is
    never filtered); ``uncertainty_weight`` (px) weights each label pixel in the loss by
    ``1 / (1 + u / uncertainty_weight)``, ``u`` its stored uncertainty (0 where none is
    stored); None = off.
    """

    shards: str
    out: str
    preset: str | None = DEFAULT_PRESET
    epochs: int = PRESETS[DEFAULT_PRESET].epochs
    lr: float = PRESETS[DEFAULT_PRESET].lr
    milestones: tuple[int, ...] = PRESETS[DEFAULT_PRESET].milestones
    lr_gamma: float = PRESETS[DEFAULT_PRESET].lr_gamma
    batch_size: int = 4
    crop: int | None = None
    crop_mode: str = "center"
    weight_decay: float = 4e-4
    betas: tuple[float, float] = (0.9, 0.999)
    seed: int = 0
    max_steps: int | None = None
    train_split: str = "train"
    val_split: str | None = "holdout"
    val_shards: str | None = None
    val_fraction: float = 0.05
    val_salt: str = "val"
    val_batch_size: int = 4
    init_from: str | None = None
    loss_direction: str = "fwd"
    max_label_epe: float | None = None
    min_fidelity_db: float | None = None
    uncertainty_weight: float | None = None
    workers: int | None = None
    amp: str = "none"
    channels_last: bool = False
    device: str = "auto"
    threads: int | None = None
    log_every: int = 10
    val_every: int = 1
    ckpt_every: int = 0
    sync_report: bool = False
    quiet: bool = False
    model: B2FNetConfig = field(default_factory=B2FNetConfig)

    def validate(self) -> "TrainConfig":
        """Raise ``ConfigError`` naming the bad option; returns self."""
        if self.crop is not None and (self.crop <= 0 or self.crop % 64):
            raise ConfigError(f"--crop {self.crop}: must be a positive multiple of 64 (B2F-net has 6 levels)")
        if self.train_split == "test" or self.val_split == "test":
            which = "--train-split" if self.train_split == "test" else "--val-split"
            raise ConfigError(f"{which} test: training never reads the test split (selecting on it biases the "
                              "reported EPE); validate on the default --val-split holdout and measure the test "
                              "split with blurgen eval")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"--val-fraction {self.val_fraction}: must be between 0 and 1 (e.g. 0.05)")
        if self.crop_mode not in CROP_MODES:
            raise ConfigError(f"--crop-mode {self.crop_mode!r}: choose one of {', '.join(CROP_MODES)}")
        if self.amp not in AMP_MODES:
            raise ConfigError(f"--amp {self.amp!r}: choose one of {', '.join(AMP_MODES)}")
        if self.loss_direction not in LOSS_DIRECTIONS:
            raise ConfigError(f"--loss-direction {self.loss_direction!r}: choose {' or '.join(LOSS_DIRECTIONS)}")
        if self.batch_size < 1 or self.epochs < 1:
            raise ConfigError("--batch-size and --epochs must be at least 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError("--max-steps must be at least 1")
        if self.val_every < 1:
            raise ConfigError("--val-every must be at least 1")
        if self.lr <= 0:
            raise ConfigError(f"--lr {self.lr}: must be positive")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"--device {self.device!r}: choose auto, cpu or cuda")
        if self.model.width <= 0:
            raise ConfigError(f"--width {self.model.width}: must be positive")
        if self.max_label_epe is not None and not self.max_label_epe > 0:
            raise ConfigError(f"--max-label-epe {self.max_label_epe}: must be a positive number of pixels")
        if self.uncertainty_weight is not None and not self.uncertainty_weight > 0:
            raise ConfigError(f"--uncertainty-weight {self.uncertainty_weight}: must be a positive number of pixels")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["milestones"] = list(self.milestones)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["model"] = B2FNetConfig.from_dict(kw.get("model") or {})
        if "milestones" in kw:
            kw["milestones"] = tuple(int(m) for m in kw["milestones"])
        if "betas" in kw:
            kw["betas"] = tuple(float(b) for b in kw["betas"])
        return cls(**kw)


def apply_preset(cfg: TrainConfig, name: str | None) -> TrainConfig:
    """A copy of ``cfg`` with the schedule (epochs, lr, milestones, gamma) of preset ``name``."""
    if name is None or name == "none":
        return replace(cfg, preset=None)
    if name not in PRESETS:
        raise ConfigError(f"--preset {name!r}: choose one of {', '.join(PRESETS)}")
    p = PRESETS[name]
    return replace(cfg, preset=name, epochs=p.epochs, lr=p.lr, milestones=p.milestones, lr_gamma=p.lr_gamma)


def defaults(cls: type = TrainConfig) -> dict[str, Any]:
    """Every field of the dataclass ``cls`` that has a default, with it (a factory is called):
    the defaults the CLI shows and uses."""
    out = {}
    for f in fields(cls):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


def loader_workers(workers: int | None, device_type: str) -> int:
    """DataLoader processes: ``workers``, or for None ``CUDA_WORKERS`` on CUDA and 0 elsewhere."""
    if workers is not None:
        return workers
    return CUDA_WORKERS if device_type == "cuda" else 0
