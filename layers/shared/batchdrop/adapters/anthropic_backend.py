"""The only module that talks to Anthropic: the Message Batches API through the official SDK.

``import anthropic`` costs seconds and tens of MB, so it happens on first use, never at
module import: a poll that finds no open jobs never pays for it. The base URL comes from
configuration, so the same code reaches the real API or the local emulator.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from batchdrop.domain.models import ModelFacts, ModelsUnavailable
from batchdrop.domain.results import ResultsArchived
from batchdrop.domain.times import iso_exact
from batchdrop.ports.batches import BatchInfo, BatchMayExist, BatchRefused, BatchRejected

__all__ = ["BatchInfo", "BatchMayExist", "BatchRefused", "BatchRejected", "MessageBatches"]

if TYPE_CHECKING:
    import anthropic

T = TypeVar("T")

ApiKeyProvider = Callable[..., str]  # provider(refresh=False) -> the key (adapters.secrets)

# The SDK retries 408/409/429/5xx and dropped connections with backoff (honouring
# retry-after); past that, the Lambda/SQS/EventBridge retry takes over with the work intact.
# Creating a batch is the exception: see MessageBatches.create.
SDK_MAX_RETRIES = 4
SDK_TIMEOUT_SECONDS = 120.0


def retry_after_seconds(headers: Any) -> float | None:
    """The API's retry-after(-ms), in seconds, when it gives one."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value:
            try:
                return max(float(value) * scale, 0.0)
            except ValueError:
                continue
    return None


def _iso(value: Any) -> str:
    return iso_exact(value) if value is not None else ""


