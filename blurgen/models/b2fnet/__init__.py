"""B2F-net: one module per box of the paper's Fig. 2 (encoder, decoder, estimator,
correlation, context) and the assembled network in ``net``."""

from blurgen.models.b2fnet.net import B2FNet, B2FNetConfig, count_parameters, pad_to_multiple

__all__ = ["B2FNet", "B2FNetConfig", "count_parameters", "pad_to_multiple"]
