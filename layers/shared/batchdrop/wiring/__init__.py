"""Wiring: what each handler builds its use case's context from (adapters onto ports), and
what it reports (metrics). Clients are made on first use, not at a cold start."""
