"""Conversion of the official weight files into splicescore state dicts (one module per format)."""
