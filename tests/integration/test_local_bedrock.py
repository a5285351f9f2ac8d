"""The local stack's Bedrock emulator: started beside the Anthropic emulator on the stack's moto,
reached by the functions' unmodified boto3 clients through AWS_ENDPOINT_URL_BEDROCK (and
_BEDROCK_RUNTIME) alone, reading job inputs from and writing outputs to the stack's S3, putting
its state-change events on the stack's default bus, and stopped with the stack.

The emulator runs on a manual clock here: a job moves only when a test advances it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from batchdrop_local import cli
from batchdrop_local.bedrock_emulator import BedrockConfig, BedrockEmulatorServer, ManualClock
from batchdrop_local.demo import with_bedrock_minimum
from batchdrop_local.stack import BEDROCK_DURATIONS, LocalStack, LocalStackOptions

MODEL_ID = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
ROLE_ARN = "arn:aws:iam::123456789012:role/batchdrop-local-bedrock"
EVENT_DEADLINE = 60.0
"""Bounds how long a broken delivery can hang a test; a working one arrives at once."""
STATUSES = ["Submitted", "Validating", "Scheduled", "InProgress", "Completed"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    options = LocalStackOptions(
        port=0,
        prefix="batchdrop-bedrock",
        poll_interval=300.0,  # no Poll runs to watch for: these tests drive Bedrock directly
        state_dir=tmp_path_factory.mktemp("bedrock-stack"),
        bedrock_manual_clock=True,
        bedrock_min_records=3,
        bedrock_durations={"InProgress": 2.0},  # the other statuses keep the stack's short defaults
    )
    with LocalStack(options, report=lambda _line: None) as running:
        yield running


def bedrock_url(stack: LocalStack) -> str:
    assert stack.bedrock is not None
    return stack.bedrock.url


def run_jobs_to_the_end(stack: LocalStack) -> None:
    """Move the emulator's clock past every status of a job created now."""
    assert stack.bedrock is not None
    durations = stack.bedrock.engine.config.durations
    stack.bedrock.advance(sum(durations.values()) - durations["Stopping"])


def bedrock(stack: LocalStack) -> Any:
    return boto3.client(
        "bedrock",
        endpoint_url=bedrock_url(stack),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def line(record_id: str, text: str) -> str:
    model_input = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    }
    return json.dumps({"recordId": record_id, "modelInput": model_input})


def job_in_stack_bucket(stack: LocalStack, count: int = 3) -> tuple[str, str]:
    """A job's input in the stack's bucket and the job created on it; (job folder, job ARN)."""
    bucket = stack.info()["bucket"]
    folder = f"jobs/{uuid.uuid4().hex[:12]}/"
    body = "\n".join(line(f"DOC{n:08d}", f"Document number {n}.") for n in range(count)) + "\n"
    stack.client("s3").put_object(Bucket=bucket, Key=f"{folder}records.jsonl", Body=body.encode())
    answer = bedrock(stack).create_model_invocation_job(
        jobName=f"job-{folder[5:-1]}",
        roleArn=ROLE_ARN,
        modelId=MODEL_ID,
        clientRequestToken=folder[5:-1],
        inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{bucket}/{folder}records.jsonl"}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{bucket}/{folder}"}},
    )
    return folder, str(answer["jobArn"])


def test_the_stack_starts_the_bedrock_emulator_and_says_where_it_is(stack, capsys):
    url = bedrock_url(stack)
    assert stack.info()["bedrock_url"] == url
    state = json.loads((stack.options.state_dir / "state.json").read_text())
    assert state["bedrock_url"] == url
    for worker in stack.workers.values():
        assert worker._env["AWS_ENDPOINT_URL_BEDROCK"] == url
        assert worker._env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == url
        assert worker._env["AWS_ENDPOINT_URL"] == stack.endpoint  # everything else stays on moto
    cli.print_stack_info(stack)
    printed = capsys.readouterr().out
    bedrock_line = next(text for text in printed.splitlines() if text.strip().startswith("Bedrock"))
    assert url in bedrock_line
    assert "a job ends after 3.5 s, minimum 3 records" in bedrock_line
    assert stack.bedrock is not None
    assert stack.bedrock.engine.config.durations == {**BEDROCK_DURATIONS, "InProgress": 2.0}


def test_a_function_environment_reaches_the_emulator_by_configuration_alone(stack):
    # A function's own environment, in a process of its own: boto3 clients made with no
    # endpoint_url, as the Bedrock adapters make them.
    env = {**stack.workers["SubmitFunction"]._env, "PATH": os.environ.get("PATH", "")}
    program = (
        "import boto3, json\n"
        "control, runtime = boto3.client('bedrock'), boto3.client('bedrock-runtime')\n"
        "jobs = control.list_model_invocation_jobs()['invocationJobSummaries']\n"
        "body = {'anthropic_version': 'bedrock-2023-05-31', 'max_tokens': 64,\n"
        "        'messages': [{'role': 'user', 'content': 'Say hello.'}]}\n"
        f"answer = runtime.invoke_model(modelId={MODEL_ID!r}, body=json.dumps(body))\n"
        "print(json.dumps([control.meta.endpoint_url, runtime.meta.endpoint_url, len(jobs),\n"
        "                  json.loads(answer['body'].read())['role']]))\n"
    )
    assert stack.bedrock is not None
    before = stack.bedrock.stats()["calls"]
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    control_url, runtime_url, _jobs, role = json.loads(done.stdout)
    assert control_url == runtime_url == bedrock_url(stack)
    assert role == "assistant"
    after = stack.bedrock.stats()["calls"]
    assert (after["list"] - before["list"], after["invoke"] - before["invoke"]) == (1, 1)


