"""The batch backend port: create, watch, cancel and read back a batch of requests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
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
    """What the use cases need of a batch API (adapters.anthropic_backend.MessageBatches,
    adapters.bedrock_backend.BedrockBatches)."""

    def for_job(self, job_id: str) -> BatchBackend:
        """The backend that creates the batch of this job: a Bedrock job is named, keyed and
        stored by the batchdrop job id; the Claude API's backend is itself."""
        ...

    def create(self, requests: list[dict[str, Any]]) -> BatchInfo: ...

    def retrieve(self, batch_id: str) -> BatchInfo: ...

    def cancel(self, batch_id: str) -> BatchInfo | None: ...

    def created_since(self, since: datetime) -> Iterator[BatchInfo]: ...

    def results(self, batch_id: str) -> Iterator[tuple[str, dict[str, Any]]]: ...


ANTHROPIC = "anthropic"
BEDROCK = "bedrock"
# Claude on Bedrock by InvokeModel, one request at a time at the on-demand price: a held job
# below Bedrock's minimum job size whose profile asks for it (usecases.poll.release).
BEDROCK_ON_DEMAND = "bedrock-on-demand"


class BackendUnavailable(RuntimeError):
    """A job (or a profile) names a backend this stack cannot reach: Bedrock without the
    stack's Bedrock service role, or a name no backend answers to."""


class Backends:
    """The batch backends a function can reach, by the name a job records (``backend``); each
    made on first use, once (from any thread). A backend listed in ``unavailable`` is refused
    with its reason, so a job naming it fails clearly instead of reaching the wrong API."""

    def __init__(
        self,
        makers: Mapping[str, Callable[[], BatchBackend]],
        unavailable: Mapping[str, str] | None = None,
    ) -> None:
        self._makers = dict(makers)
        self._unavailable = dict(unavailable or {})
        self._made: dict[str, BatchBackend] = {}
        self._lock = threading.Lock()

    @classmethod
    def of(cls, batches: Backends | BatchBackend | Callable[[], BatchBackend]) -> Backends:
        """Backends as given, or the Claude API's backend alone (given made, or as a factory)."""
        if isinstance(batches, Backends):
            return batches
        if callable(batches):  # a factory (no backend is itself callable)
            return cls({ANTHROPIC: batches})
        made: BatchBackend = batches
        return cls({ANTHROPIC: lambda: made})

    def unavailable(self, name: str) -> str | None:
        """Why a job may not run on ``name`` (None: it may)."""
        if name in self._unavailable:
            return self._unavailable[name]
        if name not in self._makers:
            return f"no batch backend named {name!r} (anthropic or bedrock)"
        return None

    def for_backend(self, name: str) -> BatchBackend:
        """The backend a job naming ``name`` runs on. Raises BackendUnavailable."""
        made = self._made.get(name)
        if made is not None:
            return made
        why = self.unavailable(name)
        if why is not None:
            raise BackendUnavailable(why)
        with self._lock:
            if name not in self._made:
                self._made[name] = self._makers[name]()
            return self._made[name]


class ModelsApi(Protocol):
    """The Models API: what a model is and can do (None: no such model)."""

    def model(self, model_id: str) -> ModelFacts | None: ...

    def models(self) -> list[ModelFacts]: ...
