"""Injected failures of the next N calls to one operation.

A fault answers an error status with the exception botocore expects for it (429
ThrottlingException, 500 InternalServerException, 503 ServiceUnavailableException, 400
ValidationException, 403 AccessDeniedException, 404 ResourceNotFoundException; or a named
exception). With `after_effect` the call is carried out first and then answers the error, as a
create whose answer was lost on the way: the job exists, and a retry with the same
clientRequestToken must find it rather than make a second one.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from batchdrop_local.bedrock_emulator.errors import CODE_OF, STATUS_OF, BedrockError

OPERATIONS = ("create", "get", "list", "stop", "invoke")
"""CreateModelInvocationJob, GetModelInvocationJob, ListModelInvocationJobs, StopModelInvocationJob
(the `bedrock` client) and InvokeModel (the `bedrock-runtime` client)."""
OPERATION_NAMES = {
    "create": "CreateModelInvocationJob",
    "get": "GetModelInvocationJob",
    "list": "ListModelInvocationJobs",
    "stop": "StopModelInvocationJob",
    "invoke": "InvokeModel",
}


@dataclass(frozen=True)
class Fault:
    status: int
    code: str
    after_effect: bool = False

    def error(self, operation: str) -> BedrockError:
        when = " after the call took effect" if self.after_effect else ""
        message = f"Injected fault on {OPERATION_NAMES[operation]}{when} (emulated)"
        return BedrockError(self.code, message, self.status)

    def describe(self, remaining: int) -> dict[str, object]:
        return {
            "status": self.status,
            "code": self.code,
            "after_effect": self.after_effect,
            "remaining": remaining,
        }


class FaultPlan:
    """Per-operation queues of (fault, calls left), oldest first; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[tuple[Fault, list[int]]]] = {name: deque() for name in OPERATIONS}

    def add(
        self,
        operation: object,
        status: object = None,
        count: object = 1,
        after_effect: object = False,
        code: object = None,
    ) -> None:
        """Queue `count` failures of `operation`; give `status`, `code` or both. ValueError if invalid."""
        if operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {', '.join(OPERATIONS)}, got {operation!r}")
        if code is not None and (not isinstance(code, str) or not code):
            raise ValueError(f"code must be an exception name, got {code!r}")
        if status is None:
            if code is None:
                raise ValueError("give a status (e.g. 429, 500) or an exception code")
            status = STATUS_OF.get(str(code), 400)
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (400..599), got {status!r}")
        if code is None:
            code = CODE_OF.get(status, "InternalServerException" if status >= 500 else "ValidationException")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        if not isinstance(after_effect, bool):
            raise ValueError(f"after_effect must be true or false, got {after_effect!r}")
        with self._lock:
            self._queues[str(operation)].append((Fault(status, str(code), after_effect), [count]))

    def take(self, operation: str) -> Fault | None:
        """The fault this call to `operation` suffers, or None."""
        with self._lock:
            queue = self._queues[operation]
            if not queue:
                return None
            fault, remaining = queue[0]
            remaining[0] -= 1
            if remaining[0] == 0:
                queue.popleft()
            return fault

    def clear(self) -> None:
        with self._lock:
            for queue in self._queues.values():
                queue.clear()

    def pending(self) -> dict[str, list[dict[str, object]]]:
        with self._lock:
            return {
                operation: [fault.describe(remaining[0]) for fault, remaining in queue]
                for operation, queue in self._queues.items()
            }
