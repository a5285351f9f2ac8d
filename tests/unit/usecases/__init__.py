"""Use-case unit tests against the in-memory fakes of the ports (tests/fakes.py)."""
