"""results: result lines -> result objects, and the job summary."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from batchdrop.domain import job_summary, results
from batchdrop.domain.job_summary import MAX_ERRORS_IN_SUMMARY, JobSummary
from batchdrop.domain.manifest import REJECTED, ManifestEntry
from batchdrop.domain.pricing import PriceTable, TokenUsage
from batchdrop.domain.result_line import ResultLine
from batchdrop.domain.results import (
    ResultObject,
    answer_text,
    error_object,
    missing_object,
    result_object,
)

JOB = "20261125T090000Z-0a1b2c3d"


def _entry(
    name: str = "q3/report.txt",
    *,
    custom_id: str = "doc-000001-0123456789abcdef",
    profile: str = "default",
    suffix: str = ".md",
    model: str | None = "claude-haiku-4-5",
    status: str = "submitted",
    result_key: str | None = "",
) -> ManifestEntry:
    return ManifestEntry(
        custom_id=custom_id,
        source_key=f"inbox/{profile}/{name}",
        version_id="v1",
        etag="etag1",
        profile=profile,
        error_key=f"results/{profile}/{name}.error.json",
        result_key=f"results/{profile}/{name}{suffix}" if result_key == "" else result_key,
        model=model,
        status=status,
    )


def _succeeded(
    content: list[dict[str, Any]],
    *,
    model: str = "claude-haiku-4-5",
    stop_reason: str = "end_turn",
    usage: dict[str, Any] | None = None,
    custom_id: str = "a",
) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "result": {
            "type": "succeeded",
            "message": {
                "id": "msg_014VwiXbi91y3JMjcpyGBHX5",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": usage
                if usage is not None
                else {
                    "input_tokens": 16,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "output_tokens": 5,
                    "service_tier": "batch",
                },
            },
        },
    }


def _errored(
    error_type: str = "invalid_request_error", message: str = "messages: Field required"
) -> dict[str, Any]:
    return {
        "custom_id": "b",
        "result": {
            "type": "errored",
            "error": {"type": "error", "error": {"type": error_type, "message": message}, "request_id": None},
        },
    }


def _body(obj: ResultObject) -> dict[str, Any]:
    data = json.loads(obj.body.decode())
    assert isinstance(data, dict)
    return data


# --- answer_text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ([{"type": "text", "text": "Hi"}], "Hi"),
        ([{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}], "Hello, world"),
        (
            [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "A"},
                {"type": "tool_use", "id": "t", "name": "f", "input": {}},
                {"type": "redacted_thinking", "data": "x"},
                {"type": "text", "text": "B"},
            ],
            "AB",
        ),
        ([], ""),
        ([{"type": "tool_use", "id": "t", "name": "f", "input": {}}], ""),
        ([{"type": "text", "text": "Résumé: 日本 🎉"}], "Résumé: 日本 🎉"),
    ],
)
def test_answer_text_joins_text_blocks_only(content: list[dict[str, Any]], expected: str) -> None:
    assert answer_text({"content": content}) == expected


def test_answer_text_without_content() -> None:
    assert answer_text({}) == ""


# --- result_object ------------------------------------------------------------------------------


def test_succeeded_line_becomes_markdown_answer() -> None:
    entry = _entry()
    line = _succeeded(
        [
            {"type": "text", "text": "# Résumé\n"},
            {"type": "thinking", "thinking": "x"},
            {"type": "text", "text": "ok"},
        ],
        stop_reason="max_tokens",
    )
    assert result_object(JOB, entry, ResultLine.of(line)) == ResultObject(
        key="results/default/q3/report.txt.md",
        body="# Résumé\nok".encode(),
        content_type="text/markdown; charset=utf-8",
        metadata={
            "batchdrop-job": JOB,
            "batchdrop-custom-id": "doc-000001-0123456789abcdef",
            "batchdrop-source": "inbox/default/q3/report.txt",
            "batchdrop-version-id": "v1",
            "batchdrop-model": "claude-haiku-4-5",
            "batchdrop-stop-reason": "max_tokens",
        },
    )


def test_succeeded_line_with_json_result_key_is_json() -> None:
    entry = _entry("invoice.txt", profile="extract", suffix=".json")
    obj = result_object(
        JOB,
        entry,
        ResultLine.of(_succeeded([{"type": "text", "text": '{"total": 3}'}], model="claude-sonnet-4-6")),
    )
    assert obj.key == "results/extract/invoice.txt.json"
    assert obj.body == b'{\n  "total": 3\n}\n'  # validated and pretty-printed
    assert obj.content_type == "application/json; charset=utf-8"
    assert obj.outcome == "succeeded"
    assert obj.metadata["batchdrop-model"] == "claude-sonnet-4-6"
    assert obj.metadata["batchdrop-stop-reason"] == "end_turn"


def test_json_answer_in_a_code_fence_is_accepted() -> None:
    entry = _entry("invoice.txt", profile="extract", suffix=".json")
    fenced = '```json\n{"total": 3, "currency": "€"}\n```'
    obj = result_object(JOB, entry, ResultLine.of(_succeeded([{"type": "text", "text": fenced}])))
    assert json.loads(obj.body) == {"total": 3, "currency": "€"}


def test_answer_that_is_not_json_becomes_an_error_with_the_answer_kept() -> None:
    entry = _entry("invoice.txt", profile="extract", suffix=".json")
    obj = result_object(JOB, entry, ResultLine.of(_succeeded([{"type": "text", "text": "The total is 3."}])))
    assert obj.key == entry.error_key
    assert obj.outcome == "invalid_json"
    body = json.loads(obj.body)
    assert body["result_type"] == "invalid_json"
    assert body["reason"].startswith("the profile asks for JSON and the answer is not valid JSON")
    assert body["answer"] == "The total is 3."


@pytest.mark.parametrize(
    ("error_type", "message"),
    [
        ("invalid_request_error", "messages: Field required"),
        ("overloaded_error", "Overloaded"),
        ("rate_limit_error", "Number of request tokens has exceeded your rate limit"),
        ("api_error", "Internal server error"),
    ],
)
def test_errored_line_becomes_error_json(error_type: str, message: str) -> None:
    entry = _entry()
    obj = result_object(JOB, entry, ResultLine.of(_errored(error_type, message)))
    assert obj.key == "results/default/q3/report.txt.error.json"
    assert obj.content_type == "application/json; charset=utf-8"
    assert obj.metadata == {
        "batchdrop-job": JOB,
        "batchdrop-custom-id": "doc-000001-0123456789abcdef",
        "batchdrop-source": "inbox/default/q3/report.txt",
        "batchdrop-version-id": "v1",
    }
    assert _body(obj) == {
        "document": "inbox/default/q3/report.txt",
        "version_id": "v1",
        "profile": "default",
        "job_id": JOB,
        "custom_id": "doc-000001-0123456789abcdef",
        "result_type": "errored",
        "reason": f"the API answered {error_type}: {message}",
        "error": {"type": error_type, "message": message},
    }


def test_errored_line_without_message() -> None:
    obj = result_object(JOB, _entry(), ResultLine.of(_errored("api_error", "")))
    body = _body(obj)
    assert body["reason"] == "the API answered api_error"
    assert body["error"] == {"type": "api_error", "message": ""}


def test_errored_line_without_error_body() -> None:
    line = {"custom_id": "b", "result": {"type": "errored", "error": None}}
    body = _body(result_object(JOB, _entry(), ResultLine.of(line)))
    assert body["error"] == {"type": "unknown_error", "message": ""}
    assert body["reason"] == "the API answered unknown_error"


@pytest.mark.parametrize(
    ("result_type", "reason"),
    [
        ("expired", "the batch expired (24 h) before this request was processed"),
        ("canceled", "the batch was canceled before this request was processed"),
    ],
)
def test_expired_and_canceled_lines_become_errors_with_reason(result_type: str, reason: str) -> None:
    obj = result_object(JOB, _entry(), ResultLine.of({"custom_id": "c", "result": {"type": result_type}}))
    assert obj.key == "results/default/q3/report.txt.error.json"
    body = _body(obj)
    assert body["result_type"] == result_type
    assert body["reason"] == reason
    assert body["error"] == {"type": result_type, "message": reason}
    assert body["job_id"] == JOB


def test_error_body_keeps_unicode_unescaped() -> None:
    entry = _entry("été/notes, v2.txt")
    obj = result_object(JOB, entry, ResultLine.of({"custom_id": "c", "result": {"type": "expired"}}))
    assert "été/notes, v2.txt".encode() in obj.body
    assert _body(obj)["document"] == "inbox/default/été/notes, v2.txt"


def test_missing_object() -> None:
    obj = missing_object(JOB, _entry())
    assert obj.key == "results/default/q3/report.txt.error.json"
    assert obj.content_type == "application/json; charset=utf-8"
    reason = "the batch results have no line for this request"
    assert _body(obj) == {
        "document": "inbox/default/q3/report.txt",
        "version_id": "v1",
        "profile": "default",
        "job_id": JOB,
        "custom_id": "doc-000001-0123456789abcdef",
        "result_type": "missing",
        "reason": reason,
        "error": {"type": "missing", "message": reason},
    }


def test_error_object_without_job() -> None:
    entry = _entry("a.pdf", result_key=None, status=REJECTED)
    obj = error_object(None, entry, result_type="rejected", reason="unsupported file type '.pdf'")
    assert obj.metadata == {
        "batchdrop-job": "",
        "batchdrop-custom-id": entry.custom_id,
        "batchdrop-source": "inbox/default/a.pdf",
        "batchdrop-version-id": "v1",
    }
    body = _body(obj)
    assert body["job_id"] is None
    assert body["error"] == {"type": "rejected", "message": "unsupported file type '.pdf'"}


# --- JobSummary ---------------------------------------------------------------------------------


def _summary() -> JobSummary:
    return JobSummary(job_id=JOB, batch_id="msgbatch_013Zva2CMHLNnXjNJJKqJ2EF", prices=PriceTable.bundled())


def _usage(input_tokens: int, output_tokens: int, **extra: Any) -> dict[str, Any]:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens, **extra}


def test_summary_counts_usage_and_cost_with_unknown_model() -> None:
    summary = _summary()
    text = [{"type": "text", "text": "x"}]
    summary.record_result(
        _entry("a.txt"),
        ResultLine.of(_succeeded(text, model="claude-haiku-4-5", usage=_usage(1_000_000, 100_000))),
    )
    summary.record_result(
        _entry("b.txt"),
        ResultLine.of(
            _succeeded(
                text,
                model="claude-haiku-4-5",
                stop_reason="max_tokens",
                usage=_usage(500_000, 0, cache_read_input_tokens=1_000_000),
            )
        ),
    )
    summary.record_result(
        _entry("c.txt", profile="extract"),
        ResultLine.of(_succeeded(text, model="claude-sonnet-4-6", usage=_usage(1_000_000, 1_000_000))),
    )
    summary.record_result(
        _entry("d.txt"),
        ResultLine.of(_succeeded(text, model="claude-mystery-9", usage=_usage(2_000_000, 3_000_000))),
    )
    summary.record_result(_entry("e.txt"), ResultLine.of(_errored("overloaded_error", "Overloaded")))
    summary.record_result(_entry("f.txt"), ResultLine.of({"custom_id": "f", "result": {"type": "expired"}}))
    summary.record_result(_entry("g.txt"), ResultLine.of({"custom_id": "g", "result": {"type": "canceled"}}))
    summary.record_failure(
        _entry("h.pdf", result_key=None, status=REJECTED), "rejected", "unsupported file type '.pdf'"
    )
    summary.record_failure(_entry("i.txt"), "missing", "the batch results have no line for this request")

    assert summary.documents == 9
    assert summary.usage_by_model == {
        "claude-haiku-4-5": TokenUsage(
            input_tokens=1_500_000, output_tokens=100_000, cache_read_tokens=1_000_000
        ),
        "claude-sonnet-4-6": TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000),
        "claude-mystery-9": TokenUsage(input_tokens=2_000_000, output_tokens=3_000_000),
    }
    assert summary.total_usage == TokenUsage(
        input_tokens=4_500_000, output_tokens=4_100_000, cache_read_tokens=1_000_000
    )

    cost, unknown = summary.cost()
    # haiku 4.5: 1.5 * 1 + 0.1 * 5 + 1.0 * 0.1 = 2.1; sonnet: 1 * 3 + 1 * 15 = 18
    assert cost.standard == pytest.approx(20.1)
    assert cost.batch == pytest.approx(10.05)
    assert unknown == ["claude-mystery-9"]

    data = summary.to_dict(status="completed")
    assert data["job_id"] == JOB
    assert data["batch_id"] == "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"
    assert data["status"] == "completed"
    assert data["documents"] == 9
    assert data["counts"] == {
        "succeeded": 4,
        "errored": 1,
        "expired": 1,
        "canceled": 1,
        "invalid_json": 0,
        "invalid_output": 0,
        "rejected": 1,
        "missing": 1,
        "not_submitted": 0,
        "archived": 0,
        "superseded": 0,
        "retried": 0,
    }
    assert data["documents_by_profile"] == {"default": 8, "extract": 1}
    assert data["tokens"] == {
        "input": 4_500_000,
        "output": 4_100_000,
        "thinking": 0,
        "cache_write_5m": 0,
        "cache_write_1h": 0,
        "cache_read": 1_000_000,
    }
    assert list(data["tokens_by_model"]) == [
        "claude-haiku-4-5",
        "claude-mystery-9",
        "claude-sonnet-4-6",
    ]
    assert data["tokens_by_model"]["claude-mystery-9"]["output"] == 3_000_000
    assert data["stop_reasons"] == {"end_turn": 3, "max_tokens": 1}
    assert data["cost"] == {
        "currency": "USD",
        "complete": False,
        "unknown_price_models": ["claude-mystery-9"],
        "approximate": False,
        "approximate_models": [],
        "unverified_price_models": [],
        "batch": pytest.approx(10.05),
        "standard": pytest.approx(20.1),
        "savings": pytest.approx(10.05),
    }
    assert data["errors"] == [
        {
            "document": "inbox/default/e.txt",
            "type": "overloaded_error",
            "message": "Overloaded",
            "error_key": "results/default/e.txt.error.json",
        },
        {
            "document": "inbox/default/f.txt",
            "type": "expired",
            "message": "the batch expired (24 h) before this request was processed",
            "error_key": "results/default/f.txt.error.json",
        },
        {
            "document": "inbox/default/g.txt",
            "type": "canceled",
            "message": "the batch was canceled before this request was processed",
            "error_key": "results/default/g.txt.error.json",
        },
        {
            "document": "inbox/default/h.pdf",
            "type": "rejected",
            "message": "unsupported file type '.pdf'",
            "error_key": "results/default/h.pdf.error.json",
        },
        {
            "document": "inbox/default/i.txt",
            "type": "missing",
            "message": "the batch results have no line for this request",
            "error_key": "results/default/i.txt.error.json",
        },
    ]
    assert data["errors_truncated"] is False
    json.dumps(data)  # the summary is written to S3 as JSON


def test_summary_all_priced_is_complete() -> None:
    summary = _summary()
    summary.record_result(
        _entry(),
        ResultLine.of(_succeeded([], model="claude-opus-4-1-20250805", usage=_usage(1_000_000, 1_000_000))),
    )
    data = summary.to_dict()
    assert data["cost"] == {
        "currency": "USD",
        "complete": True,
        "unknown_price_models": [],
        "approximate": False,
        "approximate_models": [],
        "unverified_price_models": [],
        "batch": pytest.approx(45.0),
        "standard": pytest.approx(90.0),
        "savings": pytest.approx(45.0),
    }


def test_summary_only_unknown_models_costs_zero_but_is_incomplete() -> None:
    summary = _summary()
    summary.record_result(_entry(), ResultLine.of(_succeeded([], model="gpt-4o", usage=_usage(10, 10))))
    cost = summary.to_dict()["cost"]
    assert cost["complete"] is False
    assert cost["unknown_price_models"] == ["gpt-4o"]


def test_summary_of_nothing() -> None:
    data = _summary().to_dict()
    assert data["documents"] == 0
    assert data["counts"] == {
        "succeeded": 0,
        "errored": 0,
        "expired": 0,
        "canceled": 0,
        "invalid_json": 0,
        "invalid_output": 0,
        "rejected": 0,
        "missing": 0,
        "not_submitted": 0,
        "archived": 0,
        "superseded": 0,
        "retried": 0,
    }
    assert data["errors"] == []
    assert data["errors_truncated"] is False
    assert data["cost"]["complete"] is True
    assert data["cost"]["batch"] == 0


def test_summary_succeeded_without_model_falls_back_to_entry_model() -> None:
    summary = _summary()
    line = _succeeded([], usage=_usage(1, 2))
    del line["result"]["message"]["model"]
    summary.record_result(_entry(model="claude-sonnet-4-6"), ResultLine.of(line))
    assert summary.usage_by_model == {"claude-sonnet-4-6": TokenUsage(input_tokens=1, output_tokens=2)}


def test_summary_errors_capped() -> None:
    summary = _summary()
    failures = MAX_ERRORS_IN_SUMMARY + 5
    for n in range(failures):
        summary.record_result(_entry(f"{n}.txt"), ResultLine.of(_errored()))
    summary.record_result(_entry("ok.txt"), ResultLine.of(_succeeded([{"type": "text", "text": "ok"}])))
    data = summary.to_dict()
    assert MAX_ERRORS_IN_SUMMARY == 100
    assert data["documents"] == failures + 1
    assert data["counts"]["errored"] == failures
    assert len(data["errors"]) == MAX_ERRORS_IN_SUMMARY
    assert data["errors"][0]["document"] == "inbox/default/0.txt"
    assert data["errors"][-1]["document"] == f"inbox/default/{MAX_ERRORS_IN_SUMMARY - 1}.txt"
    assert data["errors_truncated"] is True


def test_summary_errors_exactly_at_cap_not_truncated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_summary, "MAX_ERRORS_IN_SUMMARY", 3)
    summary = _summary()
    for n in range(3):
        summary.record_failure(_entry(f"{n}.txt"), "rejected", "empty")
    assert summary.to_dict()["errors_truncated"] is False
    summary.record_failure(_entry("3.txt"), "rejected", "empty")
    data = summary.to_dict()
    assert len(data["errors"]) == 3
    assert data["counts"]["rejected"] == 4
    assert data["errors_truncated"] is True


def test_record_failure_rejected() -> None:
    summary = _summary()
    entry = _entry("scan.pdf", profile="extract", result_key=None, status=REJECTED)
    summary.record_failure(entry, "rejected", "unsupported file type '.pdf'")
    data = summary.to_dict()
    assert data["documents"] == 1
    assert data["counts"]["rejected"] == 1
    assert data["documents_by_profile"] == {"extract": 1}
    assert data["tokens"] == TokenUsage().as_dict()
    assert data["errors"] == [
        {
            "document": "inbox/extract/scan.pdf",
            "type": "rejected",
            "message": "unsupported file type '.pdf'",
            "error_key": "results/extract/scan.pdf.error.json",
        }
    ]


# --- metadata, archival, superseded versions ----------------------------------------------------


def test_metadata_value_quotes_to_ascii_and_caps_with_a_digest() -> None:
    assert results.metadata_value("inbox/default/été notes.txt") == "inbox/default/%C3%A9t%C3%A9%20notes.txt"
    long_a, long_b = "inbox/" + "é" * 600 + "a", "inbox/" + "é" * 600 + "b"
    capped_a, capped_b = results.metadata_value(long_a), results.metadata_value(long_b)
    assert len(capped_a) <= results.METADATA_VALUE_LIMIT and len(capped_b) <= results.METADATA_VALUE_LIMIT
    assert capped_a != capped_b  # the digest of the whole keeps them apart
    assert capped_a.isascii() and "#" in capped_a
    head = capped_a.rsplit("#", 1)[0]
    assert head.count("%") * 3 == len(head) - len("inbox/")  # no escape cut in half


def test_result_objects_carry_the_versions_sequencer() -> None:
    entry = replace(_entry(), sequencer="0055AED6DCD90281E5")
    answer = result_object(JOB, entry, ResultLine.of(_succeeded([{"type": "text", "text": "ok"}])))
    error = result_object(JOB, entry, ResultLine.of(_errored()))
    for obj in (answer, error):
        assert obj.metadata["batchdrop-sequencer"] == "0055AED6DCD90281E5"
        assert obj.metadata["batchdrop-version-id"] == "v1"
        assert obj.metadata["batchdrop-source"] == "inbox/default/q3/report.txt"


def test_archived_object_says_why_with_the_batch_and_dates() -> None:
    archived = results.ResultsArchived(
        "msgbatch_01", created_at="2026-10-01T09:00:00Z", ended_at="2026-10-01T10:00:00Z"
    )
    obj = results.archived_object(JOB, _entry(), archived)
    body = _body(obj)
    assert obj.key == "results/default/q3/report.txt.error.json" and obj.outcome == "archived"
    assert body["result_type"] == "archived"
    assert body["reason"] == (
        "the results of batch msgbatch_01 were archived by the API before batchdrop collected them "
        "(the API keeps results 29 days after a batch is created; batch created 2026-10-01T09:00:00Z, "
        "ended 2026-10-01T10:00:00Z)"
    )
    assert archived.as_dict()["archived_at"] is None


def test_summary_counts_a_superseded_version_bills_it_and_names_the_newer() -> None:
    summary = _summary()
    entry = _entry()
    holder = results.Superseded(
        key="results/default/q3/report.txt.md", version_id="v2", sequencer="00F0", job_id="job-2"
    )
    summary.record_superseded(
        entry, "succeeded", holder, ResultLine.of(_succeeded([{"type": "text", "text": "x"}]))
    )
    summary.record_result(_entry("b.txt"), ResultLine.of(_succeeded([{"type": "text", "text": "y"}])))
    data = summary.to_dict()
    assert data["counts"]["superseded"] == 1 and data["counts"]["succeeded"] == 1
    assert data["documents"] == 2 and summary.failures == 0
    assert data["tokens"]["input"] == 32  # both answers were billed
    (error,) = data["errors"]
    assert error["type"] == "superseded"
    assert error["newer_version"] == {
        "key": "results/default/q3/report.txt.md",
        "version_id": "v2",
        "sequencer": "00F0",
        "job_id": "job-2",
    }
    assert "results/default/q3/report.txt.md holds version v2 (job job-2)" in error["message"]
    assert data["errors_truncated"] is False


def test_summary_state_round_trips_superseded_and_archived() -> None:
    summary = _summary()
    holder = results.Superseded(key="k", version_id=None, sequencer="01", job_id=None)
    summary.record_superseded(_entry(), "errored", holder)
    summary.record_failure(_entry("b.txt"), "archived", "archived")
    again = JobSummary.from_state(
        JOB, summary.batch_id, PriceTable.bundled(), json.loads(json.dumps(summary.to_state()))
    )
    assert again.to_dict() == summary.to_dict()
    assert again.failures == 1


# --- result_object of a schema profile (structured outputs) --------------------------------------

RECEIPT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["total"],
    "properties": {"total": {"type": "number"}},
}


def _checked(text: str, stop_reason: str = "end_turn") -> tuple[dict[str, Any], Any]:
    from batchdrop.domain.structured import check_answer, validator_of

    line = _succeeded(
        [
            {"type": "thinking", "thinking": "the total is on the last line", "signature": "s"},
            {"type": "text", "text": text},
        ],
        stop_reason=stop_reason,
    )
    return line, check_answer(
        answer_text(line["result"]["message"]), stop_reason, validator_of(RECEIPT_SCHEMA, "s")
    )


def test_a_valid_schema_answer_is_written_as_its_json_without_the_thinking() -> None:
    entry = _entry("receipts/cafe.jpg", profile="extract", suffix=".json")
    line, check = _checked('{"total": 7.5}')
    obj = result_object(JOB, entry, ResultLine.of(line), check)
    assert (obj.key, obj.outcome, obj.content_type) == (
        entry.result_key,
        "succeeded",
        "application/json; charset=utf-8",
    )
    assert json.loads(obj.body) == {"total": 7.5}
    assert b"last line" not in obj.body


def test_a_schema_answer_invalid_on_its_last_attempt_keeps_the_answer_and_the_errors() -> None:
    entry = replace(_entry("receipts/cafe.jpg", profile="extract", suffix=".json"), attempt=3)
    line, check = _checked('{"total": "7,50"}')
    obj = result_object(JOB, entry, ResultLine.of(line), check)
    assert (obj.key, obj.outcome) == (entry.error_key, "invalid_output")
    body = _body(obj)
    assert body["result_type"] == "invalid_output"
    assert body["answer"] == '{"total": "7,50"}'
    assert body["validation_errors"] == ["$.total: '7,50' is not of type 'number'"]
    assert body["validation_error_count"] == 1
    assert body["stop_reason"] == "end_turn"
    assert body["error"] == {
        "type": "invalid_output",
        "message": "the answer does not match the profile's JSON Schema: $.total: '7,50' is not of type 'number'",
    }
    assert "asked 3 times in all" in body["reason"] and "max_tokens" in body["reason"]


def test_a_schema_answer_cut_off_by_max_tokens_says_so() -> None:
    entry = _entry("receipts/cafe.jpg", profile="extract", suffix=".json")
    line, check = _checked('{"tot', stop_reason="max_tokens")
    body = _body(result_object(JOB, entry, ResultLine.of(line), check))
    assert body["error"]["type"] == "max_tokens" and body["stop_reason"] == "max_tokens"
    assert body["answer"] == '{"tot' and len(body["validation_errors"]) == 2
    assert "asked 1 time in all" in body["reason"]


def test_without_a_check_a_json_profile_keeps_its_invalid_json_outcome() -> None:
    # output_format json without a schema: as before, no schema, no retry, invalid_json.
    entry = _entry(suffix=".json")
    obj = result_object(JOB, entry, ResultLine.of(_succeeded([{"type": "text", "text": "{not json"}])))
    assert obj.outcome == "invalid_json"


def test_invalid_output_is_one_of_the_outcomes_a_summary_counts() -> None:
    assert "invalid_output" in results.OUTCOMES


# --- cost per request ---------------------------------------------------------------------------


def _haiku_55(input_tokens: int, output_tokens: int, **extra: int) -> dict[str, Any]:
    return _succeeded(
        [{"type": "text", "text": "x"}],
        model="claude-haiku-5-5",
        usage=_usage(input_tokens, output_tokens, **extra),
    )


def test_a_job_of_small_and_large_haiku_5_5_prompts_is_priced_per_request() -> None:
    # Given three small prompts (60,000 tokens each, the small tier) and one large one (150,000)
    summary = _summary()
    for n in range(3):
        summary.record_result(_entry(f"small-{n}.txt"), ResultLine.of(_haiku_55(60_000, 1_000)))
    summary.record_result(_entry("large.txt"), ResultLine.of(_haiku_55(150_000, 2_000)))

    # Then each is priced at the tier of its own prompt size, and the costs are summed
    small = (60_000 * 0.10 + 1_000 * 0.50) / 1e6
    large = (150_000 * 0.50 + 2_000 * 2.50) / 1e6
    cost, unknown = summary.cost()
    assert unknown == []
    assert cost.standard == pytest.approx(3 * small + large)
    assert cost.batch == pytest.approx((3 * small + large) / 2)
    # ... which is not what the summed tokens (one 330,000-token "prompt") would cost
    summed = summary.prices.cost("claude-haiku-5-5", summary.total_usage)
    assert summed is not None
    assert summed.standard == pytest.approx((330_000 * 0.50 + 5_000 * 2.50) / 1e6)
    # (the three small requests at 5x instead of 1x)
    assert summed.standard == pytest.approx(cost.standard + 3 * 4 * small)
    data = summary.to_dict()
    assert data["cost"]["standard"] == pytest.approx(3 * small + large)
    assert data["cost_by_profile"]["default"]["standard"] == pytest.approx(3 * small + large)
    (row,) = data["by_profile_and_model"]
    assert row["line"] == "Claude Haiku 5.5"
    assert row["cost"] == {
        "batch": pytest.approx((3 * small + large) / 2),
        "standard": pytest.approx(3 * small + large),
        "savings": pytest.approx((3 * small + large) / 2),
        "approximate": False,
    }


def test_cache_tokens_push_a_request_into_the_large_tier() -> None:
    summary = _summary()
    # 40,000 input + 60,001 read from the cache: a 100,001-token prompt
    summary.record_result(_entry(), ResultLine.of(_haiku_55(40_000, 100, cache_read_input_tokens=60_001)))
    cost, _ = summary.cost()
    assert cost.standard == pytest.approx((40_000 * 0.50 + 60_001 * 0.05 + 100 * 2.50) / 1e6)


def test_summary_counts_thinking_as_part_of_output() -> None:
    summary = _summary()
    usage = _usage(1_000, 3_000, output_tokens_details={"thinking_tokens": 2_500})
    summary.record_result(_entry(), ResultLine.of(_succeeded([], model="claude-opus-5-5", usage=usage)))
    data = summary.to_dict()
    assert data["tokens"]["output"] == 3_000 and data["tokens"]["thinking"] == 2_500
    assert data["tokens_by_model"]["claude-opus-5-5"]["thinking"] == 2_500
    # output is priced once, thinking included: 1,000 x $4 + 3,000 x $20
    assert data["cost"]["standard"] == pytest.approx((1_000 * 4 + 3_000 * 20) / 1e6)


def test_summary_names_the_prices_date_and_unverified_prices() -> None:
    summary = _summary()
    summary.record_result(
        _entry(), ResultLine.of(_succeeded([], model="claude-fable-5-2", usage=_usage(1_000, 100)))
    )
    data = summary.to_dict()
    assert data["prices_checked"] == "2026-11-30"
    assert data["cost"]["unverified_price_models"] == ["claude-fable-5-2"]
    assert data["cost"]["complete"] is True


def test_record_retry_bills_a_succeeded_answer_asked_again() -> None:
    # Given a structured answer that failed its schema (billed) and a transient failure (not)
    summary = _summary()
    summary.record_retry(_entry("a.txt"), ResultLine.of(_haiku_55(10_000, 500)))
    summary.record_retry(_entry("b.txt"), ResultLine.of(_errored("overloaded_error", "Overloaded")))
    data = summary.to_dict()
    assert data["counts"]["retried"] == 2 and summary.failures == 0
    assert data["tokens"]["input"] == 10_000
    assert data["cost"]["standard"] == pytest.approx((10_000 * 0.10 + 500 * 0.50) / 1e6)
    assert data["stop_reasons"] == {"end_turn": 1}
    assert data["errors"] == []


def test_summary_state_round_trips_costs_per_request() -> None:
    summary = _summary()
    summary.record_result(_entry("a.txt"), ResultLine.of(_haiku_55(90_000, 100)))
    summary.record_result(_entry("b.txt"), ResultLine.of(_haiku_55(110_000, 100)))
    summary.record_result(
        _entry("c.txt"), ResultLine.of(_succeeded([], model="claude-mystery-9", usage=_usage(5, 5)))
    )
    state = json.loads(json.dumps(summary.to_state()))
    again = JobSummary.from_state(JOB, summary.batch_id, PriceTable.bundled(), state)
    assert again.to_dict() == summary.to_dict()
    assert again.cost()[1] == ["claude-mystery-9"]
    # and the resumed summary goes on adding per request
    again.record_result(_entry("d.txt"), ResultLine.of(_haiku_55(90_000, 100)))
    assert again.cost()[0].standard == pytest.approx(
        summary.cost()[0].standard + (90_000 * 0.1 + 100 * 0.5) / 1e6
    )


def _old_state(usage: list[list[Any]]) -> dict[str, Any]:
    """A checkpoint written before costs were kept per request: summed tokens only, no thinking."""
    return {
        "counts": {"succeeded": 2},
        "usage": usage,
        "stop_reasons": {"end_turn": 2},
        "documents_by_profile": {"default": 2},
        "errors": [],
    }


def _old_usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_write_5m_tokens": 0,
        "cache_write_1h_tokens": 0,
        "cache_read_tokens": 0,
    }


def test_an_old_state_of_flat_priced_models_is_priced_exactly() -> None:
    state = _old_state(
        [
            ["default", "claude-haiku-4-5", _old_usage(2_000_000, 100_000)],
            ["extract", "claude-sonnet-4-6", _old_usage(1_000_000, 0)],
            ["extract", "claude-mystery-9", _old_usage(10, 10)],
        ]
    )
    summary = JobSummary.from_state(JOB, None, PriceTable.bundled(), state)
    data = summary.to_dict()
    # haiku 4.5: 2 x $1 + 0.1 x $5 = 2.5; sonnet 4.6: 1 x $3
    assert data["cost"]["standard"] == pytest.approx(5.5)
    assert data["cost"]["approximate"] is False
    assert data["cost"]["unknown_price_models"] == ["claude-mystery-9"]
    assert data["cost_by_profile"]["default"] == {
        "batch": pytest.approx(1.25),
        "standard": pytest.approx(2.5),
        "savings": pytest.approx(1.25),
        "complete": True,
        "approximate": False,
    }
    assert data["tokens"]["thinking"] == 0


def test_an_old_state_of_a_tiered_model_is_marked_approximate_a_lower_bound() -> None:
    # Given an old checkpoint with 300,000 summed Haiku 5.5 input tokens: the request sizes are gone
    state = _old_state(
        [
            ["default", "claude-haiku-5-5", _old_usage(300_000, 1_000)],
            ["default", "claude-haiku-4-5", _old_usage(1_000_000, 0)],
        ]
    )
    summary = JobSummary.from_state(JOB, None, PriceTable.bundled(), state)
    data = summary.to_dict()
    # Then Haiku 5.5 is priced at its first tier and the cost says it is approximate
    assert data["cost"]["standard"] == pytest.approx((300_000 * 0.10 + 1_000 * 0.50) / 1e6 + 1.0)
    assert data["cost"]["approximate"] is True
    assert data["cost"]["approximate_models"] == ["claude-haiku-5-5"]
    assert data["cost"]["complete"] is True
    assert data["cost_by_profile"]["default"]["approximate"] is True
    rows = {row["model"]: row for row in data["by_profile_and_model"]}
    assert rows["claude-haiku-5-5"]["cost"]["approximate"] is True
    assert rows["claude-haiku-4-5"]["cost"]["approximate"] is False
    # and it stays so across the next checkpoint
    again = JobSummary.from_state(JOB, None, PriceTable.bundled(), json.loads(json.dumps(summary.to_state())))
    assert again.to_dict() == data


def test_a_model_unpriced_when_first_billed_stays_incomplete_after_a_price_is_added() -> None:
    # Given a checkpoint from a table that did not know the model
    bare = PriceTable(currency="USD", per_tokens=1_000_000, batch_discount=0.5, checked="2026-01-01")
    summary = JobSummary(job_id=JOB, batch_id=None, prices=bare)
    summary.record_result(_entry("a.txt"), ResultLine.of(_haiku_55(1_000, 100)))
    # When the job resumes with a table that prices it
    again = JobSummary.from_state(JOB, None, PriceTable.bundled(), json.loads(json.dumps(summary.to_state())))
    again.record_result(_entry("b.txt"), ResultLine.of(_haiku_55(1_000, 100)))
    # Then the cost covers the second request only and says it is incomplete
    cost, unknown = again.cost()
    assert unknown == ["claude-haiku-5-5"]
    assert cost.standard == pytest.approx((1_000 * 0.10 + 100 * 0.50) / 1e6)
    assert again.by_profile_and_model()[0].cost is None
