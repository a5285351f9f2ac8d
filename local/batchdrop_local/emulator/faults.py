"""Injected failures for the next N calls to an endpoint.

Two kinds:
- an error status: the call answers that HTTP error (400..599) with a matching error body and
  does nothing else; or, with ``after_effect``, the call is carried out first (a create makes its
  batch and counts its requests as submitted, a cancel cancels) and then answers the error, as a
  gateway that gives up on a slow backend does (500, 502, 504, 529);
- a cut: the call takes effect and its answer starts normally (status line, headers, the first
  part of the body), then the connection is closed before the body is complete. On the results
  stream the first ``after_lines`` result lines arrive whole, then half of the next one; on the
  other endpoints half of the JSON body arrives (a cut create has still created its batch: the
  answer, not the work, is lost).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

ENDPOINTS = (
    "create",
    "retrieve",
    "list",
    "cancel",
    "delete",
    "results",
    "list_models",
    "retrieve_model",
    "count_tokens",
)


@dataclass(frozen=True)
class Fault:
    """What one faulted call does: answer `status` (after carrying the call out if
    `after_effect`), or (status None) carry it out and cut its answer short."""

    status: int | None = None
    cut_after_lines: int = 0
    after_effect: bool = False

    @property
    def is_cut(self) -> bool:
        return self.status is None

    @property
    def acts_first(self) -> bool:
        """Whether the call takes effect before its answer goes wrong."""
        return self.is_cut or self.after_effect

    def describe(self, remaining: int) -> dict[str, int | bool]:
        if self.is_cut:
            return {"cut_after_lines": self.cut_after_lines, "remaining": remaining}
        if self.after_effect:
            return {"status": int(self.status or 0), "after_effect": True, "remaining": remaining}
        return {"status": int(self.status or 0), "remaining": remaining}


def _check_count(count: object) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    return count


def _check_endpoint(endpoint: object) -> str:
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}, got {endpoint!r}")
    return str(endpoint)


class FaultPlan:
    """Per-endpoint queue of (fault, remaining calls), served oldest first; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Each entry: the fault and a one-item list holding how many calls it still applies to.
        self._queues: dict[str, deque[tuple[Fault, list[int]]]] = {name: deque() for name in ENDPOINTS}

    def add(self, endpoint: object, status: object, count: object = 1, after_effect: object = False) -> None:
        """Queue `count` failures with `status` (400..599) for `endpoint`, each after the call took
        effect if `after_effect`; ValueError if invalid."""
        name = _check_endpoint(endpoint)
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (400..599), got {status!r}")
        if not isinstance(after_effect, bool):
            raise ValueError(f"after_effect must be true or false, got {after_effect!r}")
        self._append(name, Fault(status=status, after_effect=after_effect), _check_count(count))

    def add_cut(self, endpoint: object, count: object = 1, after_lines: object = 0) -> None:
        """Queue `count` cut answers for `endpoint` (see the module docstring); ValueError if invalid."""
        name = _check_endpoint(endpoint)
        if isinstance(after_lines, bool) or not isinstance(after_lines, int) or after_lines < 0:
            raise ValueError(f"cut_after_lines must be a non-negative integer, got {after_lines!r}")
        self._append(name, Fault(cut_after_lines=after_lines), _check_count(count))

    def _append(self, endpoint: str, fault: Fault, count: int) -> None:
        with self._lock:
            self._queues[endpoint].append((fault, [count]))

    def take(self, endpoint: str) -> Fault | None:
        """The fault the current call to `endpoint` must suffer, or None to serve it normally."""
        with self._lock:
            queue = self._queues[endpoint]
            if not queue:
                return None
            fault, remaining = queue[0]
            remaining[0] -= 1
            if remaining[0] == 0:
                queue.popleft()
            return fault

    def clear(self) -> None:
        """Forget every fault still queued."""
        with self._lock:
            for queue in self._queues.values():
                queue.clear()

    def pending(self) -> dict[str, list[dict[str, int | bool]]]:
        """Faults still queued, per endpoint, oldest first."""
        with self._lock:
            return {
                endpoint: [fault.describe(remaining[0]) for fault, remaining in queue]
                for endpoint, queue in self._queues.items()
            }
