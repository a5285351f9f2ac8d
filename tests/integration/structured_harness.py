"""What the structured-output and documents-table tests share: a schema profile's job, and the
emulator answering each of its documents as a script says, round after round.

The emulator (over HTTP, through the SDK) still makes every message, its id, usage and model; the
script replaces only the answer's content and stop reason, so that a test decides which answer is
valid, invalid or cut off on which attempt. A round is counted by the assistant turns the request
carries: the first request has none, the one asked again with feedback has one more each time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from batchdrop.domain.keys import job_schema_key
from batchdrop_local.emulator import engine
from tests.integration.harness import Stack, load_event, s3_event

RECEIPT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["merchant", "total"],
    "properties": {"merchant": {"type": "string"}, "total": {"type": "number"}},
}
VALID = '{"merchant": "Café Ribeira", "total": 7.5}'
WRONG_TYPE = '{"merchant": "Café Ribeira", "total": "7,50"}'
CUT_OFF = '{"merchant": "Café Rib'
THINKING_TOKENS = 11


@dataclass
class ScriptedAnswers:
    """Answers by a marker in the document: ``{marker: [(text, stop_reason), ...]}``, one per
    round (the last repeats; None: the emulator's own answer). Records the params of every
    scripted request."""

    scripts: dict[str, list[tuple[str, str] | None]]
    seen: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> ScriptedAnswers:
        real = engine.answer

        def scripted(params: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
            message: dict[str, Any] = real(params, *args, **kwargs)
            first = json.dumps(params["messages"][0], ensure_ascii=False)
            marker = next((m for m in self.scripts if m in first), None)
            if marker is None:
                return message
            rounds = sum(1 for m in params["messages"] if m.get("role") == "assistant")
            self.seen.append((marker, rounds, params))
            script = self.scripts[marker]
            step = script[min(rounds, len(script) - 1)]
            if step is None:  # the emulator's own answer (to output_config.format: its schema's)
                return message
            text, stop_reason = step
            # A thinking model: its thinking comes first, and is not the answer.
            message["content"] = [
                {"type": "thinking", "thinking": "Reading the receipt.", "signature": "sig"},
                {"type": "text", "text": text},
            ]
            message["stop_reason"] = stop_reason
            usage = message["usage"]
            usage["output_tokens"] = max(1, len(text) // 4) + THINKING_TOKENS
            usage["output_tokens_details"] = {"thinking_tokens": THINKING_TOKENS}
            return message

        monkeypatch.setattr(engine, "answer", scripted)
        return self

    def rounds_of(self, marker: str) -> list[int]:
        return [rounds for seen, rounds, _ in self.seen if seen == marker]


def put_extract_profile(stack: Stack) -> None:
    stack.put_document(
        "profiles/extract.json",
        json.dumps(
            {"output_format": "json", "instruction": "Extract the receipt's merchant and total as JSON."}
        ),
    )


def as_schema_job(stack: Stack, job_id: str, profile: str, schema: dict[str, Any]) -> None:
    """What Submit's preflight records for a schema profile (on another branch, in parallel):
    the job's copy of the schema, each entry of that profile naming it, its requests asking for
    output_config.format."""
    stack.put_document(job_schema_key(job_id, profile), json.dumps(schema))
    key = f"jobs/{job_id}/manifest.jsonl"
    entries = [json.loads(line) for line in stack.get_text(key).splitlines() if line.strip()]
    for entry in entries:
        if entry["profile"] == profile and entry["status"] == "submitted":
            entry["schema_key"] = job_schema_key(job_id, profile)
            entry.setdefault("content_sha256", "0" * 64)
            entry.setdefault("settings_hash", "extract-settings")
    stack.put_document(key, "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries))
    # And its requests as that Submit sends them (the first batch went out without: only the
    # follow-ups, made from this file, carry output_config.format).
    wanted = {e["custom_id"] for e in entries if e.get("schema_key")}
    requests_key = f"jobs/{job_id}/requests.jsonl"
    requests = [json.loads(line) for line in stack.get_text(requests_key).splitlines() if line.strip()]
    for request in requests:
        if request["custom_id"] in wanted:
            request["params"]["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    stack.put_document(requests_key, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests))


def submit_and_end(
    stack: Stack, documents: dict[str, str], schema_profile: str | None = "extract"
) -> dict[str, Any]:
    """Submit these documents as one job (the schema profile's entries with their schema), let
    Poll see its batch end; its Batch Ended event."""
    for key, text in documents.items():
        stack.put_document(key, text.encode())
    (job,) = stack.handler("SubmitFunction")(s3_event(stack.bucket, list(documents)))["jobs"]
    if schema_profile:
        as_schema_job(stack, job["job_id"], schema_profile, RECEIPT_SCHEMA)
    return ended_event(stack, job["job_id"], job["batch_id"])


def ended_event(stack: Stack, job_id: str, batch_id: str | None) -> dict[str, Any]:
    stack.handler("PollFunction")(load_event("scheduled.json"))
    event = load_event("batch-ended.json")
    event["detail"].update(job_id=job_id, batch_id=batch_id)
    return event


def jobs(stack: Stack) -> dict[str, dict[str, Any]]:
    return {item["job_id"]: item for item in stack.table.scan()["Items"] if "status" in item}


def rows(stack: Stack, job_id: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stack.get_text(f"jobs/{job_id}/documents.jsonl").splitlines()]


def rows_by_source(stack: Stack, job_id: str) -> dict[str, dict[str, Any]]:
    found = rows(stack, job_id)
    by_source = {(r["source_key"] + (f"#{r['item']}" if r["item"] else "")): r for r in found}
    assert len(by_source) == len(found), "one row per document"
    return by_source


def summary_of(stack: Stack, job_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(stack.get_text(f"jobs/{job_id}/summary.json"))
    return data
