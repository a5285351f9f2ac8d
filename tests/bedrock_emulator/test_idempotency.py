"""clientRequestToken: a retried create never makes a second job; the minimum job size."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from batchdrop_local.bedrock_emulator import MIN_RECORDS_MESSAGE, BedrockEmulatorServer
from tests.bedrock_emulator.conftest import (
    ALL_DONE,
    BUCKET,
    MODEL_ID,
    bedrock_client,
    create_job,
    put_input,
    record,
    record_ids,
    standard_job,
    status,
)


def jobs(bedrock) -> list[dict]:
    return bedrock.list_model_invocation_jobs()["invocationJobSummaries"]


def test_the_same_token_returns_the_same_job(emulator: BedrockEmulatorServer, s3, bedrock):
    first = standard_job(s3, bedrock, clientRequestToken="job-0001")
    again = create_job(bedrock, f"s3://{BUCKET}/jobs/job1/records.jsonl", clientRequestToken="job-0001")

    assert again == first
    assert len(jobs(bedrock)) == 1
    assert bedrock.get_model_invocation_job(jobIdentifier=first)["clientRequestToken"] == "job-0001"
    assert emulator.stats()["calls"]["create"] == 2


def test_the_same_token_after_the_job_ended_still_returns_it(emulator, s3, bedrock):
    first = standard_job(s3, bedrock, clientRequestToken="job-0001")
    emulator.advance(ALL_DONE)
    assert (
        create_job(bedrock, f"s3://{BUCKET}/jobs/job1/records.jsonl", clientRequestToken="job-0001") == first
    )
    assert len(jobs(bedrock)) == 1


def test_the_same_token_with_other_parameters_is_a_conflict(emulator, s3, bedrock):
    standard_job(s3, bedrock, clientRequestToken="job-0001")
    with pytest.raises(bedrock.exceptions.ConflictException) as raised:
        create_job(
            bedrock,
            f"s3://{BUCKET}/jobs/job1/records.jsonl",
            clientRequestToken="job-0001",
            timeoutDurationInHours=72,
        )
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "job-0001" in raised.value.response["Error"]["Message"]
    assert len(jobs(bedrock)) == 1


def test_ignoring_a_parameter_mismatch_returns_the_first_job(emulator, s3, bedrock):
    first = standard_job(s3, bedrock, clientRequestToken="job-0001")
    emulator.update_config(idempotency_mismatch="ignore")
    again = create_job(
        bedrock,
        f"s3://{BUCKET}/jobs/job1/records.jsonl",
        clientRequestToken="job-0001",
        timeoutDurationInHours=72,
    )
    assert again == first


def test_a_job_name_in_use_is_a_conflict(emulator, s3, bedrock):
    standard_job(s3, bedrock, clientRequestToken="job-0001")
    with pytest.raises(bedrock.exceptions.ConflictException):
        create_job(bedrock, f"s3://{BUCKET}/jobs/job1/records.jsonl", clientRequestToken="job-0002")


def test_a_create_whose_answer_was_lost_is_retried_into_the_same_job(emulator, s3, monkeypatch):
    # Given a create that takes effect and then answers 500, and the SDK's standard retries
    # (their backoff made instant so the test does not wait).
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0)
    emulator.inject_fault("create", 500, after_effect=True)
    client = bedrock_client(emulator.url, mode="standard", total_max_attempts=3)

    # When the SDK retries with the token it sends on every attempt,
    arn = standard_job(s3, client, clientRequestToken="job-0001")

    # Then there is one job, the one the first attempt made.
    assert emulator.stats()["calls"]["create"] == 2
    assert [job["jobArn"] for job in jobs(client)] == [arn]


def test_a_job_below_the_minimum_is_refused_at_create(emulator, s3, bedrock):
    uri = put_input(s3, "jobs/job1/records.jsonl", [record(rid) for rid in record_ids(99)])
    with pytest.raises(ClientError) as raised:
        create_job(bedrock, uri, clientRequestToken="job-0001")

    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"] == MIN_RECORDS_MESSAGE.format(count=99, minimum=100, model=MODEL_ID)
    assert jobs(bedrock) == []
    assert emulator.stats()["refused_creates"] == {"below_minimum": 1}


def test_the_minimum_is_configurable(emulator, s3, bedrock):
    emulator.update_config(min_records=10)
    arn = standard_job(s3, bedrock, count=10)
    emulator.advance(ALL_DONE)
    assert status(bedrock, arn) == "Completed"


def test_the_minimum_can_be_checked_while_validating_instead(emulator, s3, bedrock):
    emulator.update_config(min_records_check="validation")
    arn = standard_job(s3, bedrock, count=3)
    emulator.advance(20)

    job = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert job["status"] == "Failed"
    assert job["message"] == MIN_RECORDS_MESSAGE.format(count=3, minimum=100, model=MODEL_ID)
