"""The only module that talks to Anthropic: the Message Batches API through the official SDK.

``import anthropic`` costs seconds and tens of MB, so it happens on first use, never at
module import: a poll that finds no open jobs never pays for it. The base URL comes from
configuration, so the same code reaches the real API or the local emulator.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import anthropic

# The SDK retries 408/409/429/5xx and dropped connections with backoff (honouring
# retry-after); past that, the Lambda/SQS/EventBridge retry takes over with the work intact.
# Creating a batch is the exception: see MessageBatches.create.
SDK_MAX_RETRIES = 4
SDK_TIMEOUT_SECONDS = 120.0
CREATE_ATTEMPTS = SDK_MAX_RETRIES + 1


class BatchMayExist(RuntimeError):
    """Creating a batch failed in a way that does not tell whether the batch exists."""


def _retry_delay(headers: Any, attempt: int) -> float:
    """The API's retry-after(-ms) when it gives one, else exponential backoff (0.5 s, 1 s, ...)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value:
            try:
                return min(float(value) * scale, 60.0)
            except ValueError:
                continue
    return min(0.5 * 2**attempt, 8.0)


@dataclass(frozen=True)
class BatchInfo:
    """What batchdrop needs of a MessageBatch, free of SDK types."""

    id: str
    processing_status: str
    request_counts: dict[str, int]
    created_at: str
    expires_at: str
    ended_at: str | None

    @property
    def ended(self) -> bool:
        return self.processing_status == "ended"

    @property
    def requests(self) -> int:
        return sum(self.request_counts.values())


def api_key_from_secret(secret_value: str) -> str:
    """The secret holds the key as a plain string or as JSON ``{"api_key": ...}``."""
    text = secret_value.strip()
    if text.startswith("{"):
        data = json.loads(text)
        for name in ("api_key", "ANTHROPIC_API_KEY", "apiKey"):
            if data.get(name):
                return str(data[name]).strip()
        raise ValueError("the Anthropic secret is JSON but has no api_key field")
    if not text:
        raise ValueError("the Anthropic secret is empty")
    return text


def secret_api_key(secret_name: str, max_age_seconds: int = 300) -> Callable[[], str]:
    """A provider reading the key from Secrets Manager through Powertools (cached)."""

    def provide() -> str:
        from aws_lambda_powertools.utilities import parameters

        value = parameters.get_secret(secret_name, max_age=max_age_seconds)
        return api_key_from_secret(value if isinstance(value, str) else bytes(value).decode())

    return provide


def _iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else ""


class MessageBatches:
    """Create, watch and read batches. The client is built on first use."""

    def __init__(self, api_key: Callable[[], str], base_url: str | None = None) -> None:
        self._api_key = api_key
        self._base_url = base_url

    @cached_property
    def _client(self) -> anthropic.Anthropic:
        import anthropic

        return anthropic.Anthropic(
            api_key=self._api_key(),
            base_url=self._base_url,
            max_retries=SDK_MAX_RETRIES,
            timeout=SDK_TIMEOUT_SECONDS,
        )

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
        )

    def create(
        self, requests: list[dict[str, Any]], sleep: Callable[[float], None] = time.sleep
    ) -> BatchInfo:
        """Create a batch; retried only when the API answered that it did not create it.

        The API takes no idempotency key. An error status (429, 5xx) means no batch was made, so
        another try is safe; a dropped connection or a timeout may have lost the answer to a batch
        that exists, and a retry would bill every request twice. That case raises
        ``BatchMayExist`` instead: the job stays recorded as ``submitting`` and Poll adopts the
        batch if there is one, or abandons the job so the documents go out again.
        """
        import anthropic

        client = self._client.with_options(max_retries=0)
        for attempt in range(CREATE_ATTEMPTS):
            try:
                return self._info(client.messages.batches.create(requests=requests))  # type: ignore[arg-type]
            except anthropic.APIStatusError as exc:
                retryable = exc.status_code in (408, 409, 429) or exc.status_code >= 500
                if not retryable or attempt == CREATE_ATTEMPTS - 1:
                    raise
                sleep(_retry_delay(exc.response.headers, attempt))
            except anthropic.APIConnectionError as exc:
                raise BatchMayExist(
                    f"the answer to creating the batch was lost ({exc}); Poll will reconcile"
                ) from exc
        raise AssertionError("unreachable")

    def retrieve(self, batch_id: str) -> BatchInfo:
        return self._info(self._client.messages.batches.retrieve(batch_id))

    def cancel(self, batch_id: str) -> BatchInfo | None:
        """Ask the API to cancel; None when the batch had already ended (nothing to cancel)."""
        import anthropic

        try:
            return self._info(self._client.messages.batches.cancel(batch_id))
        except anthropic.BadRequestError:
            return None

    def created_since(self, since: datetime) -> Iterator[BatchInfo]:
        """Batches created at or after ``since``, newest first (the SDK pages through the list)."""
        for batch in self._client.messages.batches.list(limit=100):
            if batch.created_at < since:
                return
            yield self._info(batch)

    def results(self, batch_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Result lines, streamed (never all in memory at once): each as the API sent it and
        parsed. The SDK finds the results URL and authenticates; the lines are read from its
        HTTP response, since building a typed model of each only for batchdrop to turn it back
        into a dict was most of Complete's CPU per result."""
        decoder = self._client.messages.batches.results(batch_id)
        try:
            for text in decoder.http_response.iter_lines():
                if text.strip():
                    yield text, json.loads(text)
        finally:
            decoder.close()
