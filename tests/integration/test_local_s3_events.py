"""The local stack's S3 events as S3 sends them (versionId, size, eTag, a sequencer that grows per
key and compares as S3 documents), and AWS faults aimed at a function of a running stack."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from batchdrop.adapters.events import sequencer_is_newer
from batchdrop_local import cli
from batchdrop_local.runtime import FunctionWorker, Invocation
from batchdrop_local.s3_fidelity import sequencer_order
from batchdrop_local.stack import LocalStack, LocalStackOptions

# Bounds how long a broken stack can hang a test, never what a working one must achieve: on a
# shared, loaded machine one invocation of a function can take tens of seconds.
DEADLINE = 180.0


@dataclass
class SubmitCall:
    """One invocation of Submit: the SQS bodies it was handed and, once it returned, how it ended."""

    bodies: list[dict[str, Any]]
    result: Invocation | None = None

    def object_keys(self) -> set[str]:
        return {r["s3"]["object"]["key"] for body in self.bodies for r in body.get("Records", [])}


class SubmitEvents:
    """The SQS records the ingest queue delivers to Submit, and how each invocation ended."""

    def __init__(self, worker: FunctionWorker) -> None:
        self._lock = threading.Lock()
        self.calls: list[SubmitCall] = []
        invoke = worker.invoke

        def recorded(event: dict[str, Any], timeout: float | None = None) -> Invocation:
            call = SubmitCall([json.loads(r["body"]) for r in event.get("Records", [])])
            with self._lock:
                self.calls.append(call)
            result = invoke(event, timeout)
            with self._lock:
                call.result = result
            return result

        worker.invoke = recorded  # type: ignore[method-assign]

    def mark(self) -> int:
        with self._lock:
            return len(self.calls)

    def since(self, mark: int) -> list[SubmitCall]:
        with self._lock:
            return self.calls[mark:]

    def s3_records(self, key: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                record
                for call in self.calls
                for body in call.bodies
                for record in body.get("Records", [])
                if record["s3"]["object"]["key"] == key
            ]


def _until(condition: Callable[[], Any], deadline: float = DEADLINE) -> Any:
    """The condition's first truthy value; polled, failing only after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"the condition did not hold within {deadline:.0f} s")


def _ingest_idle(stack: LocalStack) -> bool:
    """Every message of Submit's queue handled: none waiting, none whose invocation is still
    running (the poller deletes a message only once its invocation has returned)."""
    counts = stack.undelivered_messages()
    return all(n == 0 for name, n in counts.items() if name.startswith("SubmitFunction:"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    options = LocalStackOptions(
        port=0,
        prefix="batchdrop-s3events",
        batching_window=0.5,
        poll_interval=1.0,
        emulator_delay=0.5,
        state_dir=tmp_path_factory.mktemp("s3-events"),
        # No test here wants a redelivery: however slow an invocation, its message stays its own.
        visibility_timeout=900,
    )
    with LocalStack(options, report=lambda _line: None) as running:
        yield running


@pytest.fixture(scope="module")
def submit_events(stack: LocalStack) -> SubmitEvents:
    events = SubmitEvents(stack.workers["SubmitFunction"])
    # Settled: the s3:TestEvent that configuring the notification sent has been handled, so
    # Submit's cold start is over before any test counts on its invocations.
    _until(lambda: _ingest_idle(stack))
    return events


def test_two_versions_of_one_key_arrive_with_their_version_ids_and_growing_sequencers(
    stack: LocalStack, submit_events: SubmitEvents
) -> None:
    s3 = stack.client("s3")
    bucket = stack.info()["bucket"]
    key = f"inbox/versions-{uuid.uuid4().hex[:6]}/report.txt"
    first = s3.put_object(Bucket=bucket, Key=key, Body=b"first draft")
    second = s3.put_object(Bucket=bucket, Key=key, Body=b"the second, longer draft")

    records = _until(lambda: len(submit_events.s3_records(key)) >= 2 and submit_events.s3_records(key))
    by_version = {r["s3"]["object"]["versionId"]: r["s3"]["object"] for r in records}
    assert set(by_version) == {first["VersionId"], second["VersionId"]}
    older, newer = by_version[first["VersionId"]], by_version[second["VersionId"]]
    assert (older["size"], newer["size"]) == (len(b"first draft"), len(b"the second, longer draft"))
    assert (older["eTag"], newer["eTag"]) == (first["ETag"].strip('"'), second["ETag"].strip('"'))
    # S3: left-pad the shorter sequencer with zeros, then compare as strings; later is greater.
    assert sequencer_order(newer["sequencer"]) > sequencer_order(older["sequencer"])
    assert int(newer["sequencer"], 16) > int(older["sequencer"], 16)
    assert all(r["eventName"] == "ObjectCreated:Put" for r in records)
    assert all(r["responseElements"]["x-amz-request-id"] and r["userIdentity"] for r in records)


def _bucket_with_queue(stack: LocalStack, versioned: bool) -> tuple[str, str]:
    s3, sqs = stack.client("s3"), stack.client("sqs")
    name = f"events-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    queue = sqs.create_queue(QueueName=f"{name}-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=name,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}
            ]
        },
    )
    return name, queue


