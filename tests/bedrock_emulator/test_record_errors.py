"""Records that error: by configuration (named, or a rate) and by an invalid modelInput."""

from __future__ import annotations

from batchdrop_local.bedrock_emulator import BedrockEmulatorServer
from tests.bedrock_emulator.conftest import (
    ALL_DONE,
    create_job,
    put_input,
    read_outputs,
    record,
    record_ids,
    standard_job,
)


def test_named_records_error_and_the_job_ends_partially_completed(
    emulator: BedrockEmulatorServer, s3, bedrock
):
    emulator.update_config(error_records=["DOC0000001[0-4]"])
    arn = standard_job(s3, bedrock)
    emulator.advance(ALL_DONE)

    job = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert job["status"] == "PartiallyCompleted"
    assert (job["successRecordCount"], job["errorRecordCount"]) == (95, 5)
    outputs = read_outputs(s3, arn)
    failed = {line["recordId"]: line for line in outputs.lines if "error" in line}
    assert sorted(failed) == [f"DOC0000001{n}" for n in range(5)]
    line = failed["DOC00000012"]
    assert set(line) == {"recordId", "modelInput", "error"}
    assert line["error"]["errorCode"] == 500
    assert line["error"]["errorMessage"]
    assert (outputs.manifest["successRecordCount"], outputs.manifest["errorRecordCount"]) == (95, 5)


def test_an_invalid_model_input_is_a_400_record_error(emulator, s3, bedrock):
    lines = [record(rid) for rid in record_ids(100)]
    lines[0] = record("DOC00000000", model="claude-sonnet-4-5")
    lines[1] = record("DOC00000001", anthropic_version="2023-06-01")
    del lines[2]["modelInput"]["max_tokens"]
    arn = create_job(bedrock, put_input(s3, "jobs/job1/records.jsonl", lines))
    emulator.advance(ALL_DONE)

    errors = {line["recordId"]: line["error"] for line in read_outputs(s3, arn).lines if "error" in line}
    assert errors == {
        "DOC00000000": {"errorCode": 400, "errorMessage": "model: Extra inputs are not permitted"},
        "DOC00000001": {
            "errorCode": 400,
            "errorMessage": "anthropic_version: Input should be 'bedrock-2023-05-31'",
        },
        "DOC00000002": {"errorCode": 400, "errorMessage": "max_tokens: Field required"},
    }


def test_an_error_rate_picks_the_same_records_every_time(emulator, s3, bedrock):
    emulator.update_config(record_error_rate=0.2, seed=7)
    first = standard_job(s3, bedrock, count=200)
    emulator.advance(ALL_DONE)
    failed = {line["recordId"] for line in read_outputs(s3, first).lines if "error" in line}
    assert 20 <= len(failed) <= 60

    # The draw depends on the job too: another job fails other records, at the same rate.
    again = create_job(bedrock, "s3://batchdrop-bedrock-test/jobs/job1/records.jsonl", name="job2")
    emulator.advance(ALL_DONE)
    failed_again = {line["recordId"] for line in read_outputs(s3, again).lines if "error" in line}
    assert failed_again != failed
    assert emulator.engine.job(first).records == sorted(
        emulator.engine.job(first).records, key=lambda r: r.order
    )


def test_record_errors_can_leave_the_job_completed(emulator, s3, bedrock):
    # Some users report Completed jobs whose every record failed; the status rule is a setting.
    emulator.update_config(error_records=["DOC00000001"], partial_on_record_errors=False)
    arn = standard_job(s3, bedrock)
    emulator.advance(ALL_DONE)
    job = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert (job["status"], job["errorRecordCount"]) == ("Completed", 1)


def test_named_records_may_error_in_their_first_jobs_only(emulator, s3, bedrock):
    # A follow-up job sends the same recordIds again: with error_records_attempts they are
    # answered there, as records that failed once (overloaded) and then succeeded.
    emulator.update_config(
        min_records=1, error_records=["DOC0000000[0-2]"], error_records_attempts=1, record_error_code=503
    )
    first = standard_job(s3, bedrock, count=10)
    emulator.advance(ALL_DONE)
    again = create_job(bedrock, "s3://batchdrop-bedrock-test/jobs/job1/records.jsonl", name="job2")
    emulator.advance(ALL_DONE)

    failed = [line for line in read_outputs(s3, first).lines if "error" in line]
    assert sorted(line["recordId"] for line in failed) == ["DOC00000000", "DOC00000001", "DOC00000002"]
    assert {line["error"]["errorCode"] for line in failed} == {503}
    assert not [line for line in read_outputs(s3, again).lines if "error" in line]
    # Per recordId: the jobs that took it, and those that answered it (what Bedrock bills).
    stats = emulator.stats()
    assert stats["records_by_record_id"] == {rid: 2 for rid in record_ids(10)}
    assert stats["succeeded_by_record_id"] == {
        rid: 1 if rid in ("DOC00000000", "DOC00000001", "DOC00000002") else 2 for rid in record_ids(10)
    }