def test_a_job_reads_its_input_from_the_stack_s3_and_writes_its_outputs_there(stack):
    folder, arn = job_in_stack_bucket(stack)
    client = bedrock(stack)
    assert client.get_model_invocation_job(jobIdentifier=arn)["status"] == "Submitted"
    run_jobs_to_the_end(stack)
    job = client.get_model_invocation_job(jobIdentifier=arn)
    assert (job["status"], job["totalRecordCount"], job["successRecordCount"]) == ("Completed", 3, 3)
    s3, bucket = stack.client("s3"), stack.info()["bucket"]
    outputs = f"{folder}{arn.rsplit('/', 1)[1]}/"
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=outputs)["Contents"]}
    assert keys == {f"{outputs}records.jsonl.out", f"{outputs}manifest.json.out"}
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"{outputs}manifest.json.out")["Body"].read())
    assert (manifest["totalRecordCount"], manifest["successRecordCount"]) == (3, 3)
    lines = s3.get_object(Bucket=bucket, Key=f"{outputs}records.jsonl.out")["Body"].read().splitlines()
    answers = {json.loads(text)["recordId"]: json.loads(text)["modelOutput"] for text in lines}
    assert sorted(answers) == ["DOC00000000", "DOC00000001", "DOC00000002"]
    assert all(answer["role"] == "assistant" for answer in answers.values())


def test_below_the_stacks_minimum_a_job_is_refused(stack):
    with pytest.raises(bedrock(stack).exceptions.ValidationException, match="minimum number of records"):
        job_in_stack_bucket(stack, count=2)


def test_the_state_change_events_reach_a_rule_on_the_stacks_default_bus(stack):
    sqs, events = stack.client("sqs"), stack.client("events")
    name = f"bedrock-events-{uuid.uuid4().hex[:8]}"
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    pattern = {"source": ["aws.bedrock"], "detail-type": ["Batch Inference Job State Change"]}
    events.put_rule(Name=name, EventBusName="default", EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=name, EventBusName="default", Targets=[{"Id": "queue", "Arn": queue_arn}])
    try:
        _folder, arn = job_in_stack_bucket(stack)
        run_jobs_to_the_end(stack)
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + EVENT_DEADLINE
        while not any(event["detail"]["status"] == "Completed" for event in seen):
            assert time.monotonic() < deadline, f"no Completed event for {arn}; got {seen}"
            for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            ):
                event = json.loads(message["Body"])
                if event["detail"]["batchJobArn"] == arn:
                    seen.append(event)
        assert sorted(event["detail"]["status"] for event in seen) == sorted(STATUSES)
        assert {event["resources"][0] for event in seen} == {arn}
    finally:
        events.remove_targets(Rule=name, EventBusName="default", Ids=["queue"])
        events.delete_rule(Name=name, EventBusName="default")
        sqs.delete_queue(QueueUrl=queue)


def test_stopping_the_stack_stops_the_bedrock_emulator(tmp_path: Path):
    stack = LocalStack(LocalStackOptions(state_dir=tmp_path), report=lambda _line: None)
    stack.bedrock = BedrockEmulatorServer(
        config=BedrockConfig(publish_events=False), clock=ManualClock()
    ).start()
    address = urlsplit(stack.bedrock.url)
    socket.create_connection((address.hostname, address.port), timeout=5).close()
    stack.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address.hostname, address.port), timeout=5).close()


def test_local_up_takes_the_bedrock_options():
    args = cli.build_parser().parse_args(
        [
            "local",
            "up",
            "--bedrock-port",
            "4568",
            "--bedrock-durations",
            "InProgress=5",
            "--bedrock-min-records",
            "7",
        ]
    )
    options = cli.stack_options(args)
    assert (options.bedrock_port, options.bedrock_min_records) == (4568, 7)
    assert options.bedrock_durations == {**BEDROCK_DURATIONS, "InProgress": 5.0}
    default = cli.stack_options(cli.build_parser().parse_args(["local", "up"]))
    assert (default.bedrock_durations, default.bedrock_min_records) == (BEDROCK_DURATIONS, 100)


def test_the_demo_lowers_the_bedrock_minimum_for_the_emulator_and_the_functions():
    # The samples' Bedrock job has a few documents: the demo's emulator takes it, and Submit
    # (BEDROCK_MIN_RECORDS) does not hold it; `local up` keeps Bedrock's default of 100.
    options = with_bedrock_minimum(cli.stack_options(cli.build_parser().parse_args(["demo"])))
    assert options.bedrock_min_records == cli.DEMO_BEDROCK_MIN_RECORDS < 100
    assert options.function_env["BEDROCK_MIN_RECORDS"] == str(cli.DEMO_BEDROCK_MIN_RECORDS)
    # a value the user gives wins, for the emulator and the functions each
    args = ["demo", "--bedrock-min-records", "100", "--function-env", "BEDROCK_MIN_RECORDS=7"]
    options = with_bedrock_minimum(cli.stack_options(cli.build_parser().parse_args(args)))
    assert (options.bedrock_min_records, options.function_env["BEDROCK_MIN_RECORDS"]) == (100, "7")
