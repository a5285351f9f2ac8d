"""domain.bedrock: requests as Bedrock records, job names and tokens, job statuses read as a
batch's, and Bedrock's output lines read back as the Claude API's result lines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from batchdrop.domain.bedrock import (
    ENDED_STATUSES,
    BedrockUnsupported,
    JobView,
    cache_control_paths,
    client_request_token,
    custom_id_of,
    job_name,
    missing_line,
    record_id,
    records_in_name,
    result_line,
    to_record,
)
from batchdrop.domain.bedrock.jobs import processing_status, request_counts
from batchdrop.domain.bedrock.outputs import error_type, failed_job_error_type
from batchdrop.domain.documents import custom_id
from batchdrop.domain.result_line import ResultLine

MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
ARN = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdef123456"


# ---------------------------------------------------------------- records


@pytest.mark.parametrize(
    "value",
    [custom_id(1, "inbox/a.pdf", None), "a", "a-b_c", "X", "XX0-_X", "doc-000001-0123456789abcdef", "0" * 32],
)
def test_a_record_id_is_alphanumeric_and_gives_back_its_custom_id(value: str) -> None:
    made = record_id(value)
    assert made.isascii() and made.isalnum()
    assert custom_id_of(made) == value


def test_record_ids_of_distinct_custom_ids_differ() -> None:
    ids = ["a-b", "a_b", "aX0b", "aXb", "a-_b", "a_-b", "ab"]
    assert len({record_id(value) for value in ids}) == len(ids)


def test_a_record_id_batchdrop_did_not_make_is_refused() -> None:
    with pytest.raises(ValueError, match="not made by batchdrop"):
        custom_id_of("abcX9")
    with pytest.raises(ValueError, match="not made by batchdrop"):
        custom_id_of("abcX")


def test_a_custom_id_too_long_or_with_other_characters_is_refused() -> None:
    with pytest.raises(BedrockUnsupported, match="more than 64"):
        record_id("-" * 40)
    with pytest.raises(BedrockUnsupported, match="not a letter"):
        record_id("a.b")


def test_a_request_becomes_an_invoke_model_body_without_its_model() -> None:
    params = {
        "model": MODEL,
        "max_tokens": 512,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "thinking": {"type": "adaptive"},
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}, "effort": "low"},
    }
    model, record = to_record({"custom_id": "doc-000001-ab", "params": params})
    assert model == MODEL
    assert record["recordId"] == "docX0000001X0ab"
    body = record["modelInput"]
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in body
    assert {k: v for k, v in body.items() if k != "anthropic_version"} == {
        k: v for k, v in params.items() if k != "model"
    }
    assert params["model"] == MODEL  # the request itself is left as it was


def test_a_request_without_a_model_leaves_it_to_the_job() -> None:
    model, _ = to_record({"custom_id": "a", "params": {"max_tokens": 1, "messages": []}})
    assert model is None


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}]}, "system[0]"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "t"},
                            {"type": "document", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
                        ],
                    }
                ]
            },
            "messages[0].content[1]",
        ),
        ({"tools": [{"name": "t", "cache_control": {"type": "ephemeral"}}]}, "tools[0]"),
        ({"cache_control": {"type": "ephemeral"}}, "params"),
    ],
)
def test_prompt_caching_anywhere_is_refused_with_where_it_is(params: dict[str, Any], where: str) -> None:
    assert list(cache_control_paths(params)) == [where]
    with pytest.raises(BedrockUnsupported) as raised:
        to_record({"custom_id": "doc-1", "params": {"model": MODEL, "max_tokens": 1, **params}})
    text = str(raised.value)
    assert f"prompt caching (cache_control at {where})" in text
    assert "cache_system_prompt" in text and "anthropic backend" in text


def test_streaming_and_fast_mode_are_refused() -> None:
    for name in ("stream", "speed"):
        with pytest.raises(BedrockUnsupported, match=name):
            to_record(
                {"custom_id": "a", "params": {"max_tokens": 1, name: True if name == "stream" else "fast"}}
            )


def test_a_request_without_params_is_refused() -> None:
    with pytest.raises(BedrockUnsupported, match="no params"):
        to_record({"custom_id": "a"})


# ---------------------------------------------------------------- names and tokens


def test_the_name_and_token_come_from_the_job_id() -> None:
    job_id = "20261125T152301Z-3f9a1c2b-a2"
    assert job_name(job_id, 150) == "batchdrop-20261125T152301Z-3f9a1c2b-a2-r150"
    assert records_in_name(job_name(job_id, 150)) == 150
    assert records_in_name("someone-elses-job-r3") is None
    assert client_request_token(job_id) == "batchdrop-20261125T152301Z-3f9a1c2b-a2"
    assert client_request_token(job_id) == client_request_token(job_id)
    assert client_request_token(job_id) != client_request_token("20261125T152301Z-3f9a1c2b-a3")


def test_a_job_id_that_makes_no_valid_name_is_refused() -> None:
    with pytest.raises(ValueError, match="jobName"):
        job_name("x" * 60, 1)
    with pytest.raises(ValueError, match="clientRequestToken"):
        client_request_token("a_b")


# ---------------------------------------------------------------- statuses


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Submitted", "in_progress"),
        ("Validating", "in_progress"),
        ("Scheduled", "in_progress"),
        ("InProgress", "in_progress"),
        ("Stopping", "canceling"),
        ("Completed", "ended"),
        ("PartiallyCompleted", "ended"),
        ("Failed", "ended"),
        ("Stopped", "ended"),
        ("Expired", "ended"),
    ],
)
def test_each_bedrock_status_is_a_processing_status(status: str, expected: str) -> None:
    assert processing_status(status) == expected
    assert (status in ENDED_STATUSES) == (expected == "ended")


@pytest.mark.parametrize(
    ("status", "counts"),
    [
        ("InProgress", {"processing": 4, "succeeded": 5, "errored": 1, "canceled": 0, "expired": 0}),
        ("Stopping", {"processing": 4, "succeeded": 5, "errored": 1, "canceled": 0, "expired": 0}),
        ("Completed", {"processing": 0, "succeeded": 5, "errored": 5, "canceled": 0, "expired": 0}),
        ("PartiallyCompleted", {"processing": 0, "succeeded": 5, "errored": 5, "canceled": 0, "expired": 0}),
        ("Failed", {"processing": 0, "succeeded": 5, "errored": 5, "canceled": 0, "expired": 0}),
        ("Stopped", {"processing": 0, "succeeded": 5, "errored": 1, "canceled": 4, "expired": 0}),
        ("Expired", {"processing": 0, "succeeded": 5, "errored": 1, "canceled": 0, "expired": 4}),
    ],
)
def test_the_counts_add_up_to_the_records_and_say_what_became_of_the_rest(
    status: str, counts: dict[str, int]
) -> None:
    assert request_counts(status, 10, 5, 1) == counts
    assert sum(counts.values()) == 10


def test_a_job_view_reads_gets_answer_parsed_or_as_text() -> None:
    answer = {
        "jobArn": ARN,
        "jobName": "batchdrop-20261202T120000Z-0a1b2c3d-r120",
        "modelId": MODEL,
        "status": "Scheduled",
        "submitTime": datetime(2026, 12, 2, 12, 0, tzinfo=UTC),
        "timeoutDurationInHours": 48,
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://b/jobs/j/bedrock/input/records.jsonl"}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://b/jobs/j/bedrock/output/"}},
    }
    view = JobView.of(answer)
    assert view.job_id == "abcdef123456"
    assert view.processing_status == "in_progress" and not view.ended
    assert view.request_counts["processing"] == 120  # from the name: Bedrock has not counted yet
    assert view.created_at == "2026-12-02T12:00:00Z"
    assert view.expires_at == "2026-12-04T12:00:00Z"
    assert view.ended_at is None
    assert view.input_uri.endswith("records.jsonl") and view.output_uri.endswith("output/")

    as_text = {
        **answer,
        "status": "Completed",
        "submitTime": "2026-12-02T12:00:00.250Z",
        "endTime": "2026-12-02T13:00:00Z",
        "jobExpirationTime": "2026-12-03T12:00:00Z",
        "totalRecordCount": 120,
        "successRecordCount": 119,
        "errorRecordCount": 1,
    }
    ended = JobView.of(as_text)
    assert ended.ended and ended.ended_at == "2026-12-02T13:00:00Z"
    assert ended.created_at == "2026-12-02T12:00:00.250000Z"
    assert ended.expires_at == "2026-12-03T12:00:00Z"
    assert ended.request_counts == {
        "processing": 0,
        "succeeded": 119,
        "errored": 1,
        "canceled": 0,
        "expired": 0,
    }


# ---------------------------------------------------------------- outputs


def test_a_model_output_is_a_succeeded_line_priced_as_the_jobs_model() -> None:
    line: dict[str, Any] = {
        "recordId": record_id("doc-000001-ab"),
        "modelInput": {},
        "modelOutput": {
            "id": "msg_bdrk_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "thinking", "thinking": "..."}, {"type": "text", "text": "Answer"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 10, "output_tokens": 3},
        },
    }
    mapped = result_line(line, MODEL)
    parsed = ResultLine.of(mapped)
    assert parsed.custom_id == "doc-000001-ab"
    assert parsed.succeeded and parsed.text == "Answer" and parsed.stop_reason == "end_turn"
    assert parsed.model == MODEL
    assert parsed.usage.input_tokens == 10 and parsed.usage.output_tokens == 3
    assert mapped["result"]["message"]["usage"]["service_tier"] == "batch"
    assert line["modelOutput"]["model"] == "claude-sonnet-4-5-20250929"  # the line is left as it was


@pytest.mark.parametrize(
    ("code", "kind", "retryable"),
    [
        (400, "invalid_request_error", False),
        ("400", "invalid_request_error", False),
        (403, "permission_error", False),
        (408, "timeout_error", True),
        (429, "rate_limit_error", True),
        (500, "api_error", True),
        (503, "overloaded_error", True),
        (599, "api_error", True),
        (None, "api_error", True),
        ("odd", "api_error", True),
        (418, "invalid_request_error", False),
    ],
)
def test_a_record_error_is_an_errored_line_the_retry_decision_reads(
    code: Any, kind: str, retryable: bool
) -> None:
    assert error_type(code) == kind
    line = {"recordId": "a", "modelInput": {}, "error": {"errorCode": code, "errorMessage": "why"}}
    parsed = ResultLine.of(result_line(line, MODEL))
    assert parsed.type == "errored" and parsed.api_error_type == kind and parsed.api_error_message == "why"
    assert parsed.retryable is retryable


def test_a_line_with_neither_output_nor_error_is_an_error_worth_retrying() -> None:
    parsed = ResultLine.of(result_line({"recordId": "a"}, MODEL))
    assert parsed.type == "errored" and parsed.retryable


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [("Stopped", "canceled", False), ("Expired", "expired", True), ("Completed", "errored", True)],
)
def test_a_record_an_ended_job_has_no_output_for_still_gets_a_line(
    status: str, kind: str, retryable: bool
) -> None:
    parsed = ResultLine.of(missing_line("doc-1", status))
    assert parsed.custom_id == "doc-1" and parsed.type == kind and parsed.retryable is retryable
    if kind == "errored":
        assert "no output" in parsed.error["message"]


def test_a_failed_jobs_records_say_why_and_whether_to_try_again() -> None:
    invalid = ResultLine.of(missing_line("doc-1", "Failed", "The recordId on line 3 must be alphanumeric"))
    assert invalid.api_error_type == "invalid_request_error" and not invalid.retryable
    assert invalid.error["message"] == "the Bedrock job failed: The recordId on line 3 must be alphanumeric"
    internal = ResultLine.of(missing_line("doc-1", "Failed", "Internal error"))
    assert internal.api_error_type == "api_error" and internal.retryable
    assert failed_job_error_type("") == "api_error"
