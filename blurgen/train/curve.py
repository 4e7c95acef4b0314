"""The training curve of a run, from its TensorBoard logs (``RUN/tb``): the loss at every
logged step, and the validation EPE per epoch next to the zero-flow EPE of the same samples,
with the validation that selected ``best.pt`` marked.

``read_curve(run)`` returns the logged numbers, ``curve_image(curve)`` draws them
(matplotlib, Agg), ``write_curve(run, png)`` does both. A resumed run's logs count once: the
trainer hides what a stopped run logged after its ``last.pt`` (``purge_step``), and the
reader honours that.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from blurgen.errors import InputError
from blurgen.io.frames import write_image

# what the trainer logs (trainer.py: _train_step, _validate_and_save)
TAGS = {"loss": "train/loss", "val_epe": "val/epe_min", "val_zero": "val/zero_epe_min", "val_epoch": "val/epoch"}


def read_curve(run: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """``{"loss", "val_epe", "val_zero", "val_epoch"}``: (optimiser step, value) pairs in the
    order they were logged (``TAGS``; EPE in pixels). A tag the logs lack gives [] (a run
    without validation; ``val_epoch`` in runs made before it was logged)."""
    tb = Path(run) / "tb"
    if not tb.is_dir() or not any(tb.glob("events.out.tfevents.*")):
        raise InputError(tb, "no TensorBoard logs here", "give the --out folder of a blurgen train run")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tb), size_guidance={"scalars": 0})  # 0: keep every point
    acc.Reload()
    have = set(acc.Tags().get("scalars", []))
    return {name: [(int(e.step), float(e.value)) for e in acc.Scalars(tag)] if tag in have else []
            for name, tag in TAGS.items()}


def best_validation(curve: dict) -> tuple[int, float] | None:
    """(index into ``curve["val_epe"]``, EPE) of the lowest finite validation EPE, the first
    one on ties (the trainer's rule for ``best.pt``); None without validation."""
    vals = [(v, i) for i, (_, v) in enumerate(curve["val_epe"]) if math.isfinite(v)]
    if not vals:
        return None
    v, i = min(vals)
    return i, v


def _val_x(curve: dict) -> tuple[list[float], str]:
    """x of the validation points: their epoch when logged, else their step."""
    epochs = dict(curve["val_epoch"])
    steps = [s for s, _ in curve["val_epe"]]
    if steps and all(s in epochs for s in steps):
        return [epochs[s] for s in steps], "epoch"
    return steps, "step"


def curve_image(curve: dict, width: int = 800, height: int = 300) -> np.ndarray:
    """(height, width, 3) uint8 RGB: the loss per logged step (left) and the validation EPE
    per epoch with the zero-flow EPE and ``best.pt``'s validation marked (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_l, ax_v) = plt.subplots(1, 2, figsize=(width / 100, height / 100), dpi=100)
    steps, loss = zip(*curve["loss"]) if curve["loss"] else ((), ())
    ax_l.plot(steps, loss, ".-", color="#3b6ea5", lw=1, ms=3)
    ax_l.set(xlabel="step", ylabel="loss", title="training loss (logged steps)")
    _plot_validation(ax_v, curve)
    for ax in (ax_l, ax_v):
        ax.title.set_fontsize(9)
        ax.tick_params(labelsize=7)
        ax.xaxis.label.set_fontsize(8)
        ax.yaxis.label.set_fontsize(8)
    fig.tight_layout()
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return img


def _plot_validation(ax, curve: dict) -> None:
    """The right panel: validation EPE and zero-flow EPE against epoch (or step)."""
    if not curve["val_epe"]:
        ax.text(0.5, 0.5, "no validation in this run", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    x, unit = _val_x(curve)
    ax.plot(x, [v for _, v in curve["val_epe"]], "o-", color="#c0392b", lw=1, ms=3, label="model")
    zero = dict(curve["val_zero"])
    if zero:
        ax.plot(x, [zero.get(s, math.nan) for s, _ in curve["val_epe"]], "--", color="grey", lw=1,
                label="zero flow")
    best = best_validation(curve)
    if best is not None:
        i, v = best
        ax.plot([x[i]], [v], "*", color="black", ms=10, label=f"best.pt: {unit} {x[i]:g}, {v:.2f} px")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel=unit, ylabel="EPE min (px)", title=f"validation EPE per {unit}")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)


def write_curve(run: str | os.PathLike, png: str | os.PathLike, width: int = 800, height: int = 300) -> Path:
    """``curve_image(read_curve(run))`` as a PNG at ``png`` (written atomically)."""
    write_image(png, curve_image(read_curve(run), width, height))
    return Path(png)
