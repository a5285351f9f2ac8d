"""Bedrock's "Batch Inference Job State Change" event starts completion on the local stack.

The stack is built from template.yaml: PollFunction's BedrockJobEnded rule is created on the
stack's default bus with the template's pattern, and its deliveries go to the Poll container as
EventBridge would send them. The Bedrock emulator runs on a manual clock and puts its events on
that bus when a job changes status; the schedule of Poll never ticks here (its interval is an
hour), so every Poll run is one a test caused. Spies on the real workers record what each
function was handed and what it answered.

- An ended job's event alone starts Poll, and so Complete: results, summary, one notification.
- The event's Poll and a scheduled Poll for the same ended job (and the event delivered twice)
  announce "Batch Ended" once, and Complete runs once.
- An event for a job batchdrop does not know, a non-final status (filtered by the rule), or a
  final status that Bedrock's own answer contradicts, announces nothing and loses nothing.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from batchdrop_local.runtime import FunctionWorker, Invocation
from batchdrop_local.stack import LocalStack, LocalStackOptions
from batchdrop_local.triggers import EventBridgeRuleSource, ScheduleSource, scheduled_event

MODEL = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
PROFILE = f"backend: bedrock\nbedrock_model: {MODEL}\ninstruction: Summarise this document.\n"
FINAL = {"Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"}
DEADLINE = 120.0
"""Bounds how long a broken delivery can hang a test; a working one takes seconds."""
Seen = tuple[dict[str, Any], Invocation]


class Calls:
    """A spy on one function's worker: every event it was handed and what it answered."""

    def __init__(self, worker: FunctionWorker) -> None:
        self._invoke = worker.invoke
        self._changed = threading.Condition()
        self.seen: list[Seen] = []

    def __call__(self, event: dict[str, Any], timeout: float | None = None) -> Invocation:
        result = self._invoke(event, timeout)
        with self._changed:
            self.seen.append((event, result))
            self._changed.notify_all()
        return result

    def matching(self, wanted: Callable[[dict[str, Any], Invocation], bool]) -> list[Seen]:
        with self._changed:
            return [(event, result) for event, result in self.seen if wanted(event, result)]

    def wait_for(
        self, wanted: Callable[[dict[str, Any], Invocation], bool], what: str, count: int = 1
    ) -> list[Seen]:
        """The invocations `wanted` picks, once there are `count` of them."""
        deadline = time.monotonic() + DEADLINE
        with self._changed:
            while True:
                found = [(event, result) for event, result in self.seen if wanted(event, result)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                assert left > 0, f"{what}: not seen in {DEADLINE:.0f} s; saw {[e for e, _ in self.seen]}"
                self._changed.wait(left)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    options = LocalStackOptions(
        port=0,
        prefix="batchdrop-bevents",
        batching_window=0.5,
        poll_interval=3600.0,  # the schedule never ticks: a test runs a scheduled Poll itself
        emulator_delay=0.0,
        state_dir=tmp_path_factory.mktemp("bedrock-events"),
        bedrock_manual_clock=True,
        bedrock_min_records=1,
    )
    with LocalStack(options, report=lambda _line: None) as running:
        running.client("s3").put_object(
            Bucket=running.info()["bucket"], Key="profiles/onbedrock.yaml", Body=PROFILE.encode()
        )
        yield running


@pytest.fixture
def spies(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> dict[str, Calls]:
    """Spies on Submit, Poll and Complete, for this test only (the sources call worker.invoke)."""
    found = {}
    for name in ("SubmitFunction", "PollFunction", "CompleteFunction"):
        worker = stack.workers[name]
        found[name] = Calls(worker)
        monkeypatch.setattr(worker, "invoke", found[name])
    return found


def _queue(stack: LocalStack, purpose: str) -> tuple[str, str]:
    sqs = stack.client("sqs")
    url = sqs.create_queue(QueueName=f"{purpose}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


@pytest.fixture
def notifications(stack: LocalStack) -> str:
    """A queue subscribed to the stack's notification topic."""
    url, arn = _queue(stack, "notifications")
    stack.client("sns").subscribe(TopicArn=stack.info()["topic_arn"], Protocol="sqs", Endpoint=arn)
    return url


@pytest.fixture
def batch_ended(stack: LocalStack) -> Iterator[str]:
    """A queue of every "Batch Ended" announced on the stack's job bus."""
    url, arn = _queue(stack, "batch-ended")
    events, bus, name = stack.client("events"), stack.info()["event_bus"], f"capture-{uuid.uuid4().hex[:8]}"
    pattern = {"source": ["batchdrop"], "detail-type": ["Batch Ended"]}
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "capture", "Arn": arn}])
    yield url
    events.remove_targets(Rule=name, EventBusName=bus, Ids=["capture"])
    events.delete_rule(Name=name, EventBusName=bus)


