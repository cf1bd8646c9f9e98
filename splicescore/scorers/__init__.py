"""Variant scoring from model outputs (pure numpy; one module per model)."""
