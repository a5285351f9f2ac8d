"""What the service refuses, parsed by botocore into the right ClientError codes."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.bedrock_emulator.conftest import (
    BUCKET,
    CREDENTIALS,
    MODEL_ID,
    REGION,
    ROLE_ARN,
    create_job,
    put_input,
)

INPUT = f"s3://{BUCKET}/jobs/job1/records.jsonl"


def unvalidated(url: str) -> Any:
    """A client that sends what it is given: botocore checks minimums and enums before sending."""
    config = Config(parameter_validation=False, retries={"total_max_attempts": 1})
    return boto3.client("bedrock", endpoint_url=url, region_name=REGION, config=config, **CREDENTIALS)  # type: ignore[call-overload]


def error_of(call: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 404)
    return {name: str(value) for name, value in raised.value.response["Error"].items()}


@pytest.mark.parametrize(
    ("member", "value", "rule"),
    [
        ("jobName", "bad name!", "Member must satisfy regular expression pattern"),
        ("jobName", "x" * 64, "Member must have length less than or equal to 63"),
        (
            "roleArn",
            "arn:aws:iam::123456789012:user/someone",
            "Member must satisfy regular expression pattern",
        ),
        ("clientRequestToken", "under_score", "Member must satisfy regular expression pattern"),
        ("timeoutDurationInHours", 169, "Member must have value less than or equal to 168"),
    ],
)
def test_a_member_out_of_its_constraints_is_a_validation_exception(
    emulator, s3, bedrock, member, value, rule
):
    put_input(s3, "jobs/job1/records.jsonl", ["{}"])
    parameters = {
        "jobName": "job1",
        "roleArn": ROLE_ARN,
        "modelId": MODEL_ID,
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": INPUT}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": f"s3://{BUCKET}/jobs/job1/"}},
        member: value,
    }
    error = error_of(lambda: bedrock.create_model_invocation_job(**parameters))
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith(f"1 validation error detected: Value '{value}' at '{member}'")
    assert rule in error["Message"]


def test_a_timeout_below_24_hours_is_refused_by_the_service_too(emulator):
    client = unvalidated(emulator.url)
    error = error_of(
        lambda: client.create_model_invocation_job(
            jobName="job1",
            roleArn=ROLE_ARN,
            modelId=MODEL_ID,
            inputDataConfig={"s3InputDataConfig": {"s3Uri": INPUT}},
            outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{BUCKET}/out/"}},
            timeoutDurationInHours=12,
        )
    )
    assert error["Code"] == "ValidationException"
    assert "greater than or equal to 24" in error["Message"]


def test_a_missing_required_member_is_refused_by_the_service(emulator):
    client = unvalidated(emulator.url)
    error = error_of(
        lambda: client.create_model_invocation_job(
            jobName="job1", modelId=MODEL_ID, inputDataConfig={"s3InputDataConfig": {"s3Uri": INPUT}}
        )
    )
    assert error == {"Code": "ValidationException", "Message": error["Message"]}
    assert "Value null at 'roleArn'" in error["Message"]


def test_a_bad_s3_uri_and_a_model_not_from_anthropic_are_refused(emulator, bedrock):
    error = error_of(lambda: create_job(bedrock, "s3://Bad_Bucket/x.jsonl"))
    assert (error["Code"], "inputDataConfig.s3InputDataConfig.s3Uri" in error["Message"]) == (
        "ValidationException",
        True,
    )
    error = error_of(lambda: create_job(bedrock, INPUT, modelId="amazon.titan-text-express-v1"))
    assert error == {"Code": "ValidationException", "Message": "The provided model identifier is invalid."}


def test_an_unknown_job_is_a_resource_not_found(emulator, bedrock):
    error = error_of(lambda: bedrock.get_model_invocation_job(jobIdentifier="zzzzzzzzzzzz"))
    assert error["Code"] == "ResourceNotFoundException"
    other_account = "arn:aws:bedrock:us-east-1:999999999999:model-invocation-job/zzzzzzzzzzzz"
    assert error_of(lambda: bedrock.get_model_invocation_job(jobIdentifier=other_account))["Code"] == (
        "ResourceNotFoundException"
    )


def test_the_wire_format_of_an_error(emulator):
    # The raw answer botocore parses: the exception in x-amzn-ErrorType, {"message"} as the body.
    parts = urlsplit(emulator.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port)
    connection.request("GET", "/model-invocation-job/zzzzzzzzzzzz")
    answer = connection.getresponse()
    assert answer.status == 404
    assert answer.getheader("x-amzn-ErrorType") == "ResourceNotFoundException"
    assert answer.getheader("x-amzn-RequestId")
    assert json.loads(answer.read()) == {"message": "The model invocation job zzzzzzzzzzzz was not found."}
    # The connection stays open for the next request (keep-alive).
    connection.request("GET", "/model-invocation-jobs")
    assert connection.getresponse().status == 200
    connection.close()


def test_the_region_of_a_job_arn_comes_from_the_signature(emulator, s3):
    client = boto3.client("bedrock", endpoint_url=emulator.url, region_name="eu-west-1", **CREDENTIALS)
    put_input(
        s3,
        "jobs/job1/records.jsonl",
        [json.dumps({"recordId": f"R{n}", "modelInput": {}}) for n in range(100)],
    )
    arn = create_job(client, INPUT)
    assert arn.startswith("arn:aws:bedrock:eu-west-1:123456789012:model-invocation-job/")
