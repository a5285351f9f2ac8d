"""Nothing lost, nothing billed twice: duplicate and overlapping deliveries, new versions, and
Submit dying just before or just after creating the batch (crash points), reconciled by Poll."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import pytest

from batchdrop_local.crash_points import SimulatedCrash
from batchdrop_ops.commands import cancel_command
from tests.integration.harness import Stack, load_event

# A crashed invocation publishes no metrics; Powertools warns about that, as it should.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def _upload_event_documents(stack: Stack, sample_documents: dict[str, bytes]) -> None:
    for key in ("inbox/default/release notes, v2.md", "inbox/default/meetings/2026-11-24 standup.txt"):
        stack.put_document(
            key,
            sample_documents["samples/" + key]
            if "samples/" + key in sample_documents
            else sample_documents[key],
        )


def _submit_dies_at(stack: Stack, monkeypatch: pytest.MonkeyPatch, point: str, grace: str = "0") -> None:
    """Submit handles events/sqs-s3-put.json and dies at the crash point (its creation lease,
    the grace, shortened so that Poll may take the job over at once)."""
    monkeypatch.setenv("BATCHDROP_CRASH_POINTS", point)
    with pytest.raises(SimulatedCrash):
        stack.handler("SubmitFunction", SUBMIT_GRACE_SECONDS=grace)(load_event("sqs-s3-put.json"))
    monkeypatch.delenv("BATCHDROP_CRASH_POINTS")


def _jobs(stack: Stack) -> list[dict[str, Any]]:
    return [item for item in stack.table.scan()["Items"] if "status" in item]


def _billed(stack: Stack) -> Counter[str]:
    """How many times each request was sent to the API, across all batches."""
    return Counter(stack.emulator.stats()["requests_by_custom_id"])


def _finish(stack: Stack) -> list[dict[str, Any]]:
    """Poll until every job ended, then complete each; the summaries."""
    stack.handler("PollFunction")(load_event("scheduled.json"))
    complete = stack.handler("CompleteFunction")
    summaries = []
    for job in _jobs(stack):
        if job["status"] in ("ended", "ending"):
            event = load_event("batch-ended.json")
            event["detail"].update(job_id=job["job_id"], batch_id=job["batch_id"])
            complete(event)
            summaries.append(json.loads(stack.get_text(f"jobs/{job['job_id']}/summary.json")))
    return summaries


def test_the_same_notification_delivered_twice_is_submitted_once(
    stack: Stack, sample_documents: dict[str, bytes]
) -> None:
    _upload_event_documents(stack, sample_documents)
    submit = stack.handler("SubmitFunction")
    first = submit(load_event("sqs-s3-put.json"))
    again = submit(load_event("sqs-s3-put.json"))  # SQS redelivery, or S3's at-least-once event

    assert (first["submitted"], again["submitted"], again["duplicates"]) == (2, 0, 2)
    assert again["jobs"] == [] and again["batchItemFailures"] == []
    assert stack.emulator.stats()["batches_created"] == 1
    assert set(_billed(stack).values()) == {1}


def test_overlapping_windows_submit_each_document_once(
    stack: Stack, sample_documents: dict[str, bytes]
) -> None:
    _upload_event_documents(stack, sample_documents)
    submit = stack.handler("SubmitFunction")
    results: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: results.append(submit(load_event("sqs-s3-put.json"))))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r["submitted"] for r in results) == 2
    assert sum(r["duplicates"] for r in results) == 4
    assert set(_billed(stack).values()) == {1}


def test_a_new_version_of_the_same_key_is_a_new_document(stack: Stack) -> None:
    submit = stack.handler("SubmitFunction")
    event = load_event("s3-put.json")
    stack.put_document("inbox/default/release notes, v2.md", b"First version.")
    assert submit(event)["submitted"] == 1
    assert submit(event)["submitted"] == 0  # the same version again
    stack.put_document("inbox/default/release notes, v2.md", b"Second version, edited.")
    assert submit(event)["submitted"] == 1
    assert stack.emulator.stats()["batches_created"] == 2


def test_a_crash_after_creating_the_batch_is_adopted_not_resubmitted(
    stack: Stack, sample_documents: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Submit dies right after the API created the batch, before recording it
    _upload_event_documents(stack, sample_documents)
    _submit_dies_at(stack, monkeypatch, "create:after-call")
    (job,) = _jobs(stack)
    assert job["status"] == "submitting" and "batch_id" not in job

    # When Poll finds the job stuck (grace shortened for the test) and SQS redelivers the window
    report = stack.handler("PollFunction", SUBMIT_GRACE_SECONDS="0")(load_event("scheduled.json"))
    redelivered = stack.handler("SubmitFunction")(load_event("sqs-s3-put.json"))

    # Then the batch was adopted, the redelivery was a duplicate, and nothing was billed twice
    assert report["adopted"] == [job["job_id"]]
    assert (redelivered["submitted"], redelivered["duplicates"]) == (0, 2)
    assert stack.emulator.stats()["batches_created"] == 1
    (summary,) = _finish(stack)
    assert summary["counts"]["succeeded"] == 2
    assert len(stack.keys("results/")) == 2
    assert set(_billed(stack).values()) == {1}


def test_a_crash_before_creating_the_batch_is_created_by_poll_once(
    stack: Stack, sample_documents: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Submit dies after recording its intent (and its requests), before the API call
    _upload_event_documents(stack, sample_documents)
    _submit_dies_at(stack, monkeypatch, "submit:before-create")

    # When Poll takes the job over (no create was called: nothing to find) and SQS redelivers
    report = stack.handler("PollFunction", SUBMIT_GRACE_SECONDS="0")(load_event("scheduled.json"))
    redelivered = stack.handler("SubmitFunction")(load_event("sqs-s3-put.json"))

    # Then Poll created the job's batch from its stored requests; the redelivery was a duplicate
    (job,) = _jobs(stack)
    assert report["created"] == [job["job_id"]] and report["abandoned"] == []
    assert (redelivered["submitted"], redelivered["duplicates"]) == (0, 2)
    assert job["status"] == "submitted"
    (summary,) = _finish(stack)
    assert summary["counts"]["succeeded"] == 2
    assert stack.emulator.stats()["batches_created"] == 1
    assert set(_billed(stack).values()) == {1}


def test_a_young_submitting_job_is_left_alone(
    stack: Stack, sample_documents: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Submit that is still running (its intent is recent) must not be reconciled under it.
    _upload_event_documents(stack, sample_documents)
    _submit_dies_at(stack, monkeypatch, "submit:before-create", grace="1200")
    report = stack.handler("PollFunction", SUBMIT_GRACE_SECONDS="0")(load_event("scheduled.json"))
    assert (report["adopted"], report["created"], report["open_jobs"]) == ([], [], 1)


def test_a_lost_batch_ended_event_is_announced_again(
    stack: Stack, sample_documents: dict[str, bytes]
) -> None:
    # Given a batch whose "Batch Ended" went nowhere (dead-lettered, or its Complete died)
    _upload_event_documents(stack, sample_documents)
    stack.handler("SubmitFunction")(load_event("sqs-s3-put.json"))
    stack.handler("PollFunction")(load_event("scheduled.json"))
    (job,) = _jobs(stack)
    assert job["status"] == "ended"
    captured = stack.capture_queue("redriven")
    events = stack.client("events")
    bus = stack.resources.names["JobEventBus"]
    events.put_rule(
        Name="capture", EventBusName=bus, EventPattern=json.dumps({"detail-type": ["Batch Ended"]})
    )
    events.put_targets(
        Rule="capture", EventBusName=bus, Targets=[{"Id": "q", "Arn": stack.queue_arn(captured)}]
    )

    # When Poll runs past the redrive delay (its clock moved on, not waited for)
    redrive_after = timedelta(minutes=30)
    later = datetime.now(UTC) + redrive_after + timedelta(seconds=1)
    poll = stack.handler_at(
        "PollFunction", lambda: later, REDRIVE_AFTER_SECONDS=str(int(redrive_after.total_seconds()))
    )
    report = poll(load_event("scheduled.json"))

    # Then the job is announced again, and completing it finishes the job
    assert report["redriven"] == [job["job_id"]]
    (event,) = stack.drain(captured)
    assert event["detail"]["job_id"] == job["job_id"] and event["detail"]["redrive"] is True
    (summary,) = _finish(stack)
    assert summary["counts"]["succeeded"] == 2


def test_a_cancel_marker_cancels_the_batch_and_the_rest_is_reported_canceled(
    stack: Stack, sample_documents: dict[str, bytes], tmp_path: Path
) -> None:
    # Given a job whose batch would take an hour (and, once canceled, ends at once)
    stack.emulator.update_config(processing_delay=3600.0, cancel_grace=0.0)
    _upload_event_documents(stack, sample_documents)
    submitted = stack.handler("SubmitFunction")(load_event("sqs-s3-put.json"))
    job_id = submitted["jobs"][0]["job_id"]
    notifications = stack.capture_queue("canceled-notifications")
    stack.client("sns").subscribe(
        TopicArn=stack.resources.names["NotificationTopic"],
        Protocol="sqs",
        Endpoint=stack.queue_arn(notifications),
    )

    # When the user runs `batchdrop cancel` (it writes jobs/<id>/cancel) and S3 tells Submit
    state = {
        "endpoint": stack.endpoint,
        "region": "us-east-1",
        "bucket": stack.bucket,
        "jobs_table": stack.resources.names["JobsTable"],
    }
    (tmp_path / "state.json").write_text(json.dumps(state))
    assert cancel_command(job_id, stack_name=None, bucket=None, state_dir=tmp_path) == 0
    marker = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": stack.bucket},
                    "object": {"key": f"jobs/{job_id}/cancel", "size": 0},
                },
            }
        ]
    }
    handled = stack.handler("SubmitFunction")(marker)

    # Then the batch is canceled, and completing the job reports every document as canceled
    assert handled["canceled"] == {job_id: "canceling"}
    assert handled["jobs"] == []
    batch = stack.emulator.engine.retrieve(submitted["jobs"][0]["batch_id"], stack.emulator.url)
    assert batch["processing_status"] in ("canceling", "ended")
    assert stack.handler("PollFunction")(load_event("scheduled.json"))["ended"] == [job_id]
    (summary,) = _finish(stack)
    assert summary["counts"]["canceled"] == 2 and summary["cancel_requested_at"]
    errors = [json.loads(stack.get_text(key)) for key in stack.keys("results/")]
    assert [e["result_type"] for e in errors] == ["canceled", "canceled"]
    (notification,) = stack.drain(notifications)
    assert "(canceled)" in notification["Subject"]
    # a second marker for the finished job changes nothing
    again = stack.handler("SubmitFunction")(marker)
    assert again["canceled"] == {job_id: "already completed"}


def test_a_complete_that_fails_gives_the_job_back_and_the_retry_finishes_it(
    stack: Stack, sample_documents: dict[str, bytes]
) -> None:
    _upload_event_documents(stack, sample_documents)
    stack.handler("SubmitFunction")(load_event("sqs-s3-put.json"))
    stack.handler("PollFunction")(load_event("scheduled.json"))
    (job,) = _jobs(stack)
    event = load_event("batch-ended.json")
    event["detail"].update(job_id=job["job_id"], batch_id=job["batch_id"])
    complete = stack.handler("CompleteFunction")

    # Given the results endpoint keeps failing past the SDK's own retries
    stack.emulator.inject_fault("results", 500, count=6)
    with pytest.raises(anthropic.InternalServerError):
        complete(event)
    # Then the job is given back at once (no lease to wait out) and the retry completes it
    assert [j["status"] for j in _jobs(stack)] == ["ended"]
    assert complete(event)["status"] == "completed"
    assert len(stack.keys("results/")) == 2


def test_two_completes_at_once_write_one_set_of_results_and_one_notification(
    stack: Stack, sample_documents: dict[str, bytes]
) -> None:
    _upload_event_documents(stack, sample_documents)
    stack.handler("SubmitFunction")(load_event("sqs-s3-put.json"))
    stack.handler("PollFunction")(load_event("scheduled.json"))
    (job,) = _jobs(stack)
    notifications = stack.capture_queue("concurrent-notifications")
    stack.client("sns").subscribe(
        TopicArn=stack.resources.names["NotificationTopic"],
        Protocol="sqs",
        Endpoint=stack.queue_arn(notifications),
    )
    event = load_event("batch-ended.json")
    event["detail"].update(job_id=job["job_id"], batch_id=job["batch_id"])
    complete = stack.handler("CompleteFunction")
    outcomes: list[str] = []

    def deliver() -> None:
        outcomes.append(complete(event)["status"])  # neither delivery fails

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # the loser of the claim finds the job busy (being completed) or already completed
    assert sorted(outcomes) in (["busy", "completed"], ["completed", "duplicate"])
    assert len(stack.keys("results/")) == 2
    assert len(stack.drain(notifications)) == 1


def test_the_api_key_never_appears_in_logs_results_or_notifications(
    stack: Stack, sample_documents: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "sk-ant-test-" + "k3y" * 8
    stack.client("secretsmanager").put_secret_value(
        SecretId=stack.resources.names["AnthropicSecretName"], SecretString=secret
    )
    notifications = stack.capture_queue("key-notifications")
    stack.client("sns").subscribe(
        TopicArn=stack.resources.names["NotificationTopic"],
        Protocol="sqs",
        Endpoint=stack.queue_arn(notifications),
    )
    _upload_event_documents(stack, sample_documents)
    stack.handler("SubmitFunction", POWERTOOLS_LOG_LEVEL="DEBUG")(load_event("sqs-s3-put.json"))
    (summary,) = _finish(stack)
    assert summary["counts"]["succeeded"] == 2
    written = "".join(stack.get_text(key) for key in stack.keys("results/") + stack.keys("jobs/"))
    published = json.dumps(stack.drain(notifications))
    logged = capsys.readouterr()
    for text in (written, published, logged.out, logged.err):
        assert secret not in text


def test_a_lost_answer_to_create_is_adopted_not_created_again(
    stack: Stack, sample_documents: dict[str, bytes]
) -> None:
    # Given the API creates the batch but the connection drops before its answer arrives
    _upload_event_documents(stack, sample_documents)
    stack.emulator.inject_cut("create")
    outcome = stack.handler("SubmitFunction")(load_event("sqs-s3-put.json"))
    # Then Submit listed the batches, found the one it made and adopted it: no second create
    (job,) = _jobs(stack)
    assert [(j["job_id"], j["creation"]) for j in outcome["jobs"]] == [(job["job_id"], "adopted")]
    assert stack.emulator.stats()["batches_created"] == 1
    assert job["status"] == "submitted" and job["adopted"] is True

    # and the redelivered window is a duplicate, each request billed once
    redelivered = stack.handler("SubmitFunction")(load_event("sqs-s3-put.json"))
    assert (redelivered["submitted"], redelivered["duplicates"]) == (0, 2)
    (summary,) = _finish(stack)
    assert summary["counts"]["succeeded"] == 2
    assert set(_billed(stack).values()) == {1}
