"""Injected throttling and 5xx seen by botocore, and the admin API over plain HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batchdrop_local.bedrock_emulator import BedrockEmulatorServer
from tests.bedrock_emulator.conftest import bedrock_client, standard_job, status


def admin(emulator: BedrockEmulatorServer, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{emulator.url}/_bedrock/{path}", data=data, method=method)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
        return json.loads(answer.read())


@pytest.mark.parametrize(
    ("operation", "status_code", "code"),
    [
        ("create", 429, "ThrottlingException"),
        ("get", 500, "InternalServerException"),
        ("list", 429, "ThrottlingException"),
        ("stop", 503, "ServiceUnavailableException"),
    ],
)
def test_a_fault_answers_the_exception_botocore_expects(emulator, s3, bedrock, operation, status_code, code):
    arn = standard_job(s3, bedrock) if operation != "create" else ""
    emulator.inject_fault(operation, status_code)
    calls = {
        "create": lambda: standard_job(s3, bedrock, name="job2"),
        "get": lambda: bedrock.get_model_invocation_job(jobIdentifier=arn),
        "list": lambda: bedrock.list_model_invocation_jobs(),
        "stop": lambda: bedrock.stop_model_invocation_job(jobIdentifier=arn),
    }
    with pytest.raises(ClientError) as raised:
        calls[operation]()
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status_code
    assert "Injected fault" in raised.value.response["Error"]["Message"]
    calls[operation]()  # the fault was used up


def test_a_throttled_create_made_no_job(emulator, s3, bedrock):
    emulator.inject_fault("create", 429, count=2)
    for _ in range(2):
        with pytest.raises(bedrock.exceptions.ThrottlingException):
            standard_job(s3, bedrock)
    assert bedrock.list_model_invocation_jobs()["invocationJobSummaries"] == []


def test_the_sdk_retries_throttling_and_5xx_and_the_calls_are_counted(emulator, s3, monkeypatch):
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0)
    client = bedrock_client(emulator.url, mode="standard", total_max_attempts=4)
    emulator.inject_fault("create", 429, count=2)
    emulator.inject_fault("create", 500)
    arn = standard_job(s3, client, clientRequestToken="job-0001")

    assert status(client, arn) == "Submitted"
    stats = emulator.stats()
    assert stats["calls"]["create"] == 4
    assert stats["pending_faults"]["create"] == []


def test_faults_config_and_the_clock_over_the_admin_api(emulator, s3, bedrock):
    pending = admin(emulator, "POST", "faults", {"operation": "get", "status": 429, "count": 2})
    assert pending["pending_faults"]["get"] == [
        {"status": 429, "code": "ThrottlingException", "after_effect": False, "remaining": 2}
    ]
    assert admin(emulator, "DELETE", "faults")["pending_faults"]["get"] == []

    settings = admin(emulator, "POST", "config", {"min_records": 5, "durations": {"InProgress": 1}})
    assert settings["min_records"] == 5
    assert settings["durations"]["InProgress"] == 1.0
    assert settings["durations"]["Submitted"] == 10.0

    arn = standard_job(s3, bedrock, count=5)
    stats = admin(emulator, "POST", "advance", {"seconds": 31})
    assert stats["jobs"] == {arn[-12:]: "Completed"}
    assert stats["events"]["sent"] == 5
    assert admin(emulator, "GET", "stats")["calls"]["create"] == 1


def test_admin_refusals(emulator):
    with pytest.raises(urllib.error.HTTPError) as raised:
        admin(emulator, "POST", "config", {"min_records_check": "sometimes"})
    assert raised.value.code == 400
    assert "min_records_check" in json.loads(raised.value.read())["message"]
    with pytest.raises(urllib.error.HTTPError) as raised:
        admin(emulator, "POST", "faults", {"operation": "delete", "status": 500})
    assert raised.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as raised:
        admin(emulator, "GET", "nothing")
    assert raised.value.code == 404


def test_advance_needs_the_manual_clock(moto_endpoint, s3):
    from batchdrop_local.bedrock_emulator import BedrockConfig

    with BedrockEmulatorServer(config=BedrockConfig(aws_endpoint=moto_endpoint)) as server:
        with pytest.raises(urllib.error.HTTPError) as raised:
            admin(server, "POST", "advance", {"seconds": 1})
        assert raised.value.code == 400


def test_latency_delays_every_api_answer_but_not_the_admin_paths(emulator, s3, bedrock):
    waited: list[float] = []
    emulator.sleep = waited.append
    emulator.update_config(latency=2.5)
    standard_job(s3, bedrock)
    bedrock.list_model_invocation_jobs()
    admin(emulator, "GET", "stats")
    assert waited == [2.5, 2.5]
    with pytest.raises(ValueError, match="latency"):
        emulator.update_config(latency=-1)
