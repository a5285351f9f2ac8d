"""Use cases: what the functions do, written against the ports (batchdrop.ports)."""
