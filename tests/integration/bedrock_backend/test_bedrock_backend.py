"""The Bedrock batch backend with the real boto3 `bedrock` client against the Bedrock emulator
over HTTP and moto's S3: a job created, watched through its statuses, its results read back as
the Claude API's result lines for every record (answers, record errors, a stopped job's
unprocessed records); a create whose answer was lost made once; faults mapped onto the port's
errors; a stop."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from batchdrop.adapters.bedrock_backend import (
    BedrockBatches,
    bedrock_batches,
    client_config,
)
from batchdrop.domain.bedrock import record_id
from batchdrop.domain.keys import bedrock_input_key as input_key
from batchdrop.domain.result_line import ResultLine
from batchdrop.domain.times import parse_time
from batchdrop.ports.batches import BatchBackend, BatchMayExist, BatchRefused, BatchRejected
from batchdrop_local.bedrock_emulator import BedrockEmulatorServer
from tests.bedrock_emulator.conftest import ALL_DONE, BUCKET, FAST, MODEL_ID, REGION, ROLE_ARN
from tests.integration.bedrock_backend.conftest import JOB_ID, requests


def _fits_the_port(backend: BedrockBatches) -> None:
    # Never called: mypy proves the adapter satisfies the port, bound to a job or not.
    _port: BatchBackend = backend
    _bound: BatchBackend = backend.for_job(JOB_ID)


def lines_of(backend: BedrockBatches, batch_id: str) -> dict[str, ResultLine]:
    found: dict[str, ResultLine] = {}
    for text, line in backend.results(batch_id):
        assert json.loads(text) == line
        parsed = ResultLine.of(line)
        assert parsed.custom_id not in found
        found[parsed.custom_id] = parsed
    return found


def test_a_job_is_created_watched_and_read_back_for_every_record(
    backend: BedrockBatches, bedrock_emulator: BedrockEmulatorServer, s3: Any
) -> None:
    # Given 100 requests, two of them made to fail by Bedrock (a 500 each) and one invalid (no
    # messages: Bedrock answers 400 for it)
    sent = requests(100)
    del sent[7]["params"]["messages"]
    failing = [record_id(sent[n]["custom_id"]) for n in (3, 42)]
    bedrock_emulator.update_config(error_records=tuple(failing))

    # When the job is created
    created = backend.for_job(JOB_ID).create(sent)

    # Then its records are at the job's input key, and it counts them from the start
    body = s3.get_object(Bucket=BUCKET, Key=input_key(JOB_ID))["Body"].read().decode()
    records = [json.loads(line) for line in body.splitlines()]
    assert [r["recordId"] for r in records] == [record_id(r["custom_id"]) for r in sent]
    assert all(r["modelInput"]["anthropic_version"] == "bedrock-2023-05-31" for r in records)
    assert all("model" not in r["modelInput"] for r in records)
    assert created.id.startswith(f"arn:aws:bedrock:{REGION}:123456789012:model-invocation-job/")
    assert created.processing_status == "in_progress"
    assert created.request_counts == {
        "processing": 100,
        "succeeded": 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert created.expires_at > created.created_at and created.ended_at is None

    # And it stays in progress through every status before it ends
    for status in ("Submitted", "Validating", "Scheduled", "InProgress"):
        info = backend.retrieve(created.id)
        assert info.processing_status == "in_progress", status
        assert info.requests == 100
        bedrock_emulator.advance(FAST[status])
    info = backend.retrieve(created.id)
    assert info.ended and info.ended_at
    assert info.request_counts == {
        "processing": 0,
        "succeeded": 97,
        "errored": 3,
        "canceled": 0,
        "expired": 0,
    }

    # And its results come back as the Claude API's lines, one for every request
    lines = lines_of(backend, created.id)
    assert set(lines) == {r["custom_id"] for r in sent}
    answered = [line for line in lines.values() if line.succeeded]
    assert len(answered) == 97
    assert all(line.text and line.usage.input_tokens > 0 and line.model == MODEL_ID for line in answered)
    for n in (3, 42):  # Bedrock's 500: worth another attempt
        line = lines[sent[n]["custom_id"]]
        assert line.type == "errored" and line.api_error_type == "api_error" and line.retryable
    invalid = lines[sent[7]["custom_id"]]
    assert invalid.api_error_type == "invalid_request_error" and not invalid.retryable
    assert "messages" in (invalid.api_error_message or "")


def test_a_stopped_job_gives_a_line_for_every_record(
    backend: BedrockBatches, bedrock_emulator: BedrockEmulatorServer
) -> None:
    sent = requests(100)
    created = backend.for_job(JOB_ID).create(sent)
    bedrock_emulator.advance(
        FAST["Submitted"] + FAST["Validating"] + FAST["Scheduled"] + FAST["InProgress"] / 2
    )

    stopping = backend.cancel(created.id)

    assert stopping is not None and stopping.processing_status == "canceling"
    bedrock_emulator.advance(FAST["Stopping"])
    ended = backend.retrieve(created.id)
    assert ended.ended
    counts = ended.request_counts
    assert counts["canceled"] > 0 and counts["succeeded"] > 0 and ended.requests == 100
    lines = lines_of(backend, created.id)
    assert set(lines) == {r["custom_id"] for r in sent}
    canceled = [line for line in lines.values() if line.type == "canceled"]
    assert len(canceled) == counts["canceled"]
    assert sum(line.succeeded for line in lines.values()) == counts["succeeded"]
    # And stopping an ended job has nothing to stop
    assert backend.cancel(created.id) is None


def test_an_expired_job_gives_its_unprocessed_records_as_expired(
    backend: BedrockBatches, bedrock_emulator: BedrockEmulatorServer
) -> None:
    bedrock_emulator.update_config(expiry_speedup=3600 * 24 / (ALL_DONE / 2))  # 24 h in half the run
    created = backend.for_job(JOB_ID).create(requests(100))
    bedrock_emulator.advance(ALL_DONE)
    ended = backend.retrieve(created.id)
    assert ended.ended and ended.request_counts["expired"] > 0
    lines = lines_of(backend, created.id)
    assert len(lines) == 100
    expired = [line for line in lines.values() if line.type == "expired"]
    assert len(expired) == ended.request_counts["expired"] and all(line.retryable for line in expired)


def test_a_create_whose_answer_was_lost_makes_one_job(
    backend: BedrockBatches, bedrock_emulator: BedrockEmulatorServer
) -> None:
    # Given a create that takes effect and then answers 500 (the answer lost)
    bedrock_emulator.inject_fault("create", 500, after_effect=True)
    bound = backend.for_job(JOB_ID)
    with pytest.raises(BatchMayExist):
        bound.create(requests(100))
    # When the job's creation is tried again
    again = bound.create(requests(100))
    # Then it is the job the first create made: one job
    stats = bedrock_emulator.stats()
    assert list(stats["jobs"]) == [again.id.rsplit("/", 1)[-1]]
    # And a listing finds it with its size before Bedrock validated it
    listed = list(backend.created_since(parse_time(again.created_at)))
    assert [(b.id, b.requests) for b in listed] == [(again.id, 100)]


def test_botocore_retries_a_lost_create_into_the_same_job(
    bedrock_emulator: BedrockEmulatorServer, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    client = boto3.client(
        "bedrock",
        endpoint_url=bedrock_emulator.url,
        region_name=REGION,
        config=client_config(),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    backend = bedrock_batches(client, s3, BUCKET, ROLE_ARN)
    bedrock_emulator.inject_fault("create", 500, after_effect=True, count=2)
    created = backend.for_job(JOB_ID).create(requests(100))
    stats = bedrock_emulator.stats()
    assert stats["calls"]["create"] == 3
    assert len(stats["jobs"]) == 1
    assert created.requests == 100


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (429, None, BatchMayExist),  # throttled: an earlier attempt may have made it
        (500, None, BatchMayExist),
        (503, None, BatchMayExist),
        (400, "ServiceQuotaExceededException", BatchRefused),  # too many jobs: none made, later
    ],
)
def test_faults_of_a_create_are_the_ports_errors(
    backend: BedrockBatches,
    bedrock_emulator: BedrockEmulatorServer,
    status: int,
    code: str | None,
    error: type,
) -> None:
    bedrock_emulator.inject_fault("create", status, code=code)
    with pytest.raises(error) as raised:
        backend.for_job(JOB_ID).create(requests(100))
    if error is BatchRefused:
        assert raised.value.retry_after is None  # type: ignore[attr-defined]
    assert bedrock_emulator.stats()["jobs"] == {}
    # And the create made after the fault makes the job's one job
    assert backend.for_job(JOB_ID).create(requests(100)).requests == 100
    assert len(bedrock_emulator.stats()["jobs"]) == 1


def test_a_job_bedrock_refuses_is_rejected_with_its_message(
    backend: BedrockBatches, bedrock_emulator: BedrockEmulatorServer
) -> None:
    with pytest.raises(BatchRejected, match="ValidationException") as raised:
        backend.for_job(JOB_ID).create(requests(10))  # below the minimum of 100 records
    assert "100" in str(raised.value)


def test_what_bedrock_batch_lacks_is_refused_before_anything_is_sent(
    backend: BedrockBatches, bedrock_emulator: BedrockEmulatorServer
) -> None:
    cached = requests(
        100, system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    )
    with pytest.raises(BatchRejected, match=r"prompt caching \(cache_control at system\[0\]\)"):
        backend.for_job(JOB_ID).create(cached)
    with pytest.raises(BatchRejected, match="one model"):
        backend.for_job(JOB_ID).create(
            requests(50) + requests(50, model="us.anthropic.claude-haiku-4-5-20251001-v1:0")
        )
    with pytest.raises(TypeError, match="for_job"):
        backend.create(requests(100))
    assert bedrock_emulator.stats()["calls"]["create"] == 0


def test_a_failed_jobs_records_come_back_errored_with_its_message(
    backend: BedrockBatches, bedrock_emulator: BedrockEmulatorServer
) -> None:
    # Given a job Bedrock fails while it validates (too few records, checked then)
    bedrock_emulator.update_config(min_records_check="validation")
    sent = requests(10)
    created = backend.for_job(JOB_ID).create(sent)
    bedrock_emulator.advance(ALL_DONE)
    ended = backend.retrieve(created.id)
    assert ended.ended and ended.request_counts["errored"] == 10
    # Then every record has a line, errored with the job's message, not worth the same retry
    lines = lines_of(backend, created.id)
    assert set(lines) == {r["custom_id"] for r in sent}
    for line in lines.values():
        assert (
            line.type == "errored" and line.api_error_type == "invalid_request_error" and not line.retryable
        )
        assert (line.api_error_message or "").startswith("the Bedrock job failed: ")


def test_a_create_sent_again_with_other_settings_finds_the_jobs_one_job(
    backend: BedrockBatches, bedrock_emulator: BedrockEmulatorServer, s3: Any
) -> None:
    # Given the job's create made with a 24-hour timeout
    first = backend.for_job(JOB_ID).create(requests(100))
    # When a writer configured otherwise (48 hours) creates it again: the token is the same, the
    # parameters differ, and Bedrock answers ConflictException
    other = bedrock_batches(backend._bedrock, s3, BUCKET, ROLE_ARN, timeout_hours=48)
    again = other.for_job(JOB_ID).create(requests(100))
    # Then it is the same job, found by its name
    assert again.id == first.id
    assert len(bedrock_emulator.stats()["jobs"]) == 1


def test_results_of_a_job_still_running_are_refused(
    backend: BedrockBatches, bedrock_emulator: BedrockEmulatorServer
) -> None:
    created = backend.for_job(JOB_ID).create(requests(100))
    with pytest.raises(RuntimeError, match="has not ended"):
        list(backend.results(created.id))


def test_a_wiring_builds_it_from_the_functions_session_and_the_endpoint_variable(
    bedrock_emulator: BedrockEmulatorServer, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The functions' session leaves timestamps as text; the endpoint comes from configuration only
    from batchdrop.adapters import sessions
    from batchdrop.adapters.bedrock_backend import bedrock_backend_from_session

    for name, value in {
        "AWS_ENDPOINT_URL_BEDROCK": bedrock_emulator.url,
        "AWS_ENDPOINT_URL_S3": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    backend = bedrock_backend_from_session(sessions.session(), BUCKET, ROLE_ARN, timeout_hours=72)
    created = backend.for_job(JOB_ID).create(requests(100))
    assert created.requests == 100
    assert (parse_time(created.expires_at) - parse_time(created.created_at)).total_seconds() == 72 * 3600
    bedrock_emulator.advance(ALL_DONE)
    assert backend.retrieve(created.id).ended
    assert len(lines_of(backend, created.id)) == 100
    assert [b.id for b in backend.created_since(parse_time(created.created_at))] == [created.id]


def test_an_input_that_cannot_be_written_asks_for_no_job_and_is_refused_for_now(
    backend: BedrockBatches, bedrock_emulator: BedrockEmulatorServer, s3: Any
) -> None:
    elsewhere = bedrock_batches(backend._bedrock, s3, "no-such-bucket", ROLE_ARN)
    with pytest.raises(BatchRefused, match="writing the Bedrock input") as raised:
        elsewhere.for_job(JOB_ID).create(requests(100))
    assert raised.value.retry_after is None
    assert bedrock_emulator.stats()["calls"]["create"] == 0