def _records(stack: LocalStack, queue: str, wanted: int) -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    records: list[dict[str, Any]] = []

    def received() -> bool:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            records.extend(json.loads(message["Body"]).get("Records", []))  # the test event has none
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return len(records) >= wanted

    _until(received)
    return records


def test_sequencers_grow_per_key_under_the_documented_comparison(stack: LocalStack) -> None:
    s3 = stack.client("s3")
    bucket, queue = _bucket_with_queue(stack, versioned=True)
    versions = [
        s3.put_object(Bucket=bucket, Key="notes.md", Body=f"v{n}".encode())["VersionId"] for n in range(17)
    ]

    records = _records(stack, queue, 17)
    created = [r["s3"]["object"] for r in records]
    assert [o["versionId"] for o in created] == versions  # one queue, one writer: in order
    sequencers = [o["sequencer"] for o in created]
    assert sorted(sequencers, key=sequencer_order) == sequencers
    assert len(set(sequencers)) == len(sequencers)
    # and batchdrop's own comparison (Complete's newest-version rule) orders them the same way
    assert all(sequencer_is_newer(later, earlier) for earlier, later in itertools.pairwise(sequencers))


def test_an_unversioned_bucket_sends_no_version_id(stack: LocalStack) -> None:
    bucket, queue = _bucket_with_queue(stack, versioned=False)
    stack.client("s3").put_object(Bucket=bucket, Key="plain.txt", Body=b"x")
    (record,) = _records(stack, queue, 1)
    assert "versionId" not in record["s3"]["object"]
    assert record["s3"]["object"]["sequencer"]


def test_a_fault_aimed_at_submit_is_served_to_it_alone_and_retried_by_its_sdk(
    stack: LocalStack, submit_events: SubmitEvents, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a settled stack (an invocation of an earlier test still running would be Submit's
    # too, and could take the fault) and a throttle on Submit's first S3 call of any kind
    _until(lambda: _ingest_idle(stack))
    s3 = stack.client("s3")
    bucket = stack.info()["bucket"]
    mark = submit_events.mark()
    rule = stack.aws_faults.arm("s3", None, "throttle", caller="SubmitFunction")
    try:
        # The test's own calls are not Submit's (an object outside inbox/ starts nothing).
        s3.put_object(Bucket=bucket, Key=f"notes/{uuid.uuid4().hex[:6]}.txt", Body=b"not a document")
        assert rule.seen == 0
        key = f"inbox/fault-{uuid.uuid4().hex[:6]}.txt"
        s3.put_object(Bucket=bucket, Key=key, Body=b"a document")
        assert stack.aws_faults.wait_served(rule, timeout=DEADLINE)

        # Then Submit's SDK retried the call, and the invocation handed the document succeeded:
        # the fault never reached the event source (no failed invocation, no redelivery).
        def ended() -> list[SubmitCall]:
            calls = [call for call in submit_events.since(mark) if key in call.object_keys()]
            return calls if calls and all(call.result is not None for call in calls) else []

        handled = _until(ended)
        results = [call.result for call in handled if call.result is not None]
        assert [r.ok for r in results] == [True], [r.error for r in results]
        assert rule.served == 1 and rule.seen >= 2  # the throttled call, then its retry and on
        # and nothing else of Submit's ran meanwhile, so the fault was this invocation's
        assert [call.object_keys() for call in submit_events.since(mark)] == [{key}]
        # The running stack's CLI sees the rule through state.json.
        assert cli.main(["local", "aws-fault", "list", "--state-dir", str(stack.options.state_dir)]) == 0
        assert f"{rule.id}: s3 * throttle" in capsys.readouterr().out
        assert json.loads(Path(stack.options.state_dir, "state.json").read_text())["aws_faults_url"].endswith(
            "/_batchdrop/aws-faults"
        )
    finally:
        stack.aws_faults.clear()
