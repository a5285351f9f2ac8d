"""Documents under a Bedrock profile, through the real handlers on the in-process stack: Submit
creates a model invocation job on the Bedrock emulator (the real boto3 `bedrock` client, reached
by AWS_ENDPOINT_URL_BEDROCK as the local stack's functions reach it), Poll announces its end,
Complete writes the answers, the summary priced by the Bedrock rows, and one notification. A
window of both backends makes one job each. The emulator's minimum is lowered to 1 record:
the minimum job size is a rule of its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from batchdrop.domain.pricing import PriceTable, TokenUsage
from batchdrop_local.bedrock_emulator import BedrockConfig, BedrockEmulatorServer, ManualClock
from tests.integration.harness import Stack, load_event

ROLE = "arn:aws:iam::123456789012:role/batchdrop-bedrock"
MODEL = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
DURATIONS = {"Submitted": 1.0, "Validating": 1.0, "Scheduled": 1.0, "InProgress": 1.0, "Stopping": 1.0}
PROFILE = f"backend: bedrock\nbedrock_model: {MODEL}\ninstruction: Summarise this document.\n"


@pytest.fixture
def bedrock(stack: Stack) -> Iterator[BedrockEmulatorServer]:
    """The Bedrock emulator on the stack's moto (inputs and outputs in its bucket), on a clock
    the test moves, with a minimum of one record (LocalStackOptions.bedrock_min_records)."""
    config = BedrockConfig(
        aws_endpoint=stack.endpoint, durations=dict(DURATIONS), min_records=1, publish_events=False
    )
    with BedrockEmulatorServer(config=config, clock=ManualClock(start=1_800_000_000.0)) as server:
        yield server


def _env(bedrock: BedrockEmulatorServer) -> dict[str, str]:
    """What the local stack gives every function (runtime.bedrock_environment), and the role."""
    return {
        "AWS_ENDPOINT_URL_BEDROCK": bedrock.url,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
        "BEDROCK_SERVICE_ROLE_ARN": ROLE,
        # The emulator's minimum: Submit holds none of these few documents (test_bedrock_minimum does).
        "BEDROCK_MIN_RECORDS": "1",
    }


def _notifications(stack: Stack) -> str:
    url = stack.capture_queue("captured-notifications")
    stack.client("sns").subscribe(
        TopicArn=stack.resources.names["NotificationTopic"], Protocol="sqs", Endpoint=stack.queue_arn(url)
    )
    return url


def _complete(stack: Stack, env: dict[str, str], job: dict[str, Any]) -> dict[str, Any]:
    event = load_event("batch-ended.json")
    event["detail"].update(job_id=job["job_id"], batch_id=job["batch_id"])
    result: dict[str, Any] = stack.handler("CompleteFunction", **env)(event)
    return result


def test_documents_under_a_bedrock_profile_come_back_as_answers(
    stack: Stack, bedrock: BedrockEmulatorServer
) -> None:
    env = _env(bedrock)
    notifications = _notifications(stack)
    stack.put_document("profiles/onbedrock.yaml", PROFILE)

    submitted = stack.submit(
        {"inbox/onbedrock/a.txt": b"Alpha: the first document.", "inbox/onbedrock/b.txt": b"Beta, second."},
        **env,
    )

    (job,) = submitted["jobs"]
    assert job["creation"] == "created" and job["batch_id"].startswith("arn:aws:bedrock:us-east-1:")
    record = stack.table.get_item(Key={"job_id": job["job_id"]})["Item"]
    assert record["backend"] == "bedrock"
    assert stack.keys(f"jobs/{job['job_id']}/bedrock/input/") == [
        f"jobs/{job['job_id']}/bedrock/input/records.jsonl"
    ]
    poll = stack.handler("PollFunction", **env)
    assert poll(load_event("scheduled.json"))["in_progress"] == 1
    bedrock.advance(10)  # through every status to Completed
    assert poll(load_event("scheduled.json"))["ended"] == [job["job_id"]]

    summary = _complete(stack, env, job)

    assert summary["status"] == "completed" and summary["counts"]["succeeded"] == 2
    assert stack.keys("results/") == ["results/onbedrock/a.txt.md", "results/onbedrock/b.txt.md"]
    assert stack.get_text("results/onbedrock/a.txt.md").strip()
    written = json.loads(stack.get_text(f"jobs/{job['job_id']}/summary.json"))
    (row,) = written["by_profile_and_model"]
    assert (row["profile"], row["model"]) == ("onbedrock", MODEL)
    # Priced by the Bedrock row of the model (batch: half the standard price)
    prices = PriceTable.bundled()
    assert prices.line(MODEL) == "Claude Haiku 4.5 on Bedrock (global)"
    tokens = written["tokens"]
    assert tokens["input"] > 0 and tokens["output"] > 0
    expected = prices.cost(MODEL, TokenUsage(input_tokens=tokens["input"], output_tokens=tokens["output"]))
    assert expected is not None and expected.batch > 0
    assert written["cost"]["batch"] == pytest.approx(expected.batch, abs=1e-6)
    assert written["cost"]["standard"] == pytest.approx(expected.standard, abs=1e-6)
    (notification,) = stack.drain(notifications)
    assert notification["Subject"] == f"batchdrop job {job['job_id']}: 2 of 2 documents answered"


def test_a_window_of_both_backends_makes_a_job_on_each(stack: Stack, bedrock: BedrockEmulatorServer) -> None:
    env = _env(bedrock)
    stack.put_document("profiles/onbedrock.yaml", PROFILE)

    submitted = stack.submit(
        {"inbox/default/a.txt": b"On the Claude API.", "inbox/onbedrock/b.txt": b"On Bedrock."}, **env
    )

    claude, on_bedrock = submitted["jobs"]
    assert claude["batch_id"].startswith("msgbatch_") and on_bedrock["batch_id"].startswith(
        "arn:aws:bedrock:"
    )
    backends = {
        j["job_id"]: stack.table.get_item(Key={"job_id": j["job_id"]})["Item"]["backend"]
        for j in (claude, on_bedrock)
    }
    assert backends == {claude["job_id"]: "anthropic", on_bedrock["job_id"]: "bedrock"}
    bedrock.advance(10)
    ended = stack.handler("PollFunction", **env)(load_event("scheduled.json"))["ended"]
    assert sorted(ended) == sorted([claude["job_id"], on_bedrock["job_id"]])
    for job in (claude, on_bedrock):
        assert _complete(stack, env, job)["counts"]["succeeded"] == 1
    assert stack.keys("results/") == ["results/default/a.txt.md", "results/onbedrock/b.txt.md"]


def test_a_bedrock_profile_on_a_stack_without_its_role_gets_an_error_object(
    stack: Stack, bedrock: BedrockEmulatorServer
) -> None:
    env = {**_env(bedrock), "BEDROCK_SERVICE_ROLE_ARN": ""}
    stack.put_document("profiles/onbedrock.yaml", PROFILE)

    submitted = stack.submit({"inbox/onbedrock/b.txt": b"On Bedrock."}, **env)

    assert submitted["jobs"] == [] and submitted["rejected"] == 1
    error = stack.get_text("results/onbedrock/b.txt.error.json")
    assert "no Bedrock service role" in error and "BEDROCK_SERVICE_ROLE_ARN" in error
    assert bedrock.stats()["calls"]["create"] == 0


def test_a_request_list_line_naming_another_model_is_rejected_not_sent_to_it(
    stack: Stack, bedrock: BedrockEmulatorServer
) -> None:
    # Given a list under the Bedrock profile whose second line names another Bedrock model
    env = _env(bedrock)
    stack.put_document("profiles/onbedrock.yaml", PROFILE)
    other = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    hello = [{"role": "user", "content": "Hello?"}]
    lines = [
        {"id": "q1", "params": {"messages": hello}},
        {"id": "q2", "params": {"model": other, "messages": hello}},
        {"id": "q3", "prompt": "Hello again?", "model": other},
    ]
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()

    submitted = stack.submit({"inbox/onbedrock/questions.jsonl": body}, **env)

    # Then one Bedrock job runs the profile's model with the line that named none
    (job,) = submitted["jobs"]
    assert (job["requests"], submitted["rejected"]) == (1, 2)
    (arn,) = bedrock.stats()["jobs"]
    assert bedrock.engine.job(arn).request.model_id == MODEL
    # And each line naming the other model has an error object naming both models
    for item in ("q2", "q3"):
        reason = json.dumps(
            json.loads(stack.get_text(f"results/onbedrock/questions.jsonl/{item}.error.json"))
        )
        assert other in reason and MODEL in reason, reason
