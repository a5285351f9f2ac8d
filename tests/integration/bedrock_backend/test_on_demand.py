"""The on-demand backend (adapters.bedrock_on_demand) with the real boto3 `bedrock-runtime`
client against the Bedrock emulator's InvokeModel: each record answered and kept as soon as it
comes, a create called again asks only the records with no answer kept, a refusal becomes that
record's error line (a throttle one that a follow-up job asks again), and the results read back
in the Claude API's form, priced as answered on demand."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config

from batchdrop.adapters.bedrock_on_demand import BedrockOnDemand
from batchdrop.domain.keys import bedrock_on_demand_prefix
from batchdrop_local.bedrock_emulator import BedrockEmulatorServer
from tests.bedrock_emulator.conftest import BUCKET
from tests.integration.bedrock_backend.conftest import JOB_ID, requests


def _backend(server: BedrockEmulatorServer, s3: Any) -> BedrockOnDemand:
    runtime = boto3.client(
        "bedrock-runtime",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),  # every fault reaches it
    )
    return BedrockOnDemand(runtime, s3, BUCKET).for_job(JOB_ID)


def _invocations(server: BedrockEmulatorServer) -> int:
    return int(server.stats()["calls"]["invoke"])


def test_each_request_is_answered_kept_and_read_back_as_a_result_line(
    bedrock_emulator: BedrockEmulatorServer, s3: Any
) -> None:
    backend = _backend(bedrock_emulator, s3)
    batch = backend.create(requests(3))
    assert batch.ended and batch.request_counts["succeeded"] == 3
    assert _invocations(bedrock_emulator) == 3
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=bedrock_on_demand_prefix(JOB_ID))["Contents"]
    assert len(listed) == 4  # one answer per record, and the results
    lines = [line for _, line in backend.results(batch.id)]
    assert [line["custom_id"] for line in lines] == [r["custom_id"] for r in requests(3)]
    message = lines[0]["result"]["message"]
    assert lines[0]["result"]["type"] == "succeeded" and message["content"][0]["text"]
    assert message["usage"]["service_tier"] == "standard"  # not a batch's usage
    assert backend.retrieve(batch.id).ended and backend.cancel(batch.id) is None


def test_a_create_called_again_asks_only_the_records_with_no_answer_kept(
    bedrock_emulator: BedrockEmulatorServer, s3: Any
) -> None:
    backend = _backend(bedrock_emulator, s3)
    backend.create(requests(3))
    # The answer to the second record was never written (its Poll died right after InvokeModel)
    (second,) = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=bedrock_on_demand_prefix(JOB_ID))["Contents"]
        if "X0000001X0" in o["Key"]
    ]
    s3.delete_object(Bucket=BUCKET, Key=second)

    again = backend.create(requests(3))

    assert _invocations(bedrock_emulator) == 4  # three, then the one with no answer kept
    assert again.request_counts["succeeded"] == 3


def test_a_throttled_record_becomes_its_error_line_and_the_others_are_answered(
    bedrock_emulator: BedrockEmulatorServer, s3: Any
) -> None:
    bedrock_emulator.inject_fault("invoke", status=429, count=1, code="ThrottlingException")
    backend = _backend(bedrock_emulator, s3)
    batch = backend.create(requests(1) + requests(2)[1:])
    lines = {line["custom_id"]: line["result"] for _, line in backend.results(batch.id)}
    kinds = sorted(result["type"] for result in lines.values())
    assert kinds == ["errored", "succeeded"]
    (error,) = [r["error"]["error"] for r in lines.values() if r["type"] == "errored"]
    assert error["type"] == "rate_limit_error" and "InvokeModel" in error["message"]
    assert json.dumps(lines)  # every line is JSON the collector reads
