"""Learned flow estimators through ptlflow (PWC-Net, FlowNet2, FastFlowNet, ... by name).

ptlflow (and torch) are imported only when a learned estimator is built. Checkpoints are
resolved offline: a local file, or a ptlflow checkpoint name (``things``, ``sintel``, ...)
looked up by its release file name in the zoo's weights folder (``model_zoo/weights/``,
or ``$BLURGEN_ZOO/weights``) and then in ``$TORCH_HOME/hub/checkpoints/``. Nothing here
downloads (``blurgen zoo fetch`` does, when asked). The hex digits in a release file's name
must start its sha256; where the zoo holds the file's full sha256 (in the registry, or pinned
on first download), the file must match it.

ptlflow's contract: input ``{"images": B x 2 x 3 x H x W}`` float in [0, 1], BGR; output
``out["flows"]`` ``B x 1 x 2 x H x W`` in pixels (dx, dy), any H and W.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np

from blurgen.errors import ConfigError, InputError
from blurgen.flow.base import FlowEstimator
from blurgen.utils import file_sha256, load_refusal
from blurgen.zoo import check_digest, entry_for_file, load_registry, weights_dir

RANDOM = "random"  # checkpoint value that means "random weights" (timing and tests only)
DEFAULT_CKPT = "things"  # the paper's PWC-Net / FlowNet2 were trained on FlyingThings3D

_NETS: dict[tuple[str, str, str], Any] = {}  # (model, checkpoint path, device) -> network
_SHA_OK: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256 hex


def _ptlflow():
    """Import ptlflow, keeping its import-time chatter (missing optional kernels) quiet."""
    import sys

    if "ptlflow" in sys.modules:
        return sys.modules["ptlflow"]
    import contextlib
    import io
    import warnings

    try:
        quiet = io.StringIO()
        with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            warnings.simplefilter("ignore")
            import ptlflow
    except ImportError as e:  # pragma: no cover - ptlflow is a dependency
        raise ConfigError(f"learned flow estimators need ptlflow ({e}); pip install ptlflow") from None
    return ptlflow


def pretrained_checkpoints(model: str) -> dict[str, str]:
    """ptlflow's checkpoint names of ``model`` -> release URL (empty when it has none)."""
    ptlflow = _ptlflow()
    try:
        ref = ptlflow.get_model_reference(model)
    except ValueError:
        raise ConfigError(
            f"unknown flow model {model!r}: not a classical estimator nor a ptlflow model "
            "(classical: dis, dis-fast, dis-ultrafast, farneback, zero; ptlflow: pwcnet, flownet2, "
            "fastflownet, raft_small, ...; see ptlflow.get_model_names())"
        ) from None
    return dict(getattr(ref, "pretrained_checkpoints", {}) or {})


def weight_dirs() -> list[Path]:
    """Folders searched for a checkpoint given by name, in order.

    The zoo's weights folder (``blurgen.zoo.weights_dir()``: ``$BLURGEN_ZOO/weights``, else
    the checkout's ``model_zoo/weights``, else ``~/.cache/blurgen/model_zoo/weights``), then
    torch's hub cache
    (``$TORCH_HOME/hub/checkpoints``), where ptlflow itself would look.
    """
    import torch


    dirs = [weights_dir(), Path(torch.hub.get_dir()) / "checkpoints"]
    seen, out = set(), []
    for d in dirs:
        key = os.path.normcase(os.path.abspath(d))
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _zoo_name(model: str, ckpt: str) -> str | None:
    """The zoo registry's name for a ptlflow checkpoint (``pwcnet-things``), if it has one."""
    try:

        for entry in load_registry().values():
            if entry.kind == "ptlflow" and entry.model == model and entry.ptlflow_ckpt == ckpt:
                return entry.name
    except Exception:  # the registry only improves the hint; never fail on it here
        return None
    return None


def _sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SHA_OK:
        _SHA_OK[key] = file_sha256(path)
    return _SHA_OK[key]


