"""Preflight through the real Submit handler, against moto and the emulator's Models API over HTTP:
what the API would refuse is answered at once with an .error.json, and never sent."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tests.fixtures import files
from tests.integration.harness import Stack

SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "year": {"type": ["integer", "null"]}},
    "required": ["title", "year"],
    "additionalProperties": False,
}


def _sent(stack: Stack, result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The params that reached the emulator, by custom_id."""
    return {
        request["custom_id"]: request["params"]
        for job in result["jobs"]
        if job["batch_id"]
        for request in stack.emulator.engine.batch_requests(job["batch_id"])
    }


def _reason(stack: Stack, key: str) -> str:
    return str(json.loads(stack.get_text(key))["reason"])


def test_retired_models_and_sampling_params_are_refused_before_anything_is_sent(stack: Stack) -> None:
    # Given a profile on a retired model, a profile file with temperature, and a good profile
    stack.put_document("profiles/old.yaml", "model: claude-sonnet-4-5\n")
    stack.put_document("profiles/warm.yaml", "model: claude-haiku-5-5\ntemperature: 0.2\n")
    documents = {
        "inbox/old/a.txt": b"Old model, first.",
        "inbox/old/b.txt": b"Old model, second.",
        "inbox/warm/c.txt": b"Sampling.",
        "inbox/default/d.txt": b"Fine.",
    }

    # When the window is submitted
    result = stack.submit(documents)

    # Then only the good document is sent; each other one has its own error, saying why and what instead
    assert (result["submitted"], result["rejected"]) == (1, 3)
    retired = _reason(stack, "results/old/a.txt.error.json")
    assert retired.startswith("model claude-sonnet-4-5 (Claude Sonnet 4.5) was retired on 2026-11-30")
    assert "to claude-sonnet-5-5 (Claude Sonnet 5.5), the newest of its line" in retired
    assert _reason(stack, "results/old/b.txt.error.json") == retired
    warm = _reason(stack, "results/warm/c.txt.error.json")
    assert "temperature: removed in Claude API version 2026-10-21" in warm
    assert "steer with effort (low|medium|high|xhigh|max) and the prompt instead" in warm
    sent = _sent(stack, result)
    manifest = stack.manifest(result["jobs"][0]["job_id"])
    assert list(sent) == [manifest["inbox/default/d.txt"]["custom_id"]]
    assert {manifest[k]["status"] for k in documents if k != "inbox/default/d.txt"} == {"rejected"}
    # and each model was looked up once, however many documents named it
    assert stack.emulator.stats()["calls"]["retrieve_model"] == 2


def test_a_deprecated_model_is_submitted_with_its_retirement_date_in_the_manifest(stack: Stack) -> None:
    stack.emulator.update_config(
        model_overrides={
            "claude-haiku-4-5": {"lifecycle": "deprecated", "retires_at": "2027-02-01T00:00:00Z"}
        }
    )
    stack.put_document("profiles/legacy.yaml", "model: claude-haiku-4-5\n")
    result = stack.submit({"inbox/legacy/a.txt": b"Still works.", "inbox/default/b.txt": b"Current."})
    assert (result["submitted"], result["rejected"]) == (2, 0)
    manifest = stack.manifest(result["jobs"][0]["job_id"])
    assert manifest["inbox/legacy/a.txt"]["model_retires_at"] == "2027-02-01T00:00:00Z"
    assert "model_retires_at" not in manifest["inbox/default/b.txt"]


