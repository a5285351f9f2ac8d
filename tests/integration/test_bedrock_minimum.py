"""Bedrock's minimum job size through the real handlers on the in-process stack and the Bedrock
emulator (which refuses a job below its min_records, as Bedrock does): a set below the minimum
is held, not sent; a later window takes it over (one model invocation job of all of them, one
notification); its wait over, a held job is answered on demand (InvokeModel on the emulator,
billed and reported at the on-demand price) or each document gets an .error.json that explains
the minimum, as its profile's below_minimum says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from batchdrop.domain.pricing import PriceTable, TokenUsage
from batchdrop_local.bedrock_emulator import BedrockConfig, BedrockEmulatorServer, ManualClock
from tests.integration.harness import Stack, load_event
from tests.integration.test_bedrock_jobs import DURATIONS, MODEL, ROLE, _complete, _notifications

MINIMUM = 3


def profile(below: str) -> str:
    return f"backend: bedrock\nbedrock_model: {MODEL}\nbelow_minimum: {below}\ninstruction: Summarise.\n"


@pytest.fixture
def bedrock(stack: Stack) -> Iterator[BedrockEmulatorServer]:
    config = BedrockConfig(
        aws_endpoint=stack.endpoint, durations=dict(DURATIONS), min_records=MINIMUM, publish_events=False
    )
    with BedrockEmulatorServer(config=config, clock=ManualClock(start=1_800_000_000.0)) as server:
        yield server


def _env(bedrock: BedrockEmulatorServer, wait_minutes: int) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL_BEDROCK": bedrock.url,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
        "BEDROCK_SERVICE_ROLE_ARN": ROLE,
        "BEDROCK_MIN_RECORDS": str(MINIMUM),
        "BEDROCK_MIN_WAIT_MINUTES": str(wait_minutes),
    }


def _record(stack: Stack, job_id: str) -> dict[str, Any]:
    item: dict[str, Any] = stack.table.get_item(Key={"job_id": job_id})["Item"]
    return item


def _poll(stack: Stack, env: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = stack.handler("PollFunction", **env)(load_event("scheduled.json"))
    return result


def test_a_later_window_takes_the_held_documents_into_one_bedrock_job(
    stack: Stack, bedrock: BedrockEmulatorServer
) -> None:
    env = _env(bedrock, wait_minutes=60)
    notifications = _notifications(stack)
    stack.put_document("profiles/memo.yaml", profile("error"))

    first = stack.submit({"inbox/memo/a.txt": b"Alpha.", "inbox/memo/b.txt": b"Beta."}, **env)
    (held,) = first["jobs"]
    assert held["creation"] == "held" and held["batch_id"] is None
    assert _record(stack, held["job_id"])["status"] == "held"
    assert _poll(stack, env)["held"] == [held["job_id"]]  # its wait is not over: nothing sent

    second = stack.submit({"inbox/memo/c.txt": b"Gamma."}, **env)

    (job,) = second["jobs"]
    assert job["creation"] == "created" and job["requests"] == MINIMUM
    assert _record(stack, held["job_id"])["status"] == "merged"
    assert _record(stack, held["job_id"])["merged_into"] == job["job_id"]
    bedrock.advance(10)
    assert _poll(stack, env)["ended"] == [job["job_id"]]
    summary = _complete(stack, env, job)
    assert summary["counts"]["succeeded"] == MINIMUM
    assert stack.keys("results/") == [f"results/memo/{n}.txt.md" for n in ("a", "b", "c")]
    (notification,) = stack.drain(notifications)
    assert notification["Subject"] == f"batchdrop job {job['job_id']}: 3 of 3 documents answered"


def test_its_wait_over_a_held_set_of_an_on_demand_profile_is_answered_on_demand(
    stack: Stack, bedrock: BedrockEmulatorServer
) -> None:
    env = _env(bedrock, wait_minutes=0)
    notifications = _notifications(stack)
    stack.put_document("profiles/memo.yaml", profile("on_demand"))
    (held,) = stack.submit({"inbox/memo/a.txt": b"Alpha.", "inbox/memo/b.txt": b"Beta."}, **env)["jobs"]

    released = _poll(stack, env)

    assert released["released"] == [held["job_id"]] and released["created"] == [held["job_id"]]
    record = _record(stack, held["job_id"])
    assert record["backend"] == "bedrock-on-demand" and record["status"] == "submitted"
    prefix = f"jobs/{held['job_id']}/bedrock/on-demand/"
    assert f"{prefix}results.jsonl" in stack.keys(prefix)
    assert stack.keys(f"jobs/{held['job_id']}/bedrock/input/") == []  # no batch job was asked for
    assert _poll(stack, env)["ended"] == [held["job_id"]]
    summary = _complete(stack, env, {**held, "batch_id": record["batch_id"]})

    assert summary["counts"]["succeeded"] == 2
    assert stack.keys("results/") == ["results/memo/a.txt.md", "results/memo/b.txt.md"]
    written = json.loads(stack.get_text(f"jobs/{held['job_id']}/summary.json"))
    tokens = written["tokens"]
    expected = PriceTable.bundled().cost(
        MODEL, TokenUsage(input_tokens=tokens["input"], output_tokens=tokens["output"])
    )
    assert expected is not None and expected.standard > 0
    # Billed at the on-demand price and reported as such: nothing saved.
    assert written["cost"]["billed_at"] == "on_demand"
    assert written["cost"]["batch"] == pytest.approx(expected.standard, abs=1e-6)
    assert written["cost"]["standard"] == written["cost"]["batch"] and written["cost"]["savings"] == 0
    (notification,) = stack.drain(notifications)
    assert json.loads(notification["Message"])["cost"]["billed_at"] == "on_demand"


def test_its_wait_over_a_held_set_of_an_error_profile_gets_errors_that_explain_the_minimum(
    stack: Stack, bedrock: BedrockEmulatorServer
) -> None:
    env = _env(bedrock, wait_minutes=0)
    notifications = _notifications(stack)
    stack.put_document("profiles/memo.yaml", profile("error"))
    (held,) = stack.submit({"inbox/memo/a.txt": b"Alpha.", "inbox/memo/b.txt": b"Beta."}, **env)["jobs"]

    assert _poll(stack, env)["gave_up"] == [held["job_id"]]
    ended = _poll(stack, env)["ended"]
    assert ended == [held["job_id"]]
    summary = _complete(stack, env, held)

    assert summary["counts"]["succeeded"] == 0
    assert stack.keys("results/") == ["results/memo/a.txt.error.json", "results/memo/b.txt.error.json"]
    error = json.loads(stack.get_text("results/memo/a.txt.error.json"))
    text = json.dumps(error)
    assert "fewer than 3 records (BEDROCK_MIN_RECORDS)" in text and "below_minimum: on_demand" in text
    (notification,) = stack.drain(notifications)
    assert notification["Subject"].startswith(f"batchdrop job {held['job_id']}")
