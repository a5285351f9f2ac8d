"""Fixtures for the Bedrock emulator's contract tests: a moto server (S3, EventBridge, SQS), the
emulator on a manual clock, the real boto3 `bedrock` client pointed at it, and helpers that
write a job's input and read its outputs."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from batchdrop_local.bedrock_emulator import BedrockConfig, BedrockEmulatorServer, ManualClock

BUCKET = "batchdrop-bedrock-test"
ROLE_ARN = "arn:aws:iam::123456789012:role/batchdrop-bedrock"
MODEL_ID = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
FAST = {"Submitted": 10.0, "Validating": 10.0, "Scheduled": 10.0, "InProgress": 100.0, "Stopping": 5.0}
"""Durations of the tests' jobs: whole seconds, so clock steps land exactly on a status."""
ALL_DONE = sum(FAST.values())


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{server._server.server_port}"  # type: ignore[union-attr]
    server.stop()


def aws(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)  # type: ignore[call-overload]


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    reset = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")  # noqa: S310 - loopback
    urllib.request.urlopen(reset).close()  # noqa: S310
    client = aws("s3", moto_endpoint)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_800_000_000.0)


@pytest.fixture
def emulator(moto_endpoint: str, s3: Any, clock: ManualClock) -> Iterator[BedrockEmulatorServer]:
    config = BedrockConfig(aws_endpoint=moto_endpoint, durations=dict(FAST))
    with BedrockEmulatorServer(config=config, clock=clock) as server:
        yield server


def bedrock_client(url: str, **retries: Any) -> Any:
    """The real boto3 `bedrock` client on the emulator; no retries unless given."""
    config = Config(retries=cast("Any", retries or {"total_max_attempts": 1}))
    return boto3.client("bedrock", endpoint_url=url, region_name=REGION, config=config, **CREDENTIALS)  # type: ignore[call-overload]


@pytest.fixture
def bedrock(emulator: BedrockEmulatorServer) -> Any:
    return bedrock_client(emulator.url)


def record(
    record_id: str, text: str = "The quick brown fox jumps over the lazy dog.", **body: Any
) -> dict[str, Any]:
    """One input line: an Anthropic-on-Bedrock InvokeModel body; keyword arguments override it."""
    model_input: dict[str, Any] = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    }
    model_input.update(body)
    return {"recordId": record_id, "modelInput": model_input}


def record_ids(count: int, prefix: str = "DOC") -> list[str]:
    return [f"{prefix}{number:08d}" for number in range(count)]


def put_input(s3: Any, key: str, lines: list[dict[str, Any]] | list[str]) -> str:
    """Write JSONL lines (dicts, or raw text lines) at `key`; the s3:// URI."""
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    s3.put_object(Bucket=BUCKET, Key=key, Body=text.encode())
    return f"s3://{BUCKET}/{key}"


@dataclass
class Outputs:
    keys: list[str]
    manifest: dict[str, Any]
    lines: list[dict[str, Any]]


def read_outputs(
    s3: Any, job_arn: str, output_prefix: str = "jobs/job1/", name: str = "records.jsonl"
) -> Outputs:
    """What the job wrote under <output>/<job id>/: its keys, manifest and the lines of one .out file."""
    folder = f"{output_prefix}{job_arn.rsplit('/', 1)[-1]}/"
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=folder).get("Contents", [])
    keys = sorted(item["Key"] for item in listing)
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{folder}manifest.json.out")["Body"].read())
    body = s3.get_object(Bucket=BUCKET, Key=f"{folder}{name}.out")["Body"].read()
    return Outputs(keys, manifest, [json.loads(line) for line in body.splitlines() if line])


def create_job(
    bedrock: Any,
    input_uri: str,
    name: str = "job1",
    output_uri: str = f"s3://{BUCKET}/jobs/job1/",
    **extra: Any,
) -> str:
    """CreateModelInvocationJob with the usual parameters; the job ARN."""
    answer = bedrock.create_model_invocation_job(
        jobName=name,
        roleArn=ROLE_ARN,
        modelId=extra.pop("modelId", MODEL_ID),
        inputDataConfig={"s3InputDataConfig": {"s3Uri": input_uri, "s3InputFormat": "JSONL"}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": output_uri}},
        **extra,
    )
    return str(answer["jobArn"])


def standard_job(s3: Any, bedrock: Any, count: int = 100, **extra: Any) -> str:
    """A job of `count` valid records at jobs/job1/records.jsonl; its ARN."""
    uri = put_input(s3, "jobs/job1/records.jsonl", [record(rid) for rid in record_ids(count)])
    return create_job(bedrock, uri, **extra)


def status(bedrock: Any, job_arn: str) -> str:
    return str(bedrock.get_model_invocation_job(jobIdentifier=job_arn)["status"])
