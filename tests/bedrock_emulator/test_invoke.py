"""On-demand InvokeModel driven with the real boto3 `bedrock-runtime` client: the answer's shape
and headers, the same answer a batch record gets, the body checked as a batch record's
modelInput is, and throttling and 5xx faults through the same fault admin."""

from __future__ import annotations

import json
from typing import Any, cast

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from batchdrop_local.bedrock_emulator import BedrockEmulatorServer
from tests.bedrock_emulator.conftest import (
    ALL_DONE,
    CREDENTIALS,
    MODEL_ID,
    REGION,
    create_job,
    put_input,
    read_outputs,
    record,
)
from tests.bedrock_emulator.test_faults import admin


def runtime_client(url: str, **retries: Any) -> Any:
    """The real boto3 `bedrock-runtime` client on the emulator; no retries unless given."""
    config = Config(retries=cast("Any", retries or {"total_max_attempts": 1}))
    return boto3.client(  # type: ignore[call-overload]
        "bedrock-runtime", endpoint_url=url, region_name=REGION, config=config, **CREDENTIALS
    )


@pytest.fixture
def runtime(emulator: BedrockEmulatorServer) -> Any:
    return runtime_client(emulator.url)


def body(text: str = "The quick brown fox jumps over the lazy dog.", **fields: Any) -> dict[str, Any]:
    return cast("dict[str, Any]", record("unused", text, **fields)["modelInput"])


def invoke(runtime: Any, payload: Any, model_id: str = MODEL_ID, **headers: str) -> dict[str, Any]:
    data = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    answer = runtime.invoke_model(
        modelId=model_id,
        body=data,
        contentType=headers.get("contentType", "application/json"),
        accept=headers.get("accept", "application/json"),
    )
    return cast("dict[str, Any]", {**answer, "body": json.loads(answer["body"].read())})


def test_invoke_model_answers_the_invoke_model_response_body(emulator, runtime):
    answer = invoke(runtime, body())
    message = answer["body"]
    assert answer["contentType"] == "application/json"
    assert set(message) == {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"}
    assert message["id"].startswith("msg_bdrk_")
    assert (message["type"], message["role"], message["model"]) == (
        "message",
        "assistant",
        "claude-sonnet-4-5",
    )
    assert message["content"][0]["type"] == "text"
    assert "[emulated claude-sonnet-4-5]" in message["content"][0]["text"]
    assert message["stop_reason"] == "end_turn"
    usage = message["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    headers = answer["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-input-token-count"] == str(usage["input_tokens"])
    assert headers["x-amzn-bedrock-output-token-count"] == str(usage["output_tokens"])
    stats = emulator.stats()
    assert stats["calls"]["invoke"] == 1
    assert stats["invocations"] == {
        "answered": 1,
        "refused": 0,
        "input_tokens": usage["input_tokens"],
        "output_tokens": usage["output_tokens"],
    }


def test_invoke_model_gives_the_answer_a_batch_record_with_that_body_gets(emulator, s3, bedrock, runtime):
    emulator.update_config(min_records=1)
    request = body("A document about lighthouses. It has two sentences.", system="Summarise.")
    uri = put_input(s3, "jobs/job1/records.jsonl", [{"recordId": "DOC00000001", "modelInput": request}])
    arn = create_job(bedrock, uri)
    emulator.advance(ALL_DONE)
    (line,) = read_outputs(s3, arn).lines
    batch = dict(line["modelOutput"])
    on_demand = invoke(runtime, request)["body"]
    assert batch.pop("id") != on_demand.pop("id")  # each call is its own message
    assert on_demand == batch
    assert invoke(runtime, request)["body"]["content"] == batch["content"]  # deterministic


@pytest.mark.parametrize(
    "model_id",
    [
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    ],
)
def test_model_ids_profiles_and_arns_reach_the_model(runtime, model_id):
    # botocore percent-encodes the URI label, an ARN's "/" included
    assert invoke(runtime, body(), model_id=model_id)["body"]["model"] == "claude-sonnet-4-5"


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ({k: v for k, v in body().items() if k != "anthropic_version"}, "anthropic_version: Field required"),
        ({**body(), "model": "claude-sonnet-4-5"}, "model: Extra inputs are not permitted"),
        ({**body(), "anthropic_version": "2023-06-01"}, "anthropic_version: Input should be"),
        ({k: v for k, v in body().items() if k != "max_tokens"}, "max_tokens: Field required"),
        ({**body(), "messages": []}, "messages: Input should be a non-empty list"),
        ("{not json", "the body is not valid JSON"),
        ("[1, 2]", "the body must be a JSON object"),
    ],
)
def test_a_body_a_batch_record_would_fail_with_is_a_validation_exception(emulator, runtime, payload, detail):
    with pytest.raises(runtime.exceptions.ValidationException) as raised:
        invoke(runtime, payload)
    message = raised.value.response["Error"]["Message"]
    assert message.startswith("Malformed input request: #: ")
    assert detail in message
    assert message.endswith(", please reformat your input and try again.")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert emulator.stats()["invocations"]["refused"] == 1


