"""A job's life through the real boto3 client: statuses on the manual clock, outputs and the
manifest written to S3, failed validation."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from batchdrop_local.bedrock_emulator import BedrockEmulatorServer
from tests.bedrock_emulator.conftest import (
    ALL_DONE,
    BUCKET,
    MODEL_ID,
    create_job,
    put_input,
    read_outputs,
    record,
    record_ids,
    standard_job,
    status,
)

JOB_ARN = re.compile(r"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/[a-z0-9]{12}")


def test_a_job_moves_through_every_status_and_writes_its_outputs(
    emulator: BedrockEmulatorServer, s3, bedrock
):
    arn = standard_job(s3, bedrock, count=120, timeoutDurationInHours=48)
    assert JOB_ARN.fullmatch(arn)

    seen = [status(bedrock, arn)]
    for _ in range(3):
        emulator.advance(10)
        seen.append(status(bedrock, arn))
    assert seen == ["Submitted", "Validating", "Scheduled", "InProgress"]

    # Halfway through InProgress half the records are processed.
    emulator.advance(50)
    job = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert (job["totalRecordCount"], job["processedRecordCount"], job["successRecordCount"]) == (120, 60, 60)
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=f"jobs/job1/{arn[-12:]}/").get("KeyCount") == 0

    emulator.advance(50)
    job = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert job["status"] == "Completed"
    assert job["jobName"] == "job1"
    assert job["modelId"] == MODEL_ID
    assert job["modelInvocationType"] == "InvokeModel"
    assert job["timeoutDurationInHours"] == 48
    assert job["submitTime"] == datetime.fromtimestamp(1_800_000_000, UTC)
    assert job["endTime"] == datetime.fromtimestamp(1_800_000_130, UTC)
    assert job["lastModifiedTime"] == job["endTime"]
    assert job["jobExpirationTime"] == datetime.fromtimestamp(1_800_000_000 + 48 * 3600, UTC)
    assert (job["processedRecordCount"], job["successRecordCount"], job["errorRecordCount"]) == (120, 120, 0)
    assert "message" not in job

    outputs = read_outputs(s3, arn)
    folder = f"jobs/job1/{arn[-12:]}/"
    assert outputs.keys == [f"{folder}manifest.json.out", f"{folder}records.jsonl.out"]
    ids = [line["recordId"] for line in outputs.lines]
    assert sorted(ids) == record_ids(120)
    assert ids != record_ids(120), "Bedrock does not keep the input order: match on recordId"
    tokens_in = sum(line["modelOutput"]["usage"]["input_tokens"] for line in outputs.lines)
    tokens_out = sum(line["modelOutput"]["usage"]["output_tokens"] for line in outputs.lines)
    assert outputs.manifest == {
        "totalRecordCount": 120,
        "processedRecordCount": 120,
        "successRecordCount": 120,
        "errorRecordCount": 0,
        "inputTokenCount": tokens_in,
        "outputTokenCount": tokens_out,
    }


def test_a_record_output_carries_its_input_and_an_invoke_model_answer(emulator, s3, bedrock):
    arn = standard_job(s3, bedrock)
    emulator.advance(ALL_DONE)

    line = next(line for line in read_outputs(s3, arn).lines if line["recordId"] == "DOC00000003")
    assert line["modelInput"] == record("DOC00000003")["modelInput"]
    output = line["modelOutput"]
    assert set(output) == {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"}
    assert output["id"].startswith("msg_bdrk_")
    assert (output["type"], output["role"], output["stop_reason"]) == ("message", "assistant", "end_turn")
    assert output["model"] == "claude-sonnet-4-5"
    assert "quick brown fox" in output["content"][0]["text"]
    assert set(output["usage"]) == {"input_tokens", "output_tokens"}


def test_answers_are_deterministic_across_jobs(emulator, s3, bedrock):
    first = standard_job(s3, bedrock)
    second = create_job(bedrock, f"s3://{BUCKET}/jobs/job1/records.jsonl", name="job2")
    emulator.advance(ALL_DONE)

    def texts(arn: str) -> dict[str, str]:
        lines = read_outputs(s3, arn).lines
        return {line["recordId"]: line["modelOutput"]["content"][0]["text"] for line in lines}

    assert texts(first) == texts(second)


def test_a_job_is_found_by_its_id_as_well_as_its_arn(emulator, s3, bedrock):
    arn = standard_job(s3, bedrock)
    assert bedrock.get_model_invocation_job(jobIdentifier=arn[-12:])["jobArn"] == arn


def test_a_folder_input_gives_one_output_file_per_input_file(emulator, s3, bedrock):
    put_input(s3, "jobs/job1/input/part-1.jsonl", [record(rid) for rid in record_ids(60, "ONE")])
    put_input(s3, "jobs/job1/input/part-2.jsonl", [record(rid) for rid in record_ids(40, "TWO")])
    s3.put_object(Bucket=BUCKET, Key="jobs/job1/input/notes.txt", Body=b"not an input file")
    arn = create_job(bedrock, f"s3://{BUCKET}/jobs/job1/input/")
    emulator.advance(ALL_DONE)

    assert status(bedrock, arn) == "Completed"
    one = read_outputs(s3, arn, name="part-1.jsonl")
    two = read_outputs(s3, arn, name="part-2.jsonl")
    assert len(one.lines) == 60
    assert len(two.lines) == 40
    assert one.manifest["totalRecordCount"] == 100
    assert {line["recordId"][:3] for line in two.lines} == {"TWO"}


def test_unreadable_input_fails_the_job_with_a_message(emulator, s3, bedrock):
    arn = create_job(bedrock, f"s3://{BUCKET}/jobs/job1/missing.jsonl")
    emulator.advance(20)

    job = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert job["status"] == "Failed"
    assert "s3://batchdrop-bedrock-test/jobs/job1/missing.jsonl" in job["message"]
    assert "NoSuchKey" in job["message"]
    assert job["endTime"] == datetime.fromtimestamp(1_800_000_020, UTC)
    assert "totalRecordCount" not in job


def test_a_malformed_line_fails_the_job_while_it_validates(emulator, s3, bedrock):
    lines: list = [record(rid) for rid in record_ids(100)]
    lines[41] = '{"recordId": "BROKEN", "modelInput": '
    uri = put_input(s3, "jobs/job1/records.jsonl", lines)
    arn = create_job(bedrock, uri)
    emulator.advance(20)

    job = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert job["status"] == "Failed"
    assert job["message"] == "The record on line 42 of records.jsonl is not valid JSON"


def test_duplicate_record_ids_fail_the_job(emulator, s3, bedrock):
    lines = [record(rid) for rid in record_ids(100)] + [record("DOC00000005")]
    arn = create_job(bedrock, put_input(s3, "jobs/job1/records.jsonl", lines))
    emulator.advance(20)

    assert bedrock.get_model_invocation_job(jobIdentifier=arn)["message"] == (
        "The recordId DOC00000005 on line 101 of records.jsonl is not unique in the job"
    )


def test_a_record_without_a_record_id_gets_one_in_the_output(emulator, s3, bedrock):
    lines = [record(rid) for rid in record_ids(100)]
    del lines[7]["recordId"]
    arn = create_job(bedrock, put_input(s3, "jobs/job1/records.jsonl", lines))
    emulator.advance(ALL_DONE)

    ids = {line["recordId"] for line in read_outputs(s3, arn).lines}
    added = ids - set(record_ids(100))
    assert len(added) == 1
    assert re.fullmatch(r"[A-Z0-9]{11}", added.pop())


def test_a_converse_job_answers_in_the_converse_shape(emulator, s3, bedrock):
    lines = [
        {
            "recordId": rid,
            "modelInput": {
                "messages": [{"role": "user", "content": [{"text": "Summarise: the sky is blue."}]}],
                "inferenceConfig": {"maxTokens": 100},
            },
        }
        for rid in record_ids(100)
    ]
    arn = create_job(bedrock, put_input(s3, "jobs/job1/records.jsonl", lines), modelInvocationType="Converse")
    emulator.advance(ALL_DONE)

    output = read_outputs(s3, arn).lines[0]["modelOutput"]
    assert output["output"]["message"]["role"] == "assistant"
    assert "sky is blue" in output["output"]["message"]["content"][0]["text"]
    assert output["usage"]["totalTokens"] == output["usage"]["inputTokens"] + output["usage"]["outputTokens"]


def test_real_time_mode_moves_jobs_without_a_manual_clock(moto_endpoint, s3):
    # Given durations of zero, the first look at a job finds it ended: real time is enough.
    from batchdrop_local.bedrock_emulator import BedrockConfig
    from tests.bedrock_emulator.conftest import bedrock_client

    zero = dict.fromkeys(("Submitted", "Validating", "Scheduled", "InProgress", "Stopping"), 0.0)
    with BedrockEmulatorServer(config=BedrockConfig(aws_endpoint=moto_endpoint, durations=zero)) as server:
        assert not server.manual_clock
        client = bedrock_client(server.url)
        arn = standard_job(s3, client)
        assert status(client, arn) == "Completed"
        assert len(read_outputs(s3, arn).lines) == 100