def test_what_the_model_cannot_do_is_refused_per_document(stack: Stack) -> None:
    # Given a model that reads no PDFs and gives no structured outputs, and a max_tokens over a limit
    stack.emulator.update_config(
        model_overrides={
            "claude-haiku-4-5": {
                "capabilities": {
                    "pdf_input": {"supported": False},
                    "structured_outputs": {"supported": False},
                }
            }
        }
    )
    stack.put_document("profiles/plain.yaml", "model: claude-haiku-4-5\n")
    stack.put_document(
        "profiles/facts.json", json.dumps({"model": "claude-haiku-4-5", "output_schema": SCHEMA})
    )
    stack.put_document("profiles/long.yaml", "model: claude-haiku-4-5\nmax_tokens: 100000\n")
    result = stack.submit(
        {
            "inbox/plain/report.pdf": files.pdf(pages=1),
            "inbox/plain/notes.txt": b"Text is fine.",
            "inbox/facts/a.txt": b"Needs structured outputs.",
            "inbox/long/b.txt": b"Too long an answer.",
        },
    )
    assert (result["submitted"], result["rejected"]) == (1, 3)
    assert _reason(stack, "results/plain/report.pdf.error.json").startswith(
        "claude-haiku-4-5 cannot read PDFs"
    )
    assert "does not support structured outputs" in _reason(stack, "results/facts/a.txt.error.json")
    assert _reason(stack, "results/long/b.txt.error.json") == (
        "max_tokens 100,000 is more than claude-haiku-4-5 allows (64,000); set max_tokens to 64,000 or less"
    )


def test_a_schema_profile_sends_output_config_and_keeps_the_jobs_copy_of_its_schema(stack: Stack) -> None:
    stack.put_document("schemas/book.json", json.dumps(SCHEMA))
    stack.put_document("profiles/book.yaml", "model: claude-sonnet-5-5\noutput_schema: book\neffort: low\n")
    body = b"Dune, by Frank Herbert, 1965."
    result = stack.submit({"inbox/book/dune.txt": body, "inbox/book/other.txt": b"Another."})
    job_id = result["jobs"][0]["job_id"]
    manifest = stack.manifest(job_id)
    entry = manifest["inbox/book/dune.txt"]
    params = _sent(stack, result)[entry["custom_id"]]
    assert params["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}, "effort": "low"}
    assert "temperature" not in params
    assert entry["result_key"] == "results/book/dune.txt.json"
    assert entry["schema_key"] == f"jobs/{job_id}/schemas/book.json"
    assert json.loads(stack.get_text(entry["schema_key"])) == SCHEMA
    assert entry["content_sha256"] == hashlib.sha256(body).hexdigest()
    other = manifest["inbox/book/other.txt"]
    assert (
        other["settings_hash"] == entry["settings_hash"]
        and other["content_sha256"] != entry["content_sha256"]
    )


def test_a_request_list_line_the_api_would_refuse_gets_its_own_error(stack: Stack) -> None:
    lines = [
        {"id": "ok", "prompt": "Fine."},
        {"id": "warm", "params": {"messages": [{"role": "user", "content": "x"}], "top_p": 0.5}},
        {"id": "gone", "prompt": "x", "model": "claude-sonnet-4"},
    ]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    result = stack.submit({"inbox/default/list.jsonl": body})
    assert (result["submitted"], result["rejected"]) == (1, 2)
    assert "top_p: Extra inputs are not permitted" in _reason(
        stack, "results/default/list.jsonl/warm.error.json"
    )
    assert "model claude-sonnet-4 (Claude Sonnet 4) was retired" in _reason(
        stack, "results/default/list.jsonl/gone.error.json"
    )


def test_without_the_models_api_the_window_goes_out_on_the_version_rules_alone(stack: Stack) -> None:
    # Given a Models API that fails every call, through the SDK's retries
    stack.emulator.inject_fault("retrieve_model", 503, count=50)
    stack.put_document("profiles/warm.yaml", "temperature: 1\n")
    # When a window is submitted
    result = stack.submit({"inbox/default/a.txt": b"Goes out.", "inbox/warm/b.txt": b"Still refused."})
    # Then it is submitted without the catalogue checks, and the job says so
    assert (result["submitted"], result["rejected"], result["preflight"]) == (1, 1, "skipped")
    job = stack.table.get_item(Key={"job_id": result["jobs"][0]["job_id"]})["Item"]
    assert job["preflight"] == "skipped"
    # and the Models API was given up on once (one model, its retries), not per document
    assert stack.emulator.stats()["calls"]["retrieve_model"] == 5