def test_a_model_not_from_anthropic_is_an_invalid_model_identifier(runtime):
    with pytest.raises(
        runtime.exceptions.ValidationException, match="The provided model identifier is invalid"
    ):
        invoke(runtime, body(), model_id="amazon.titan-text-express-v1")


@pytest.mark.parametrize(("header", "value"), [("contentType", "text/plain"), ("accept", "image/png")])
def test_only_json_is_accepted_and_answered(runtime, header, value):
    with pytest.raises(runtime.exceptions.ValidationException, match="not supported"):
        invoke(runtime, body(), **{header: value})


def test_the_default_accept_and_a_charset_are_fine(runtime):
    answer = runtime.invoke_model(
        modelId=MODEL_ID, body=json.dumps(body()), contentType="application/json; charset=utf-8"
    )
    assert json.loads(answer["body"].read())["type"] == "message"


@pytest.mark.parametrize(
    ("status_code", "code"),
    [(429, "ThrottlingException"), (500, "InternalServerException"), (503, "ServiceUnavailableException")],
)
def test_an_invoke_fault_answers_the_exception_botocore_expects(emulator, runtime, status_code, code):
    emulator.inject_fault("invoke", status_code)
    with pytest.raises(ClientError) as raised:
        invoke(runtime, body())
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status_code
    assert "Injected fault on InvokeModel" in raised.value.response["Error"]["Message"]
    assert invoke(runtime, body())["body"]["type"] == "message"  # the fault was used up
    assert emulator.stats()["calls"]["invoke"] == 2


def test_a_model_error_code_is_named_as_the_runtime_model_names_it(emulator, runtime):
    admin(emulator, "POST", "faults", {"operation": "invoke", "code": "ModelNotReadyException"})
    with pytest.raises(runtime.exceptions.ModelNotReadyException):
        invoke(runtime, body())


def test_the_sdk_retries_a_throttled_invoke_and_every_call_is_counted(emulator, monkeypatch):
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0)
    client = runtime_client(emulator.url, mode="standard", total_max_attempts=4)
    admin(emulator, "POST", "faults", {"operation": "invoke", "status": 429, "count": 2})
    answer = invoke(client, body())
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    stats = admin(emulator, "GET", "stats")
    assert stats["calls"]["invoke"] == 3
    assert stats["invocations"]["answered"] == 1
    assert stats["pending_faults"]["invoke"] == []


def test_the_sdk_finds_the_emulator_through_aws_endpoint_url_bedrock_runtime(emulator, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", emulator.url)
    client = boto3.client("bedrock-runtime", region_name=REGION, **CREDENTIALS)
    assert client.meta.endpoint_url == emulator.url
    assert invoke(client, body())["body"]["role"] == "assistant"