def _drain(stack: LocalStack, url: str) -> list[dict[str, Any]]:
    sqs, bodies = stack.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    ):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def _submit_one(stack: LocalStack, spies: dict[str, Calls], text: str) -> tuple[str, str, str]:
    """One document under the Bedrock profile, through the bucket's event and Submit; (its key,
    the job id, the Bedrock job ARN). The job waits in Submitted until a test moves the clock."""
    key = f"inbox/onbedrock/{uuid.uuid4().hex[:8]}.txt"
    stack.client("s3").put_object(Bucket=stack.info()["bucket"], Key=key, Body=text.encode())
    ((_, submitted),) = spies["SubmitFunction"].wait_for(
        lambda _e, r: r.ok and bool(r.payload.get("jobs")), f"Submit of {key}"
    )
    (job,) = submitted.payload["jobs"]
    assert job["requests"] == 1 and job["batch_id"].startswith("arn:aws:bedrock:")
    return key, job["job_id"], job["batch_id"]


def _end_jobs(stack: LocalStack) -> None:
    """Move the emulator's clock past every status of a job created now (to Completed)."""
    assert stack.bedrock is not None
    durations = stack.bedrock.engine.config.durations
    stack.bedrock.advance(sum(durations.values()) - durations["Stopping"])


def _is_event_for(arn: str, *statuses: str) -> Callable[[dict[str, Any], Invocation], bool]:
    return lambda event, _r: (
        event.get("source") == "aws.bedrock"
        and event["detail"]["batchJobArn"] == arn
        and (not statuses or event["detail"]["status"] in statuses)
    )


def _completed(job_id: str) -> Callable[[dict[str, Any], Invocation], bool]:
    return lambda event, result: (
        event.get("detail", {}).get("job_id") == job_id
        and result.ok
        and result.payload["status"] == "completed"
    )


def _settled(stack: LocalStack) -> None:
    """Wait until every queued event and message has been handled (so nothing more can come)."""
    deadline = time.monotonic() + DEADLINE
    while any(stack.undelivered_messages().values()):
        assert time.monotonic() < deadline, f"still undelivered: {stack.undelivered_messages()}"
        time.sleep(0.2)


def _for_job(notes: list[dict[str, Any]], job_id: str) -> list[dict[str, Any]]:
    return [note for note in notes if note["Subject"].startswith(f"batchdrop job {job_id}:")]


def _job_status(stack: LocalStack, job_id: str) -> str:
    table = stack.client("dynamodb")
    item = table.get_item(TableName=stack.info()["jobs_table"], Key={"job_id": {"S": job_id}})["Item"]
    return str(item["status"]["S"])


