"""domain.summary: the typed Summary is summary.json, exactly, and reads summaries back (also
ones written before a field existed)."""

from __future__ import annotations

import json
from typing import Any

from batchdrop.domain.job_summary import JobSummary
from batchdrop.domain.manifest import ManifestEntry
from batchdrop.domain.pricing import PriceTable
from batchdrop.domain.result_line import ResultLine
from batchdrop.domain.summary import Summary, WorkflowStanding

JOB = "20261125T090000Z-0a1b2c3d"
# summary.json's fields, in order: a contract with its readers (DESIGN.md).
FIELDS = [
    "job_id",
    "batch_id",
    "documents",
    "counts",
    "documents_by_profile",
    "tokens",
    "tokens_by_model",
    "cost_by_profile",
    "by_profile_and_model",
    "stop_reasons",
    "cost",
    "prices_checked",
    "errors",
    "errors_truncated",
    "status",
    "workflow",
    "estimate",
    "attempt",
    "cancel_requested_at",
    "results_archived",
    "not_submitted",
    "shortened_keys",
    "retried_in",
    "deprecated_models",
    "previous_attempt",
    "created_at",
    "ended_at",
    "completed_at",
    "manifest_key",
    "results_key",
    "summary_key",
    "documents_key",
    "documents_table_key",
    "results_prefixes",
]


def _entry(n: int, model: str = "claude-haiku-5-5") -> ManifestEntry:
    return ManifestEntry(
        custom_id=f"doc-{n}",
        source_key=f"inbox/default/{n}.txt",
        version_id=None,
        etag="e",
        profile="default",
        error_key=f"results/default/{n}.txt.error.json",
        result_key=f"results/default/{n}.txt.md",
        model=model,
    )


def _line(n: int, model: str = "claude-haiku-5-5") -> ResultLine:
    usage = {"input_tokens": 1000, "output_tokens": 50, "output_tokens_details": {"thinking_tokens": 5}}
    message = {"model": model, "usage": usage, "stop_reason": "end_turn", "content": []}
    return ResultLine.of({"custom_id": f"doc-{n}", "result": {"type": "succeeded", "message": message}})


def _summary() -> Summary:
    tally = JobSummary(job_id=JOB, batch_id="msgbatch_01", prices=PriceTable.bundled())
    tally.record_result(_entry(0), _line(0))
    tally.record_result(_entry(1, "claude-mystery-9"), _line(1, "claude-mystery-9"))
    error = {"type": "errored", "error": {"type": "error", "error": {"type": "api_error", "message": "x"}}}
    tally.record_result(_entry(2), ResultLine.of({"custom_id": "doc-2", "result": error}))
    return tally.summarise(
        status="completed",
        attempt=2,
        previous_attempt=JOB,
        summary_key=f"jobs/{JOB}/summary.json",
        results_prefixes=("results/default/",),
        deprecated_models=(
            {"model": "m", "retires_at": "2027-01-01", "profiles": ["default"], "documents": 1},
        ),
    )


def test_to_json_has_every_field_of_summary_json_in_order() -> None:
    data = _summary().to_json()
    assert list(data) == FIELDS
    assert data["counts"]["succeeded"] == 2 and data["counts"]["errored"] == 1
    assert data["cost"]["complete"] is False and data["cost"]["unknown_price_models"] == ["claude-mystery-9"]
    assert data["by_profile_and_model"][1] == {
        "profile": "default",
        "model": "claude-mystery-9",
        "line": None,
        "tokens": {
            "input": 1000,
            "output": 50,
            "thinking": 5,
            "cache_write_5m": 0,
            "cache_write_1h": 0,
            "cache_read": 0,
        },
        "cost": None,
    }


def test_a_summary_reads_back_as_the_same_value_and_the_same_json() -> None:
    summary = _summary()
    text = json.dumps(summary.to_json(), ensure_ascii=False, indent=2)
    again = Summary.from_json(json.loads(text))
    assert json.dumps(again.to_json(), ensure_ascii=False, indent=2) == text
    assert again.failed == summary.failed == 1
    assert again.by_profile_and_model == summary.by_profile_and_model


def test_a_workflow_standing_round_trips() -> None:
    data = {
        "id": JOB,
        "stage": 2,
        "previous_jobs": [{"job_id": "j1", "summary_key": "jobs/j1/summary.json"}],
        "next_profiles": [],
        "final": True,
        "origins": ["inbox/a/1.txt"],
        "total_cost": {"batch": 0.1, "standard": 0.2, "savings": 0.1, "complete": True},
    }
    assert WorkflowStanding.from_json(data).to_json() == data


def test_an_older_summary_without_the_newer_fields_is_read() -> None:
    # A summary from before thinking tokens, approximate costs, shortened keys, deprecated
    # models and the documents table
    old: dict[str, Any] = {
        "job_id": JOB,
        "batch_id": "msgbatch_01",
        "status": "completed",
        "documents": 2,
        "counts": {"succeeded": 1, "errored": 1},
        "tokens": {"input": 10, "output": 5, "cache_write_5m": 0, "cache_write_1h": 0, "cache_read": 0},
        "cost": {"currency": "USD", "complete": True, "batch": 0.5, "standard": 1.0, "savings": 0.5},
        "errors": [{"document": "inbox/default/b.txt", "type": "api_error", "message": "x"}],
        "results_prefixes": ["results/default/"],
        "summary_key": f"jobs/{JOB}/summary.json",
    }
    summary = Summary.from_json(old)
    assert (summary.succeeded, summary.failed, summary.count("retried")) == (1, 1, 0)
    assert summary.cost.batch == 0.5 and summary.cost.approximate is False
    assert summary.tokens.thinking_tokens == 0 and summary.deprecated_models == ()
    assert summary.documents_key is None and summary.workflow is None and summary.attempt == 1
    assert summary.by_profile_and_model == ()
