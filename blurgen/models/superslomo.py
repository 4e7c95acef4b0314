"""Super-SloMo (Jiang et al., CVPR 2018) as the public PyTorch port lays it out.

Two U-Nets with the port's parameter names, so its checkpoints load strictly:

- ``flow_net`` = ``UNet(6, 4)``: input ``[I0, I1]``, output ``[F_0->1, F_1->0]``;
- ``interp_net`` = ``UNet(20, 5)``: input ``[I0, I1, F_0->1, F_1->0, F_t->1, F_t->0,
  warp(I1, F_t->1), warp(I0, F_t->0)]``, output residuals for ``F_t->0`` (channels 0:2)
  and ``F_t->1`` (2:4) and the visibility logit of frame 0 (4).

Tensors are ``(B, C, H, W)`` float32; images are RGB in [0, 1] minus :data:`MEAN`; flows
are pixels, channel 0 = x. H and W must be multiples of 32 (:func:`pad_to_multiple`).
The checkpoint of the port is a dict with ``state_dictFC`` (flow net) and
``state_dictAT`` (interpolation net); :func:`load_checkpoint` reads it.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from blurgen.errors import InputError
from blurgen.models import padding
from blurgen.utils import load_refusal

MEAN = (0.429, 0.431, 0.397)  # RGB mean subtracted from [0, 1] images; std is 1
MULTIPLE = 32  # five 2x poolings
_SLOPE = 0.1  # LeakyReLU slope, output layer included


class _Down(nn.Module):
    """2x2 average pool, then two ``k x k`` convolutions with LeakyReLU."""

    def __init__(self, cin: int, cout: int, k: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, k, padding=k // 2)
        self.conv2 = nn.Conv2d(cout, cout, k, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(x, 2)
        x = F.leaky_relu(self.conv1(x), _SLOPE)
        return F.leaky_relu(self.conv2(x), _SLOPE)


class _Up(nn.Module):
    """Bilinear 2x upsampling (``align_corners=False``), conv, concat the skip, conv.

    The port calls ``F.interpolate(x, scale_factor=2, mode='bilinear')`` without
    ``align_corners``, which has meant ``False`` since PyTorch 0.4.0 (its version is 0.4.1):
    output pixel ``i`` reads input position ``(i + 0.5) / 2 - 0.5``, edges clamped. Its
    weights were trained that way, unlike the warp (:func:`backward_warp`), which is ``True``.
    """

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv2d(2 * cout, cout, 3, padding=1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = F.leaky_relu(self.conv1(x), _SLOPE)
        return F.leaky_relu(self.conv2(torch.cat([x, skip], 1)), _SLOPE)


class UNet(nn.Module):
    """The port's U-Net: ``(B, cin, H, W) -> (B, cout, H, W)``; H, W multiples of 32."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, 32, 7, padding=3)
        self.conv2 = nn.Conv2d(32, 32, 7, padding=3)
        self.down1 = _Down(32, 64, 5)
        self.down2 = _Down(64, 128, 3)
        self.down3 = _Down(128, 256, 3)
        self.down4 = _Down(256, 512, 3)
        self.down5 = _Down(512, 512, 3)
        self.up1 = _Up(512, 512)
        self.up2 = _Up(512, 256)
        self.up3 = _Up(256, 128)
        self.up4 = _Up(128, 64)
        self.up5 = _Up(64, 32)
        self.conv3 = nn.Conv2d(32, cout, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv1(x), _SLOPE)
        s1 = F.leaky_relu(self.conv2(x), _SLOPE)   # H
        s2 = self.down1(s1)                         # H/2
        s3 = self.down2(s2)                         # H/4
        s4 = self.down3(s3)                         # H/8
        s5 = self.down4(s4)                         # H/16
        x = self.down5(s5)                          # H/32
        x = self.up1(x, s5)
        x = self.up2(x, s4)
        x = self.up3(x, s3)
        x = self.up4(x, s2)
        x = self.up5(x, s1)
        return F.leaky_relu(self.conv3(x), _SLOPE)


