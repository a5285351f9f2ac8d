"""The batch backend port: create, watch, cancel and read back a batch of requests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from batchdrop.domain.models import ModelFacts


class BatchMayExist(RuntimeError):
    """Creating a batch failed in a way that does not tell whether the batch exists: a dropped
    connection, a timeout, or a 5xx/408/409 that a gateway may have sent after the API acted."""


class BatchRefused(RuntimeError):
    """The API answered that it did not create the batch and may later: 429 (the organisation's
    batch queue is full, or a rate limit). ``retry_after`` is the wait it asked for, in seconds."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BatchRejected(RuntimeError):
    """The API refused the batch for good (400, 401, 403, 404, 413): no batch, and sending the
    same requests again would be refused again."""


@dataclass(frozen=True)
class BatchInfo:
    """What batchdrop needs of a MessageBatch, free of SDK types."""

    id: str
    processing_status: str
    request_counts: dict[str, int]
    created_at: str
    expires_at: str
    ended_at: str | None
    archived_at: str | None = None

    @property
    def ended(self) -> bool:
        return self.processing_status == "ended"

    @property
    def requests(self) -> int:
        return sum(self.request_counts.values())


class BatchBackend(Protocol):
    """What the use cases need of a batch API (adapters.anthropic_backend.MessageBatches)."""

    def create(self, requests: list[dict[str, Any]]) -> BatchInfo: ...

    def retrieve(self, batch_id: str) -> BatchInfo: ...

    def cancel(self, batch_id: str) -> BatchInfo | None: ...

    def created_since(self, since: datetime) -> Iterator[BatchInfo]: ...

    def results(self, batch_id: str) -> Iterator[tuple[str, dict[str, Any]]]: ...


class ModelsApi(Protocol):
    """The Models API: what a model is and can do (None: no such model)."""

    def model(self, model_id: str) -> ModelFacts | None: ...

    def models(self) -> list[ModelFacts]: ...
