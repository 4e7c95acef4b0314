"""B2F-net: one module per box of the paper's Fig. 2 (encoder, decoder, estimator,
correlation, context), the assembled network in ``net`` and its switches in ``config``.

``B2FNetConfig`` is imported here directly; the network (``B2FNet``, ``count_parameters``,
``pad_to_multiple``) is loaded from ``net`` on first use, because it needs torch and the
config alone must stay light (``blurgen train --help`` reads its defaults).
"""

import importlib

from blurgen.models.b2fnet.config import B2FNetConfig

__all__ = ["B2FNet", "B2FNetConfig", "count_parameters", "pad_to_multiple"]
_FROM_NET = ("B2FNet", "count_parameters", "pad_to_multiple")


def __getattr__(name: str):
    if name in _FROM_NET:
        return getattr(importlib.import_module("blurgen.models.b2fnet.net"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
