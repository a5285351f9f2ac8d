"""Injected failures: the next N calls to an endpoint answer a chosen HTTP error status."""

from __future__ import annotations

import threading
from collections import deque

ENDPOINTS = ("create", "retrieve", "list", "cancel", "delete", "results")


class FaultPlan:
    """Per-endpoint queue of (status, remaining calls); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[list[int]]] = {endpoint: deque() for endpoint in ENDPOINTS}

    def add(self, endpoint: object, status: object, count: object = 1) -> None:
        """Queue `count` failures with `status` (400..599) for `endpoint`; ValueError if invalid."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}, got {endpoint!r}")
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (400..599), got {status!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        with self._lock:
            self._queues[str(endpoint)].append([status, count])

    def take(self, endpoint: str) -> int | None:
        """The status the current call to `endpoint` must answer, or None to serve it normally."""
        with self._lock:
            queue = self._queues[endpoint]
            if not queue:
                return None
            status = queue[0][0]
            queue[0][1] -= 1
            if queue[0][1] == 0:
                queue.popleft()
            return status

    def pending(self) -> dict[str, list[dict[str, int]]]:
        """Faults still queued, per endpoint, oldest first."""
        with self._lock:
            return {
                endpoint: [{"status": status, "remaining": remaining} for status, remaining in queue]
                for endpoint, queue in self._queues.items()
            }
