"""Wiring: each function's adapters, built from its settings once per container, handed to its
use case."""