def _check_hash_in_name(path: Path, url: str) -> None:
    """torch.hub naming: ``name-<first hex digits of sha256>.ext``; refuse a mismatch."""
    m = re.search(r"-([a-f0-9]{6,})\.", path.name)
    if not m:
        return
    digest = _sha256(path)
    if not digest.startswith(m.group(1)):
        raise InputError(
            path,
            f"sha256 starts with {digest[:len(m.group(1))]} but the file name says {m.group(1)}: "
            "a partial download or a different file",
            f"download it again from {url}",
        )


def _check_zoo_digest(path: Path) -> None:
    """The full sha256 the zoo holds for this file name (the registry's, or the one pinned on
    first download by ``blurgen zoo fetch``); refuse a mismatch. No entry or no full digest: no check."""

    entry = entry_for_file(path.name)
    if entry is None or not entry.sha256:
        return
    problem = check_digest(entry, path, _sha256(path))
    if problem:
        fix = f"`blurgen zoo fetch {entry.name} --force` downloads it again" if entry.url else \
            f"get it again from {entry.source or 'its source'}"
        raise InputError(path, problem, fix)


def resolve_checkpoint(model: str, ckpt: str | os.PathLike | None) -> Path | None:
    """The weights file for ``model``, found offline; None means random weights.

    Args:
        model: a ptlflow model name (``pwcnet``, ``flownet2``, ...).
        ckpt: None (the model's ``things`` checkpoint), ``"random"`` (random weights:
            timing and tests only), a ptlflow checkpoint name (``things``, ``sintel``, ...)
            or a path to a file holding ``{"state_dict": ...}``.

    Raises:
        InputError: a named checkpoint is not on this machine (the message says which file
            to get and where to put it), a given file does not exist, or its sha256 does not
            match the hash in its name.
        ConfigError: the model or checkpoint name is unknown.
    """
    names = pretrained_checkpoints(model)  # also validates the model name
    if ckpt is None:
        if DEFAULT_CKPT not in names:
            choices = ", ".join(sorted(names)) or "none published"
            raise ConfigError(
                f"flow model {model} has no '{DEFAULT_CKPT}' checkpoint; pass a checkpoint "
                f"({choices}) or a file"
            )
        ckpt = DEFAULT_CKPT
    ckpt_s = os.fspath(ckpt)
    if ckpt_s == RANDOM:
        return None
    path = Path(ckpt_s).expanduser()
    if path.is_file():
        return path.resolve()
    if ckpt_s not in names:
        if path.exists():
            raise InputError(path, "checkpoint is not a file")
        if os.sep in ckpt_s or "/" in ckpt_s or path.suffix in (".ckpt", ".pt", ".pth", ".tar"):
            raise InputError(path, "checkpoint file not found", "check the path")
        choices = ", ".join(sorted(names)) or "none published"
        raise ConfigError(
            f"unknown checkpoint {ckpt_s!r} for flow model {model}: give a file or one of "
            f"{choices} (or '{RANDOM}' for random weights)"
        )
    url = names[ckpt_s]
    fname = url.rsplit("/", 1)[-1]
    dirs = weight_dirs()
    for d in dirs:
        candidate = d / fname
        if candidate.is_file():
            _check_hash_in_name(candidate, url)
            _check_zoo_digest(candidate)
            return candidate.resolve()
    zoo_name = _zoo_name(model, ckpt_s)
    add = f"`blurgen zoo add {fname} --name {zoo_name}`" if zoo_name else "copy it there"
    fetch = f"`blurgen zoo fetch {zoo_name}` downloads it, or " if zoo_name else ""
    raise InputError(
        dirs[0] / fname,
        f"checkpoint '{ckpt_s}' of flow model {model} is not on this machine "
        f"(looked in {', '.join(str(d) for d in dirs)}); nothing downloads weights during a run",
        f"{fetch}download {url} and put it in {dirs[0]} ({add}) or in $TORCH_HOME/hub/checkpoints/; "
        "or use the classical estimator dis, which needs no weights (blurgen real --flow-model dis, "
        "blurgen flow --model dis)",
    )


