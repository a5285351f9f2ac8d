"""The "Batch Inference Job State Change" event reaches the default bus: a rule sends it to SQS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batchdrop_local.bedrock_emulator import BedrockConfig, BedrockEmulatorServer, ManualClock
from tests.bedrock_emulator.conftest import (
    ALL_DONE,
    FAST,
    MODEL_ID,
    aws,
    bedrock_client,
    standard_job,
    status,
)


@pytest.fixture
def queue(moto_endpoint: str, s3) -> tuple[Any, str]:
    """An SQS queue that a rule on the default bus fills with the Bedrock batch events."""
    sqs = aws("sqs", moto_endpoint)
    url = sqs.create_queue(QueueName="bedrock-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = aws("events", moto_endpoint)
    pattern = {"source": ["aws.bedrock"], "detail-type": ["Batch Inference Job State Change"]}
    events.put_rule(Name="bedrock-batch", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="bedrock-batch", Targets=[{"Id": "queue", "Arn": arn}])
    return sqs, url


def received(queue: tuple[Any, str]) -> list[dict[str, Any]]:
    sqs, url = queue
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        messages.extend(json.loads(message["Body"]) for message in batch)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)],
        )
    return messages


def test_every_status_change_puts_an_event_on_the_default_bus(
    emulator: BedrockEmulatorServer, s3, bedrock, queue
):
    arn = standard_job(s3, bedrock)
    emulator.advance(ALL_DONE)

    events = received(queue)
    assert [event["detail"]["status"] for event in events] == [
        "Submitted",
        "Validating",
        "Scheduled",
        "InProgress",
        "Completed",
    ]
    last = events[-1]
    assert (last["source"], last["detail-type"], last["resources"]) == (
        "aws.bedrock",
        "Batch Inference Job State Change",
        [arn],
    )
    assert last["time"] == "2027-01-15T08:02:10Z"  # submitted at 1_800_000_000, ended 130 s later
    assert last["detail"] == {
        "version": "0.0",
        "accountId": "123456789012",
        "batchJobName": "job1",
        "batchJobArn": arn,
        "batchModelId": f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{MODEL_ID}",
        "status": "Completed",
        "failureMessage": "",
        "creationTime": "Jan 15, 2027, 8:00:00 AM",
    }


def test_a_failed_job_says_why_in_its_event(emulator, s3, bedrock, queue):
    from tests.bedrock_emulator.conftest import create_job

    create_job(
        bedrock, "s3://batchdrop-bedrock-test/nothing-here.jsonl", modelId="anthropic.claude-haiku-4-5"
    )
    emulator.advance(20)
    failed = received(queue)[-1]["detail"]
    assert failed["status"] == "Failed"
    assert "NoSuchKey" in failed["failureMessage"]
    assert failed["batchModelId"] == "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5"


def test_stop_events(emulator, s3, bedrock, queue):
    arn = standard_job(s3, bedrock)
    emulator.advance(35)
    bedrock.stop_model_invocation_job(jobIdentifier=arn)
    emulator.advance(5)
    assert [event["detail"]["status"] for event in received(queue)][-3:] == [
        "InProgress",
        "Stopping",
        "Stopped",
    ]


def test_an_unreachable_bus_does_not_stop_the_job(moto_endpoint, s3):
    # Given an EventBridge endpoint where nothing listens (port 9 on loopback), events are best effort.
    events = aws("events", "http://127.0.0.1:9")
    config = BedrockConfig(aws_endpoint=moto_endpoint, durations=dict(FAST))
    with BedrockEmulatorServer(
        config=config, clock=ManualClock(start=1_800_000_000.0), events=events
    ) as server:
        client = bedrock_client(server.url)
        arn = standard_job(s3, client)
        server.advance(ALL_DONE)
        assert status(client, arn) == "Completed"
        assert server.stats()["events"] == {"sent": 0, "failed": 5}


def test_events_can_be_switched_off(emulator, s3, bedrock, queue):
    emulator.update_config(publish_events=False)
    standard_job(s3, bedrock)
    emulator.advance(ALL_DONE)
    assert received(queue) == []
