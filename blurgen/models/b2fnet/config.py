"""B2F-net's architecture switches (``B2FNetConfig``), apart from the network so that
reading them (``blurgen train --help``, ``TrainConfig``) does not import torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

# Correlation implementations (correlation.py): "auto" picks one by feature-map width.
CORR_IMPLS = ("auto", "shift", "matmul", "reference", "sampler")


@dataclass
class B2FNetConfig:
    """Architecture switches; saved in checkpoints as a plain dict.

    width: multiplier of every channel width; stn / refine: the decoder's STN and refining
    block (off = the paper's Table 3 ablations); max_disp: correlation search range (px at
    each level); div_flow: internal flow scale (network units = pixels / div_flow);
    corr_impl: correlation implementation, one of ``CORR_IMPLS`` (see correlation.py).
    """

    width: float = 1.0
    stn: bool = True
    refine: bool = True
    max_disp: int = 4
    div_flow: float = 20.0
    corr_impl: str = "auto"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "B2FNetConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
