"""Bedrock's output lines turned back into the Claude API's result lines, so that Complete reads
them unchanged (domain.result_line). Pure, no I/O.

A ``.jsonl.out`` line is ``{"recordId", "modelInput", "modelOutput"}`` (the InvokeModel
response: a Messages message) or ``{"recordId", "modelInput", "error": {"errorCode",
"errorMessage"}}``. It becomes ``{"custom_id", "result": {"type": "succeeded", "message"}}`` or
an ``errored`` result whose error type is the Claude API's for that status code, so the retry
decision reads it as it reads the API's (429 and 5xx transient, 400 not). A record an ended job
has no line for becomes a line too (errored, canceled or expired, as the job's status says):
never lost.

The message's ``model`` is the job's Bedrock model id (or inference profile), so its cost comes
from the Bedrock price rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batchdrop.domain.bedrock.jobs import UNANSWERED
from batchdrop.domain.bedrock.records import custom_id_of

# The Claude API's error type for each status code a record error may carry.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    424: "api_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
# Words of a Failed job's message that say its input is at fault (sending it again would fail
# again); any other failure is taken for Bedrock's and is worth another attempt.
_INPUT_FAULTS = ("validat", "record", "format", "malformed", "invalid", "jsonl", "minimum", "maximum")


def error_type(code: Any) -> str:
    """The Claude API's error type for a record's errorCode (api_error when there is none)."""
    try:
        status = int(code)
    except (TypeError, ValueError):
        return "api_error"
    if status in ERROR_TYPES:
        return ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def errored(custom_id: str, kind: str, message: str) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "result": {
            "type": "errored",
            "error": {"type": "error", "error": {"type": kind, "message": message}, "request_id": None},
        },
    }


def result_line(line: Mapping[str, Any], model_id: str) -> dict[str, Any]:
    """The Claude API's result line of one Bedrock output line.

    Raises ValueError when the line's recordId is not one batchdrop made."""
    custom_id = custom_id_of(str(line.get("recordId") or ""))
    output = line.get("modelOutput")
    if isinstance(output, Mapping) and line.get("error") is None:
        message = dict(output)
        message.setdefault("type", "message")
        message.setdefault("role", "assistant")
        message["model"] = model_id or message.get("model")
        usage = dict(message.get("usage") or {})
        usage.setdefault("service_tier", "batch")
        message["usage"] = usage
        return {"custom_id": custom_id, "result": {"type": "succeeded", "message": message}}
    error = line.get("error")
    error = error if isinstance(error, Mapping) else {}
    text = str(error.get("errorMessage") or error.get("message") or "Bedrock gave no answer for this record")
    return errored(custom_id, error_type(error.get("errorCode")), text)


def failed_job_error_type(message: str) -> str:
    """The error type of the records of a Failed job: its input's fault, or Bedrock's."""
    lowered = message.lower()
    return "invalid_request_error" if any(word in lowered for word in _INPUT_FAULTS) else "api_error"


def missing_line(custom_id: str, status: str, message: str = "") -> dict[str, Any]:
    """The result line of a record an ended job (of this status) wrote no output for."""
    kind = UNANSWERED.get(status, "errored")
    if kind in ("canceled", "expired"):
        return {"custom_id": custom_id, "result": {"type": kind}}
    if status == "Failed":
        why = f"the Bedrock job failed: {message}" if message else "the Bedrock job failed"
        return errored(custom_id, failed_job_error_type(message), why)
    return errored(custom_id, "api_error", f"the Bedrock job ended {status} with no output for this record")