def _dead_letters(stack: LocalStack) -> int:
    assert stack.resources is not None
    url = stack.resources.queue_urls["BedrockEventsDeadLetterQueue"]
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _put_bedrock_event(stack: LocalStack, arn: str, status: str) -> None:
    """The contract's event (source, detail-type, detail {batchJobArn, batchJobName, status}),
    put on the default bus as Bedrock puts it."""
    detail = {"batchJobArn": arn, "batchJobName": f"job-{arn.rsplit('/', 1)[1]}", "status": status}
    answer = stack.client("events").put_events(
        Entries=[
            {
                "Source": "aws.bedrock",
                "DetailType": "Batch Inference Job State Change",
                "Detail": json.dumps(detail),
                "Resources": [arn],
                "EventBusName": "default",
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0


def test_the_local_stack_routes_the_templates_rule_from_the_default_bus_to_poll(stack: LocalStack) -> None:
    # The rule as the template names it (the dead-letter queue's policy names it too), on the
    # default bus, with the template's pattern; its deliveries go to Poll with the template's DLQ.
    assert stack.resources is not None
    rule_name = f"{stack.options.prefix}-bedrock"
    rule = stack.client("events").describe_rule(Name=rule_name, EventBusName="default")
    template_rule = stack.resources.functions["PollFunction"].events["BedrockJobEnded"]["Properties"]
    assert json.loads(rule["EventPattern"]) == template_rule["Pattern"]
    (source,) = [
        s
        for s in stack.sources
        if isinstance(s, EventBridgeRuleSource) and s.target_queue_url.endswith(f"/{rule_name}-target")
    ]
    assert source.worker is stack.workers["PollFunction"]
    assert source.dead_letter_queue_url == stack.resources.queue_urls["BedrockEventsDeadLetterQueue"]


def test_an_ended_jobs_event_alone_starts_poll_and_completion(
    stack: LocalStack, spies: dict[str, Calls], notifications: str, batch_ended: str
) -> None:
    # Given a document submitted to a Bedrock job, and no Poll run since
    assert stack.bedrock is not None
    sent_before = stack.bedrock.stats()["events"]["sent"]
    key, job_id, arn = _submit_one(stack, spies, "Alpha: the only document of this job.")

    # When the job runs to its end in Bedrock
    _end_jobs(stack)

    # Then its Completed event starts Poll, which announces it, and Complete finishes the job
    ((_, done),) = spies["CompleteFunction"].wait_for(_completed(job_id), f"Complete of {job_id}")
    assert done.payload["counts"]["succeeded"] == 1
    _settled(stack)
    # Every status was put on the bus, but the rule handed Poll the final one only; and no
    # scheduled Poll ran
    assert stack.bedrock.stats()["events"]["sent"] - sent_before == 5
    polls = spies["PollFunction"].matching(lambda _e, _r: True)
    assert [event["source"] for event, _ in polls] == ["aws.bedrock"]
    ((event, poll),) = polls
    assert (event["detail"]["batchJobArn"], event["detail"]["status"]) == (arn, "Completed")
    assert event["detail-type"] == "Batch Inference Job State Change" and event["resources"] == [arn]
    assert poll.ok and poll.payload["ended"] == [job_id]
    # And the results, the summary and one notification are written
    s3, bucket = stack.client("s3"), stack.info()["bucket"]
    answer = s3.get_object(Bucket=bucket, Key=key.replace("inbox/", "results/", 1) + ".md")["Body"].read()
    assert answer.strip()
    summary = json.loads(s3.get_object(Bucket=bucket, Key=f"jobs/{job_id}/summary.json")["Body"].read())
    assert summary["counts"]["succeeded"] == 1
    assert [(row["profile"], row["model"]) for row in summary["by_profile_and_model"]] == [
        ("onbedrock", MODEL)
    ]
    (note,) = _for_job(_drain(stack, notifications), job_id)
    assert note["Subject"].startswith(f"batchdrop job {job_id}: 1 of 1 document")
    assert [e["detail"]["job_id"] for e in _drain(stack, batch_ended)] == [job_id]
    assert _job_status(stack, job_id) == "completed"
    assert _dead_letters(stack) == 0


def test_the_events_poll_and_a_scheduled_poll_announce_an_ended_job_once(
    stack: LocalStack, spies: dict[str, Calls], notifications: str, batch_ended: str
) -> None:
    # Given a Bedrock job that has just ended: its event is on its way to Poll
    _key, job_id, arn = _submit_one(stack, spies, "Beta: announced by whichever Poll comes first.")
    _end_jobs(stack)

    # When the schedule's Poll runs for it too, at the same time (as the schedule's tick would)
    (schedule,) = [
        s for s in stack.sources if isinstance(s, ScheduleSource) and s.worker.fn.logical_id == "PollFunction"
    ]
    scheduled = schedule.invoke(scheduled_event(schedule.rule_arn))
    assert scheduled.ok
    spies["PollFunction"].wait_for(_is_event_for(arn, "Completed"), f"the Completed event of {arn}")
    spies["CompleteFunction"].wait_for(_completed(job_id), f"Complete of {job_id}")
    _settled(stack)

    # Then both Polls ran after the end, and exactly one of them announced the job
    polls = spies["PollFunction"].matching(lambda _e, _r: True)
    assert sorted(event["source"] for event, _ in polls) == ["aws.bedrock", "aws.events"]
    assert all(result.ok for _, result in polls)
    assert sorted(job_id in result.payload["ended"] for _, result in polls) == [False, True]

    # And when EventBridge delivers the event once more (at least once, not exactly once)
    (event, _) = spies["PollFunction"].matching(_is_event_for(arn))[0]
    _put_bedrock_event(stack, arn, event["detail"]["status"])
    spies["PollFunction"].wait_for(_is_event_for(arn), f"the second delivery for {arn}", count=2)
    _settled(stack)

    # Then "Batch Ended" went out once, Complete ran once, and one notification was sent
    assert [e["detail"]["job_id"] for e in _drain(stack, batch_ended)] == [job_id]
    completes = spies["CompleteFunction"].matching(lambda e, _r: e.get("detail", {}).get("job_id") == job_id)
    assert len(completes) == 1
    assert len(_for_job(_drain(stack, notifications), job_id)) == 1
    assert _job_status(stack, job_id) == "completed"
    assert _dead_letters(stack) == 0


def test_an_unknown_job_or_a_status_that_is_not_final_does_no_harm(
    stack: LocalStack, spies: dict[str, Calls], notifications: str, batch_ended: str
) -> None:
    # Given a Bedrock job of batchdrop's, still Submitted in Bedrock
    _key, job_id, arn = _submit_one(stack, spies, "Gamma: still waiting in Bedrock.")
    unknown = f"{arn.rsplit('/', 1)[0]}/zz{uuid.uuid4().hex[:10]}"

    # When events come for it with a status that is not final, with a final one that Bedrock's
    # own answer contradicts, and for a job batchdrop never made (put in that order)
    _put_bedrock_event(stack, arn, "InProgress")
    _put_bedrock_event(stack, arn, "Failed")
    _put_bedrock_event(stack, unknown, "Completed")
    spies["PollFunction"].wait_for(_is_event_for(unknown), f"the event of the unknown job {unknown}")
    _settled(stack)

    # Then the rule kept the status that is not final from Poll; Poll ran for the others, and
    # announced nothing
    polls = spies["PollFunction"].matching(lambda _e, _r: True)
    assert [(e["detail"]["batchJobArn"], e["detail"]["status"]) for e, _ in polls] == [
        (arn, "Failed"),
        (unknown, "Completed"),
    ]
    assert all(result.ok and result.payload["ended"] == [] for _, result in polls)
    assert all(result.payload["in_progress"] == 1 for _, result in polls)
    assert _drain(stack, batch_ended) == []
    assert spies["CompleteFunction"].matching(lambda _e, _r: True) == []
    assert _job_status(stack, job_id) == "submitted"
    assert _dead_letters(stack) == 0

    # And the job is unharmed: when it really ends, its own event completes it once
    _end_jobs(stack)
    spies["CompleteFunction"].wait_for(_completed(job_id), f"Complete of {job_id}")
    _settled(stack)
    assert [e["detail"]["job_id"] for e in _drain(stack, batch_ended)] == [job_id]
    assert len(_for_job(_drain(stack, notifications), job_id)) == 1
