"""Shared pieces every model uses: variants and skip reasons, the scorer base, sequence encoding."""