def default_device() -> str:
    """``"cuda"`` when torch sees a GPU, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _load_net(model: str, path: Path | None, device: str):
    """Build a ptlflow model, load ``path`` through ptlflow, move it to ``device``, eval mode."""
    import warnings

    from loguru import logger  # ptlflow logs each restore; blurgen reports loads itself

    ptlflow = _ptlflow()
    logger.disable("ptlflow")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="ptlflow")  # jsonargparse deprecations
            net = ptlflow.get_model(model, ckpt_path=None if path is None else str(path))
    except KeyError as e:
        raise InputError(
            path, f"not a ptlflow checkpoint: no {e} entry", "save it as {'state_dict': model.state_dict()}"
        ) from None
    except pickle.UnpicklingError as e:

        raise InputError(
            path, f"refused by torch.load(weights_only=True): {load_refusal(e)}",
            "use a checkpoint that holds only tensors"
        ) from None
    except (RuntimeError, TypeError, AttributeError, ValueError, OSError, EOFError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(path, f"cannot load as {model} weights: {first}", f"use a checkpoint made for ptlflow's {model}") from None
    finally:
        logger.enable("ptlflow")
    return net.eval().to(device)


def _cached_net(model: str, path: Path | None, device: str):
    key = (model, "" if path is None else str(path), device)
    if key not in _NETS:
        _NETS[key] = _load_net(model, path, device)
    return _NETS[key]


class PtlflowEstimator(FlowEstimator):
    """A ptlflow model as a FlowEstimator.

    Args:
        model: ptlflow model name.
        ckpt: see ``resolve_checkpoint`` (None = ``things``).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; None picks the GPU when present.
        batch_size: pairs per forward pass; None = 8 on a GPU, 1 on the CPU.

    The checkpoint is resolved when the object is built; the network is loaded on the first
    ``estimate`` call in each process and cached there (the object pickles without it).
    CPU threads: torch's setting (``torch.set_num_threads``) is respected, not changed.
    """

    def __init__(
        self,
        model: str,
        ckpt: str | os.PathLike | None = None,
        device: str | None = None,
        batch_size: int | None = None,
    ):
        self.name = model
        self.checkpoint_path = resolve_checkpoint(model, ckpt)
        self.checkpoint = RANDOM if self.checkpoint_path is None else (
            DEFAULT_CKPT if ckpt is None else os.fspath(ckpt)
        )
        self.device = _check_device(device or default_device())
        self.batch_size = int(batch_size or (8 if self.device.startswith("cuda") else 1))
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {batch_size}")

    def network(self):
        """The loaded torch module (eval mode, on ``self.device``), cached per process."""
        return _cached_net(self.name, self.checkpoint_path, self.device)

    def _estimate(self, firsts, seconds, inits):
        import torch

        net = self.network()
        out = []
        for s in range(0, len(firsts), self.batch_size):
            a = np.stack(firsts[s : s + self.batch_size])[..., ::-1]  # RGB -> BGR
            b = np.stack(seconds[s : s + self.batch_size])[..., ::-1]
            x = torch.from_numpy(np.ascontiguousarray(np.stack([a, b], axis=1)))  # B,2,H,W,3 uint8
            x = x.to(self.device).permute(0, 1, 4, 2, 3).float().div_(255.0)  # B,2,3,H,W in [0,1]
            with torch.inference_mode():
                pred = net({"images": x})
            flows = pred.get("flows") if isinstance(pred, dict) else None
            if flows is None or flows.ndim != 5 or flows.shape[2] != 2:
                raise RuntimeError(f"ptlflow model {self.name} returned no B x 1 x 2 x H x W 'flows'")
            out.append(flows[:, 0].permute(0, 2, 3, 1).float().cpu().numpy())  # B,H,W,2
        flows = np.concatenate(out).astype(np.float32, copy=False)
        h, w = firsts[0].shape[:2]
        if min(h, w) <= 64 and not np.isfinite(flows).all():
            # measured with ptlflow 0.4.2: pwcnet and fastflownet return NaN everywhere at
            # 64 px, where their 1/64 level is one pixel (pure-PyTorch correlation)
            raise InputError(
                None,
                f"flow model {self.label} produced non-finite flow on {w}x{h} images, "
                "too small for its coarsest level",
                "use images larger than 64 px on each side",
            )
        return flows


def _check_device(device: str) -> str:
    import torch

    device = str(device)
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device} asked for but torch sees no CUDA GPU; use --device cpu")
    elif device not in ("cpu", "mps"):
        raise ConfigError(f"unknown device {device!r}; use cpu, cuda or cuda:N")
    return device