class MessageBatches:
    """Create, watch and read batches. The client is built on first use, and again whenever the
    API key changed (rotated in Secrets Manager), so a rotation needs no cold start."""

    def __init__(self, api_key: ApiKeyProvider, base_url: str | None = None) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._lock = threading.Lock()
        self._client_for: tuple[str, anthropic.Anthropic] | None = None

    @property
    def _client(self) -> anthropic.Anthropic:
        return self._client_with(self._api_key())

    def _client_with(self, key: str) -> anthropic.Anthropic:
        with self._lock:
            if self._client_for is None or self._client_for[0] != key:
                import anthropic

                self._client_for = (
                    key,
                    anthropic.Anthropic(
                        api_key=key,
                        base_url=self._base_url,
                        max_retries=SDK_MAX_RETRIES,
                        timeout=SDK_TIMEOUT_SECONDS,
                    ),
                )
            return self._client_for[1]

    def _call(self, action: Callable[[anthropic.Anthropic], T]) -> T:
        """Run one API call; when the API refuses the key (401), read the secret afresh and try
        once more: the key was rotated since it was cached."""
        import anthropic

        try:
            return action(self._client)
        except anthropic.AuthenticationError:
            fresh = self._api_key(refresh=True)
            if self._client_for is not None and fresh == self._client_for[0]:
                raise
            return action(self._client_with(fresh))

    @staticmethod
    def _info(batch: Any) -> BatchInfo:
        counts = batch.request_counts
        return BatchInfo(
            id=batch.id,
            processing_status=batch.processing_status,
            request_counts={
                "processing": counts.processing,
                "succeeded": counts.succeeded,
                "errored": counts.errored,
                "canceled": counts.canceled,
                "expired": counts.expired,
            },
            created_at=_iso(batch.created_at),
            expires_at=_iso(batch.expires_at),
            ended_at=_iso(batch.ended_at) or None,
            archived_at=_iso(getattr(batch, "archived_at", None)) or None,
        )

    def for_job(self, job_id: str) -> MessageBatches:
        """The same client: the Claude API's batches are not named after the job."""
        return self

    def create(self, requests: list[dict[str, Any]]) -> BatchInfo:
        """Create a batch, once: never retried here, since the API takes no idempotency key.

        Raises ``BatchRefused`` (429: no batch was made, try later), ``BatchRejected`` (a 4xx
        that will not change: no batch) or ``BatchMayExist`` (a dropped connection, a timeout, or
        a 5xx/408/409 that a gateway may have sent after the batch was made). Only the caller
        can find out which (``created_since``) before it creates again: see batch_creation.
        """
        import anthropic

        def create(client: anthropic.Anthropic) -> BatchInfo:
            once = client.with_options(max_retries=0)
            return self._info(once.messages.batches.create(requests=requests))  # type: ignore[arg-type]

        try:
            return self._call(create)
        except anthropic.APIStatusError as exc:
            status = exc.status_code
            if status == 429:
                raise BatchRefused(str(exc), retry_after_seconds(exc.response.headers)) from exc
            if status in (408, 409) or status >= 500:
                raise BatchMayExist(f"creating the batch answered {status}; it may exist ({exc})") from exc
            raise BatchRejected(f"the API refused the batch ({status}): {exc}") from exc
        except anthropic.APIConnectionError as exc:  # includes timeouts
            raise BatchMayExist(f"the answer to creating the batch was lost ({exc})") from exc

    def model(self, model_id: str) -> ModelFacts | None:
        """The Models API's facts of one model; None when the API does not know it (404).

        Raises ``ModelsUnavailable`` when the API cannot be reached or will not answer, after the
        SDK's retries: preflight then goes on without the catalogue (see preflight)."""
        import anthropic

        try:
            info = self._call(lambda client: client.models.retrieve(model_id))
        except anthropic.NotFoundError:
            return None
        except anthropic.APIError as exc:
            raise ModelsUnavailable(f"the Models API did not answer for {model_id!r}: {exc}") from exc
        return ModelFacts.from_api(info.to_dict(mode="json"))

    def models(self) -> list[ModelFacts]:
        """Every model of the catalogue (the SDK pages through the list)."""
        import anthropic

        try:
            return [
                ModelFacts.from_api(info.to_dict(mode="json"))
                for info in self._call(lambda client: list(client.models.list(limit=1000)))
            ]
        except anthropic.APIError as exc:
            raise ModelsUnavailable(f"the Models API could not list the models: {exc}") from exc

    def retrieve(self, batch_id: str) -> BatchInfo:
        return self._call(lambda client: self._info(client.messages.batches.retrieve(batch_id)))

    def cancel(self, batch_id: str) -> BatchInfo | None:
        """Ask the API to cancel; None when the batch had already ended (nothing to cancel)."""
        import anthropic

        try:
            return self._call(lambda client: self._info(client.messages.batches.cancel(batch_id)))
        except anthropic.BadRequestError:
            return None

    def created_since(self, since: datetime) -> Iterator[BatchInfo]:
        """Batches created at or after ``since``, newest first (the SDK pages through the list)."""
        for batch in self._call(lambda client: client.messages.batches.list(limit=100)):
            if batch.created_at < since:
                return
            yield self._info(batch)

    def results(self, batch_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Result lines, streamed (never all in memory at once): each as the API sent it and
        parsed. The SDK finds the results URL and authenticates; the lines are read from its
        HTTP response, since building a typed model of each only for batchdrop to turn it back
        into a dict was most of Complete's CPU per result.

        Raises ``ResultsArchived`` when the API no longer has them (404 on an ended batch's
        results: archived 29 days after the batch was created)."""
        import anthropic

        try:
            decoder = self._call(lambda client: client.messages.batches.results(batch_id))
        except anthropic.NotFoundError as exc:
            batch = self.retrieve(batch_id)
            if not batch.ended:
                raise
            raise ResultsArchived(
                batch_id, created_at=batch.created_at, ended_at=batch.ended_at, archived_at=batch.archived_at
            ) from exc
        try:
            for text in decoder.http_response.iter_lines():
                if text.strip():
                    yield text, json.loads(text)
        finally:
            decoder.close()
