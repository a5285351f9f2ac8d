"""One line of a batch's results, parsed once into a typed value. Pure, no I/O.

The API's results JSONL has one object per request: ``{"custom_id", "result": {"type", ...}}``,
where a ``succeeded`` result carries the ``message`` (its text, model, stop reason and usage)
and an ``errored`` one the API's ``error``. Complete reads each line once into a ResultLine;
the retry decision, the result object, the cost, the summary and the documents-table row all
read that value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from batchdrop.domain.pricing import TokenUsage

RESULT_TYPES = ("succeeded", "errored", "expired", "canceled")
# Failures worth another attempt in a follow-up batch: the API's transient errors, and expiry.
RETRYABLE_ERRORS = frozenset({"api_error", "overloaded_error", "rate_limit_error", "timeout_error"})

# Why a request has no answer, for the result types that carry no error of their own.
REASONS = {
    "expired": "the batch expired (24 h) before this request was processed",
    "canceled": "the batch was canceled before this request was processed",
    "missing": "the batch results have no line for this request",
}


@dataclass(frozen=True)
class ResultLine:
    """A result line: which request, what became of it, and what was billed.

    ``message`` is the message of a ``succeeded`` line (else empty); ``api_error_type`` and
    ``api_error_message`` are an ``errored`` line's error as the API named it (None when it
    named none).
    """

    custom_id: str
    type: str
    message: Mapping[str, Any] = field(default_factory=dict)
    api_error_type: str | None = None
    api_error_message: str | None = None
    # The message's text blocks joined, its usage and its model (a succeeded line's).
    text: str = ""
    usage: TokenUsage = field(default_factory=TokenUsage)
    model: str | None = None

    @classmethod
    def of(cls, line: Mapping[str, Any]) -> ResultLine:
        """A line as the API's JSON has it (``{"custom_id", "result"}``)."""
        result = line.get("result") or {}
        kind = str(result.get("type", ""))
        if kind == "succeeded":
            message = result.get("message") or {}
            return cls(
                custom_id=str(line.get("custom_id", "")),
                type=kind,
                message=message,
                text=answer_text(message),
                usage=TokenUsage.from_api(message.get("usage") or {}),
                model=message.get("model") or None,
            )
        api_error = ((result.get("error") or {}).get("error") or {}) if kind == "errored" else {}
        return cls(
            custom_id=str(line.get("custom_id", "")),
            type=kind,
            api_error_type=api_error.get("type"),
            api_error_message=api_error.get("message"),
        )

    @property
    def succeeded(self) -> bool:
        """Billed: an answer came back, whatever becomes of it."""
        return self.type == "succeeded"

    @property
    def stop_reason(self) -> str | None:
        value = self.message.get("stop_reason")
        return None if value is None else str(value)

    @property
    def retryable(self) -> bool:
        """A failure worth another attempt: expiry, or one of the API's transient errors."""
        if self.type == "expired":
            return True
        return self.type == "errored" and self.api_error_type in RETRYABLE_ERRORS

    @property
    def error(self) -> dict[str, str]:
        """What the line's ``.error.json`` names as its error (a line with no answer)."""
        if self.type == "errored":
            return {
                "type": self.api_error_type if self.api_error_type is not None else "unknown_error",
                "message": self.api_error_message if self.api_error_message is not None else "",
            }
        return {"type": self.type, "message": REASONS.get(self.type, self.type)}

    @property
    def error_type(self) -> str | None:
        """The documents table's ``error_type`` of the line (None for an answer)."""
        if self.type == "errored":
            return str(self.api_error_type or "unknown_error")
        if self.type in ("expired", "canceled"):
            return self.type
        return None


def answer_text(message: Mapping[str, Any]) -> str:
    return "".join(
        block.get("text", "") for block in message.get("content", []) if block.get("type") == "text"
    )
