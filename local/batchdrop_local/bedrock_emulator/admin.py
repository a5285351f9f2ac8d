"""The emulator's admin paths under /_bedrock/ (no auth): GET stats, POST/DELETE faults, GET or
POST config, POST advance {"seconds": N} (manual clock only), POST tick.

A fault names one of the operations (create, get, list, stop, and invoke for InvokeModel), an
error status or exception code, a count and, optionally, after_effect.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from batchdrop_local.bedrock_emulator.errors import BedrockError, validation

if TYPE_CHECKING:
    from batchdrop_local.bedrock_emulator.server import BedrockEmulatorServer

ADMIN_PREFIX = "/_bedrock/"
_FAULT_FIELDS = {"operation", "status", "code", "count", "after_effect"}


def handle_admin(emulator: BedrockEmulatorServer, method: str, path: str, body: bytes) -> dict[str, Any]:
    """The answer to one admin request; BedrockError (ValidationException) if it is invalid."""
    spec = json_object(body) if method == "POST" else {}
    try:
        if path == "/_bedrock/stats" and method == "GET":
            return emulator.stats()
        if path == "/_bedrock/faults" and method == "POST":
            unknown = set(spec) - _FAULT_FIELDS
            if unknown:
                raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
            emulator.inject_fault(
                str(spec.get("operation")),
                spec.get("status"),
                spec.get("count", 1),
                spec.get("after_effect", False),
                spec.get("code"),
            )
            return {"pending_faults": emulator.faults.pending()}
        if path == "/_bedrock/faults" and method == "DELETE":
            emulator.faults.clear()
            return {"pending_faults": emulator.faults.pending()}
        if path == "/_bedrock/config" and method in ("GET", "POST"):
            if spec:
                emulator.update_config(**spec)
            return emulator.engine.config.to_dict()
        if path == "/_bedrock/advance" and method == "POST":
            return emulator.advance(spec.get("seconds", 0))
        if path == "/_bedrock/tick" and method == "POST":
            emulator.engine.tick()
            return emulator.stats()
    except (ValueError, TypeError) as exc:
        raise validation(str(exc)) from exc
    raise BedrockError("ResourceNotFoundException", f"No admin endpoint {method} {path}")


def json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise validation("The request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise validation("The request body must be a JSON object")
    return payload