def backward_warp(img: torch.Tensor, flow: torch.Tensor, *, exact: bool = False) -> torch.Tensor:
    """``out[p] = img[p + flow[p]]``, bilinear (``grid_sample``, ``align_corners=True``).

    img ``(B, C, H, W)``, flow ``(B, 2, H, W)`` pixels. The port normalises a pixel
    coordinate x as ``2 (x / W - 0.5)`` (so zero flow shrinks the image by ``(W - 1) / W``
    about the top-left corner); its weights were trained that way, so that is the default.
    ``exact=True`` uses ``2 x / (W - 1) - 1``, for which zero flow is the identity.
    """
    b, _, h, w = img.shape
    ys = torch.arange(h, device=img.device, dtype=img.dtype).view(1, h, 1)
    xs = torch.arange(w, device=img.device, dtype=img.dtype).view(1, 1, w)
    x = xs + flow[:, 0]
    y = ys + flow[:, 1]
    if exact:
        gx = 2.0 * x / max(w - 1, 1) - 1.0
        gy = 2.0 * y / max(h - 1, 1) - 1.0
    else:
        gx = 2.0 * (x / w - 0.5)
        gy = 2.0 * (y / h - 0.5)
    grid = torch.stack([gx, gy], dim=3)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def intermediate_flows(f01: torch.Tensor, f10: torch.Tensor, t: torch.Tensor):
    """``F_t->0 = -t(1-t) F01 + t^2 F10`` and ``F_t->1 = (1-t)^2 F01 - t(1-t) F10``.

    f01, f10 ``(B, 2, H, W)``; t ``(B, 1, 1, 1)``. Returns ``(f_t0, f_t1)``.
    """
    ft0 = -t * (1 - t) * f01 + t * t * f10
    ft1 = (1 - t) * (1 - t) * f01 - t * (1 - t) * f10
    return ft0, ft1


