"""Wiring: each function's adapters built from its settings and handed to its use case."""
