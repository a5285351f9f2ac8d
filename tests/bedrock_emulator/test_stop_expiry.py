"""StopModelInvocationJob (Stopping, then Stopped, the records processed so far written) and
expiry (jobExpirationTime reached before the job ended)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from batchdrop_local.bedrock_emulator import BedrockEmulatorServer
from tests.bedrock_emulator.conftest import BUCKET, read_outputs, standard_job, status


def test_stopping_a_job_in_progress_keeps_what_it_processed(emulator: BedrockEmulatorServer, s3, bedrock):
    arn = standard_job(s3, bedrock, count=200)
    emulator.advance(30 + 25)  # a quarter into InProgress

    assert bedrock.stop_model_invocation_job(jobIdentifier=arn)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert status(bedrock, arn) == "Stopping"
    emulator.advance(60)  # processing does not go on while it stops
    job = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert job["status"] == "Stopped"
    assert job["endTime"] == datetime.fromtimestamp(1_800_000_000 + 55 + 5, UTC)
    assert (job["totalRecordCount"], job["processedRecordCount"]) == (200, 50)

    outputs = read_outputs(s3, arn)
    assert len(outputs.lines) == 50
    assert outputs.manifest["processedRecordCount"] == 50
    assert outputs.manifest["totalRecordCount"] == 200


def test_stopping_a_job_before_it_started_writes_nothing(emulator, s3, bedrock):
    arn = standard_job(s3, bedrock)
    emulator.advance(10)
    bedrock.stop_model_invocation_job(jobIdentifier=arn)
    bedrock.stop_model_invocation_job(jobIdentifier=arn)  # a second stop while stopping is accepted
    emulator.advance(5)

    assert status(bedrock, arn) == "Stopped"
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"jobs/job1/{arn[-12:]}/")
    assert listing["KeyCount"] == 0


def test_an_ended_job_cannot_be_stopped(emulator, s3, bedrock):
    arn = standard_job(s3, bedrock)
    emulator.advance(200)
    with pytest.raises(bedrock.exceptions.ValidationException, match="Completed"):
        bedrock.stop_model_invocation_job(jobIdentifier=arn)


def test_an_unknown_job_cannot_be_stopped(emulator, bedrock):
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.stop_model_invocation_job(jobIdentifier="abcdefabcdef")


def test_a_job_still_running_at_its_expiration_time_expires_with_its_partial_output(emulator, s3, bedrock):
    # Given a sped-up timeout: 24 hours last 24 * 3600 / 1800 = 48 seconds, ending InProgress at 18 of 100 s.
    emulator.update_config(expiry_speedup=1800)
    arn = standard_job(s3, bedrock, count=100, timeoutDurationInHours=24)
    job = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert job["jobExpirationTime"] == datetime.fromtimestamp(1_800_000_048, UTC)

    emulator.advance(1000)
    job = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert job["status"] == "Expired"
    assert job["endTime"] == datetime.fromtimestamp(1_800_000_048, UTC)
    assert job["processedRecordCount"] == 18
    assert "24 hours" in job["message"]
    assert len(read_outputs(s3, arn).lines) == 18


def test_a_job_that_never_started_expires_without_output(emulator, s3, bedrock):
    emulator.update_config(expiry_speedup=3600, durations={"Scheduled": 1000.0})
    arn = standard_job(s3, bedrock)
    emulator.advance(500)
    assert status(bedrock, arn) == "Expired"
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=f"jobs/job1/{arn[-12:]}/")["KeyCount"] == 0
