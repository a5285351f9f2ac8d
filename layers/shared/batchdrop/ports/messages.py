"""Telling people (the notifier) and other systems (the job event bus)."""

from __future__ import annotations

from typing import Any, Protocol

EVENT_SOURCE = "batchdrop"
BATCH_ENDED = "Batch Ended"
JOB_COMPLETED = "Job Completed"


class EventNotDelivered(RuntimeError):
    """The bus accepted the call but not the entry."""


class Notifier(Protocol):
    def publish(self, subject: str, message: dict[str, Any]) -> str:
        """Publish; returns the message id."""
        ...


class EventBus(Protocol):
    def emit(self, detail_type: str, detail: dict[str, Any]) -> None:
        """Put one event on the bus; EventNotDelivered when it was not taken."""
        ...
