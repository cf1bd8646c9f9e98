"""splicescore: variant-effect scoring with batched PyTorch ports of published splicing models."""

__version__ = "0.1.0"
