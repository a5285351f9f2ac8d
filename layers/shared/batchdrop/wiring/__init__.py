"""Wiring: each function's adapters, made once per container, handed to its use case."""
