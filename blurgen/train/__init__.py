"""Training, evaluation and prediction of B2F-net: losses, metrics, trainer, checkpoints."""