def blend(g0: torch.Tensor, g1: torch.Tensor, v0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Frame t from the two warped frames: ``((1-t) V0 g0 + t V1 g1) / ((1-t) V0 + t V1)``.

    g0 = warp(I0, F_t->0), g1 = warp(I1, F_t->1) ``(B, 3, H, W)``; v0 = visibility of
    frame 0 ``(B, 1, H, W)`` in (0, 1), ``V1 = 1 - V0``; t ``(B, 1, 1, 1)``.
    """
    w0 = (1 - t) * v0
    w1 = t * (1 - v0)
    return (w0 * g0 + w1 * g1) / (w0 + w1)


class SuperSloMo(nn.Module):
    """Both networks and the interpolation step."""

    def __init__(self):
        super().__init__()
        self.flow_net = UNet(6, 4)
        self.interp_net = UNet(20, 5)

    def flows(self, i0: torch.Tensor, i1: torch.Tensor):
        """``(F_0->1, F_1->0)`` each ``(B, 2, H, W)`` from normalised frames ``(B, 3, H, W)``."""
        out = self.flow_net(torch.cat([i0, i1], 1))
        return out[:, :2], out[:, 2:4]

    def interpolate(self, i0: torch.Tensor, i1: torch.Tensor, f01: torch.Tensor, f10: torch.Tensor,
                    times: Sequence[float]) -> torch.Tensor:
        """Frames at ``times`` in one batched pass: ``(T, 3, H, W)`` (normalised, like the input).

        i0, i1 ``(1, 3, H, W)``; f01, f10 ``(1, 2, H, W)`` from :meth:`flows`.
        """
        n = len(times)
        t = torch.as_tensor(list(times), dtype=i0.dtype, device=i0.device).view(n, 1, 1, 1)
        i0n, i1n = i0.expand(n, -1, -1, -1), i1.expand(n, -1, -1, -1)
        f01n, f10n = f01.expand(n, -1, -1, -1), f10.expand(n, -1, -1, -1)
        ft0, ft1 = intermediate_flows(f01n, f10n, t)
        g0 = backward_warp(i0n, ft0)
        g1 = backward_warp(i1n, ft1)
        out = self.interp_net(torch.cat([i0n, i1n, f01n, f10n, ft1, ft0, g1, g0], 1))
        ft0 = ft0 + out[:, 0:2]
        ft1 = ft1 + out[:, 2:4]
        v0 = torch.sigmoid(out[:, 4:5])
        return blend(backward_warp(i0n, ft0), backward_warp(i1n, ft1), v0, t)


def pad_to_multiple(x: torch.Tensor, multiple: int = MULTIPLE) -> tuple[torch.Tensor, tuple[int, int]]:
    """``padding.pad_to_multiple`` with Super-SloMo's multiple (32) as the default: returns
    ``(padded, (H, W))``; crop the result back with ``y[..., :H, :W]``."""
    return padding.pad_to_multiple(x, multiple)


# ----------------------------------------------------------------------------- checkpoints
CHECKPOINT_KEYS = ("state_dictFC", "state_dictAT")
TRUST_HINT = ("the file must come from a trusted source: loading it runs pickle; "
              "pass --trust-checkpoint to load it anyway")


def read_checkpoint(path: str | os.PathLike, *, trust: bool = False) -> dict:
    """The checkpoint dict at ``path``.

    Without ``trust`` it is read with ``torch.load(weights_only=True)``, which refuses
    anything but tensors and plain containers; the public port's file also holds a
    ``datetime`` and is then refused with an :class:`InputError` that says why and how.
    With ``trust`` it is unpickled in full (only for files from a trusted source).
    """
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise InputError(p, "Super-SloMo checkpoint not found", "give --slomo-ckpt the path of the .ckpt file")
    try:
        if trust:
            ckpt = torch.load(p, map_location="cpu", weights_only=False)
        else:
            ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise InputError(
            p,
            "checkpoint holds Python objects besides weights (the public Super-SloMo file stores a "
            f"datetime), so the safe loader torch.load(weights_only=True) refused it ({load_refusal(e)})",
            TRUST_HINT,
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise InputError(p, f"not a readable PyTorch checkpoint ({type(e).__name__}: {e})".splitlines()[0],
                         "check the file is complete (compare its sha256 with the zoo entry)") from None
    if not isinstance(ckpt, dict):
        raise InputError(p, f"checkpoint is a {type(ckpt).__name__}, expected a dict with {' and '.join(CHECKPOINT_KEYS)}")
    return ckpt


def load_state(model: SuperSloMo, ckpt: dict, source: str = "<checkpoint>") -> SuperSloMo:
    """Load the port's two state dicts into ``model`` strictly: every key, every shape."""
    missing_top = [k for k in CHECKPOINT_KEYS if k not in ckpt]
    if missing_top:
        raise InputError(source, f"not a Super-SloMo checkpoint: missing {', '.join(missing_top)} "
                         f"(found keys: {', '.join(map(str, ckpt))})")
    for top, net in (("state_dictFC", model.flow_net), ("state_dictAT", model.interp_net)):
        sd = ckpt[top]
        if not isinstance(sd, dict):
            raise InputError(source, f"{top} is a {type(sd).__name__}, expected a state dict")
        # Accept names saved from a DataParallel model ("module.conv1.weight").
        sd = {(k[7:] if isinstance(k, str) and k.startswith("module.") else k): v for k, v in sd.items()}
        own = net.state_dict()
        missing = sorted(set(own) - set(sd))
        extra = sorted(set(sd) - set(own))
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(f'{top}.{k}' for k in missing)}")
            if extra:
                parts.append(f"unexpected {', '.join(f'{top}.{k}' for k in extra)}")
            raise InputError(source, "Super-SloMo checkpoint does not match the network: " + "; ".join(parts))
        for k, v in sd.items():
            if not isinstance(v, torch.Tensor) or tuple(v.shape) != tuple(own[k].shape):
                shape = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
                raise InputError(source, f"{top}.{k} has shape {shape}, the network expects {tuple(own[k].shape)}")
        net.load_state_dict(sd, strict=True)
    return model


def load_checkpoint(path: str | os.PathLike, *, trust: bool = False, device: str | torch.device = "cpu") -> SuperSloMo:
    """A :class:`SuperSloMo` in eval mode with the weights of the port's checkpoint at ``path``."""
    model = SuperSloMo()
    load_state(model, read_checkpoint(path, trust=trust), os.fspath(path))
    return model.eval().to(device)


def save_checkpoint(path: str | os.PathLike, model: SuperSloMo, **extra) -> None:
    """Write ``model`` in the port's format (``state_dictFC``, ``state_dictAT`` + ``extra``)."""
    torch.save({"state_dictFC": model.flow_net.state_dict(), "state_dictAT": model.interp_net.state_dict(), **extra},
               os.fspath(path))
