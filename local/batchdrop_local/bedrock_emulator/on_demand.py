"""On-demand InvokeModel, as botocore's `bedrock-runtime` service model (2023-09-30, rest-json)
describes it: `POST /model/{modelId}/invoke`, the request body is the model's own body (for
Claude: the Anthropic Messages body on Bedrock, `anthropic_version: "bedrock-2023-05-31"`, no
`model`), `Content-Type` and `Accept` headers name its MIME type (application/json), and the
answer is the InvokeModel response body (id, type, role, model, content, stop_reason,
stop_sequence, usage) with its Content-Type.

The body is checked exactly as a batch record's modelInput is (`answering.check_invoke_body`),
and answered by the same deterministic stand-in for Claude, so a document answered on demand
reads as it would have in a batch job. A refused body is a ValidationException in Bedrock's
frame ("Malformed input request: #: ..., please reformat your input and try again.").
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import Counter
from typing import Any

from batchdrop_local.bedrock_emulator.answering import catalogue_model, invoke_answer
from batchdrop_local.bedrock_emulator.errors import BedrockError, constraint, validation
from batchdrop_local.bedrock_emulator.requests import INVALID_MODEL
from batchdrop_local.emulator.catalogue import Catalogue
from batchdrop_local.emulator.rules import ParamsError

INVOKE_PATH = re.compile(r"/model/([^/]+)/invoke")
"""The URI of InvokeModel; the modelId label is percent-encoded (an ARN's `/` as %2F)."""
JSON = "application/json"
ACCEPTED = frozenset({JSON, "*/*"})
MAX_MODEL_ID = 2048
MAX_BODY_BYTES = 25_000_000
"""The Body shape's maximum in the service model."""


def malformed(detail: str) -> BedrockError:
    """Bedrock's refusal of a body its model does not accept."""
    return validation(f"Malformed input request: #: {detail}, please reformat your input and try again.")


class OnDemand:
    """InvokeModel's answers, and counts of what it answered and refused (thread-safe)."""

    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self._catalogue = catalogue or Catalogue.build()
        self._lock = threading.Lock()
        self._counts = Counter[str]()

    def invoke(
        self, model_id: str, body: bytes, content_type: str | None = None, accept: str | None = None
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The response body and the response headers of one InvokeModel call; BedrockError if refused."""
        try:
            answer = self._answer(model_id, body, content_type, accept)
        except BedrockError:
            self._count(refused=1)
            raise
        usage = answer["usage"]
        self._count(answered=1, input_tokens=usage["input_tokens"], output_tokens=usage["output_tokens"])
        headers = {
            "X-Amzn-Bedrock-Input-Token-Count": str(usage["input_tokens"]),
            "X-Amzn-Bedrock-Output-Token-Count": str(usage["output_tokens"]),
            "X-Amzn-Bedrock-Invocation-Latency": "0",
        }
        return answer, headers

    def _answer(
        self, model_id: str, body: bytes, content_type: str | None, accept: str | None
    ) -> dict[str, Any]:
        if not 1 <= len(model_id) <= MAX_MODEL_ID:
            raise constraint(model_id, "modelId", f"Member must have length between 1 and {MAX_MODEL_ID}")
        if "anthropic." not in model_id:
            raise validation(INVALID_MODEL)
        if _mime(content_type) not in (None, JSON):
            raise validation(f"The content type {content_type} is not supported; use {JSON}.")
        if _mime(accept) not in (None, *ACCEPTED):
            raise validation(f"The accept type {accept} is not supported; use {JSON}.")
        if len(body) > MAX_BODY_BYTES:
            raise validation(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
        try:
            params = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise malformed("the body is not valid JSON") from None
        if not isinstance(params, dict):
            raise malformed("the body must be a JSON object")
        model = catalogue_model(model_id, self._catalogue)
        try:
            return invoke_answer(params, "msg_bdrk_" + uuid.uuid4().hex[:24], model)
        except ParamsError as exc:
            raise malformed(exc.message) from None

    def _count(self, **amounts: int) -> None:
        with self._lock:
            self._counts.update(amounts)

    def stats(self) -> dict[str, int]:
        """Calls answered and refused, and the tokens of the answered ones."""
        with self._lock:
            return {
                name: self._counts[name] for name in ("answered", "refused", "input_tokens", "output_tokens")
            }


def _mime(header: str | None) -> str | None:
    """The MIME type of a Content-Type or Accept header, without parameters; None if absent."""
    if not header:
        return None
    return header.split(";", 1)[0].strip().lower()
