"""The real handlers, loaded through template.yaml, driven by the files in events/, against
moto (S3, SQS, DynamoDB, SNS, EventBridge, Secrets Manager) and the Anthropic emulator over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from dataclasses import replace
from typing import Any

import anthropic
import pytest

from batchdrop_local.template import PROJECT_ROOT
from tests.integration.harness import EVENTS_DIR, Stack, load_event

# Every event file must be exercised by a test here, so that none rots.
EXERCISED = {
    "s3-put.json",
    "sqs-s3-put.json",
    "eventbridge-s3-object-created.json",
    "scheduled.json",
    "batch-ended.json",
}


def test_every_event_file_is_exercised() -> None:
    assert {p.name for p in EVENTS_DIR.glob("*.json")} == EXERCISED


def _upload_samples(stack: Stack, sample_documents: dict[str, bytes]) -> None:
    for key, body in sample_documents.items():
        stack.put_document(key, body)


def _jobs(stack: Stack) -> list[dict[str, Any]]:
    # the job items; the table also holds the claims of document versions (no status)
    return [item for item in stack.table.scan()["Items"] if "status" in item]


def _batch(stack: Stack, batch_id: str) -> Any:
    client = anthropic.Anthropic(base_url=stack.emulator.url, api_key="test")
    return client.messages.batches.retrieve(batch_id)


def _bus_capture(stack: Stack) -> str:
    """An SQS queue receiving every batchdrop event on the job bus."""
    url = stack.capture_queue("captured-job-events")
    events = stack.client("events")
    bus = stack.resources.names["JobEventBus"]
    events.put_rule(Name="capture", EventBusName=bus, EventPattern=json.dumps({"source": ["batchdrop"]}))
    events.put_targets(Rule="capture", EventBusName=bus, Targets=[{"Id": "q", "Arn": stack.queue_arn(url)}])
    return url


def _topic_capture(stack: Stack) -> str:
    url = stack.capture_queue("captured-notifications")
    stack.client("sns").subscribe(
        TopicArn=stack.resources.names["NotificationTopic"], Protocol="sqs", Endpoint=stack.queue_arn(url)
    )
    return url


def test_submit_plain_s3_event_creates_one_batch(stack: Stack, sample_documents: dict[str, bytes]) -> None:
    # Given the document that events/s3-put.json names (its key is URL-encoded in the event)
    key = "inbox/default/release notes, v2.md"
    stack.put_document(key, sample_documents[key])

    # When Submit gets the plain S3 notification, as `sam local invoke -e events/s3-put.json` passes it
    result = stack.handler("SubmitFunction")(load_event("s3-put.json"))

    # Then one job with one request was recorded, its manifest maps the custom_id back to the key
    assert result["submitted"] == 1 and result["rejected"] == 0
    (job,) = _jobs(stack)
    assert (
        job["status"] == "submitted"
        and job["batch_id"] == result["jobs"][0]["batch_id"]
        and job["open_flag"] == "OPEN"
    )
    manifest = [json.loads(line) for line in stack.get_text(job["manifest_key"]).splitlines()]
    assert [(m["source_key"], m["result_key"]) for m in manifest] == [
        (key, "results/default/release notes, v2.md.md")
    ]
    # and the emulator received exactly the request the default profile describes
    (request,) = stack.emulator.engine.batch_requests(result["jobs"][0]["batch_id"])
    assert request["custom_id"] == manifest[0]["custom_id"]
    params = request["params"]
    assert params["model"] == "claude-haiku-5-5" and params["max_tokens"] == 1024
    document, instruction = params["messages"][0]["content"]
    assert document["source"] == {
        "type": "text",
        "media_type": "text/plain",
        "data": sample_documents[key].decode(),
    }
    assert document["title"] == "release notes, v2.md"
    assert instruction["text"].startswith("Summarize this document")


def test_submit_sqs_window_becomes_one_batch(stack: Stack, sample_documents: dict[str, bytes]) -> None:
    _upload_samples(stack, sample_documents)
    result = stack.handler("SubmitFunction")(load_event("sqs-s3-put.json"))

    assert result["batchItemFailures"] == []
    assert result["submitted"] == 2
    assert (
        _batch(stack, result["jobs"][0]["batch_id"]).request_counts.succeeded
        + _batch(stack, result["jobs"][0]["batch_id"]).request_counts.processing
        == 2
    )
    assert len(_jobs(stack)) == 1


def test_submit_eventbridge_object_created(stack: Stack, sample_documents: dict[str, bytes]) -> None:
    _upload_samples(stack, sample_documents)
    result = stack.handler("SubmitFunction")(load_event("eventbridge-s3-object-created.json"))
    assert result["submitted"] == 1
    (request,) = stack.emulator.engine.batch_requests(result["jobs"][0]["batch_id"])
    assert request["params"]["messages"][0]["content"][0]["title"] == "2026-11-24 standup.txt"


def test_submit_reports_only_the_failed_record_of_a_window(
    stack: Stack, sample_documents: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a window of two notifications, one of whose documents cannot be read right now
    _upload_samples(stack, sample_documents)
    event = load_event("sqs-s3-put.json")
    handler = stack.handler("SubmitFunction")
    module = sys.modules["submit"]
    real_get = module.store.get_document

    def flaky_get(key: str, version_id: str | None = None, **limits: Any) -> Any:
        if "standup" in key:
            raise ConnectionError("S3 read timed out")
        return real_get(key, version_id, **limits)

    monkeypatch.setattr(module.store, "get_document", flaky_get)

    # When Submit processes the window
    result = handler(event)

    # Then that record alone is reported for redelivery, and the other still went out
    assert result["batchItemFailures"] == [{"itemIdentifier": event["Records"][1]["messageId"]}]
    assert result["submitted"] == 1


def test_submit_reports_a_record_it_cannot_parse_and_submits_the_rest(
    stack: Stack, sample_documents: dict[str, bytes]
) -> None:
    _upload_samples(stack, sample_documents)
    event = load_event("sqs-s3-put.json")
    event["Records"][0]["body"] = "not json"

    result = stack.handler("SubmitFunction")(event)

    assert result["batchItemFailures"] == [{"itemIdentifier": event["Records"][0]["messageId"]}]
    assert result["submitted"] == 1


def test_submit_rejects_unusable_documents_with_a_reason(stack: Stack) -> None:
    stack.put_document("inbox/default/empty.txt", b"  \n")
    stack.put_document("inbox/default/photo.bmp", b"BM....")
    stack.put_document("inbox/typo-profile/notes.txt", b"hello")
    stack.put_document("inbox/default/ok.txt", b"A fine document.")
    records = [
        {
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": stack.bucket}, "object": {"key": key, "size": 1, "eTag": "x"}},
        }
        for key in (
            "inbox/default/empty.txt",
            "inbox/default/photo.bmp",
            "inbox/typo-profile/notes.txt",
            "inbox/default/ok.txt",
            "inbox/default/gone.txt",
        )
    ]
    result = stack.handler("SubmitFunction")({"Records": records})

    assert (result["submitted"], result["rejected"]) == (1, 4)
    errors = {key: json.loads(stack.get_text(key)) for key in stack.keys("results/")}
    assert set(errors) == {
        "results/default/empty.txt.error.json",
        "results/default/photo.bmp.error.json",
        "results/typo-profile/notes.txt.error.json",
        "results/default/gone.txt.error.json",
    }
    assert errors["results/default/empty.txt.error.json"]["reason"] == "the document is empty"
    assert "unsupported file type '.bmp'" in errors["results/default/photo.bmp.error.json"]["reason"]
    assert errors["results/typo-profile/notes.txt.error.json"]["reason"] == (
        "no profile named 'typo-profile'; profiles are: default"
    )
    assert "deleted" in errors["results/default/gone.txt.error.json"]["reason"]


def test_submit_ignores_keys_outside_the_inbox(stack: Stack) -> None:
    stack.put_document("results/default/a.txt.md", b"an answer")
    event = load_event("s3-put.json")
    event["Records"][0]["s3"]["object"]["key"] = "results/default/a.txt.md"
    result = stack.handler("SubmitFunction")(event)
    assert result == {
        "jobs": [],
        "submitted": 0,
        "rejected": 0,
        "ignored": 1,
        "rejection_job_id": None,
        "duplicates": 0,
    }
    assert _jobs(stack) == []


def test_poll_with_no_open_jobs_does_not_load_the_anthropic_sdk(stack: Stack) -> None:
    # A fresh interpreter, as a cold Lambda container is: the handler and one scheduled tick.
    fn = stack.resources.functions["PollFunction"]
    from batchdrop_local.runtime import lambda_environment

    script = textwrap.dedent(
        f"""
        import json, sys
        from batchdrop_local.provision import plan
        from batchdrop_local.runtime import LambdaContext, load_handler
        resources, _, _ = plan({stack.endpoint!r}, parameters={stack.resources.parameters!r})
        fn = resources.functions["PollFunction"]
        handler = load_handler(fn)
        result = handler(json.load(open({str(EVENTS_DIR / "scheduled.json")!r})), LambdaContext(fn, 60))
        print(json.dumps({{"result": result, "anthropic_loaded": "anthropic" in sys.modules}}))
        """
    )
    env = {**lambda_environment(fn, stack.endpoint), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True, cwd=PROJECT_ROOT
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["anthropic_loaded"] is False
    assert report["result"]["open_jobs"] == 0 and report["result"]["ended"] == []


def test_poll_announces_an_ended_batch_exactly_once_even_when_polls_overlap(
    stack: Stack, sample_documents: dict[str, bytes]
) -> None:
    # Given a submitted job whose batch has ended (the emulator ends batches at once here)
    _upload_samples(stack, sample_documents)
    submitted = stack.handler("SubmitFunction")(load_event("sqs-s3-put.json"))
    captured = _bus_capture(stack)
    poll = stack.handler("PollFunction")

    # When four polls run at the same time, then once more afterwards
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(poll(load_event("scheduled.json")))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    later = poll(load_event("scheduled.json"))

    # Then exactly one "Batch Ended" event went out, and the job left the open index
    events = stack.drain(captured)
    assert [(e["detail-type"], e["detail"]["job_id"]) for e in events] == [
        ("Batch Ended", submitted["jobs"][0]["job_id"])
    ]
    assert sum(len(r["ended"]) for r in results) == 1
    # the job stays open (and visible to the alarms) until it is completed, but is not announced again
    assert (later["open_jobs"], later["ended"], later["in_progress"]) == (1, [], 0)
    (job,) = _jobs(stack)
    assert job["status"] == "ended" and job["open_flag"] == "OPEN"


def test_poll_records_progress_of_a_running_batch(stack: Stack, sample_documents: dict[str, bytes]) -> None:
    stack.emulator.update_config(processing_delay=3600.0)
    _upload_samples(stack, sample_documents)
    stack.handler("SubmitFunction")(load_event("sqs-s3-put.json"))
    report = stack.handler("PollFunction")(load_event("scheduled.json"))
    assert (report["open_jobs"], report["ended"], report["in_progress"]) == (1, [], 1)
    (job,) = _jobs(stack)
    assert job["status"] == "submitted"
    assert job["request_counts"]["processing"] == 2 and job["processing_status"] == "in_progress"


def _run_to_ended(stack: Stack, sample_documents: dict[str, bytes]) -> dict[str, Any]:
    _upload_samples(stack, sample_documents)
    submitted = stack.handler("SubmitFunction")(load_event("sqs-s3-put.json"))
    stack.handler("PollFunction")(load_event("scheduled.json"))
    event = load_event("batch-ended.json")
    event["detail"].update(job_id=submitted["jobs"][0]["job_id"], batch_id=submitted["jobs"][0]["batch_id"])
    return event


def test_complete_writes_results_summary_and_one_notification(
    stack: Stack, sample_documents: dict[str, bytes]
) -> None:
    notifications = _topic_capture(stack)
    bus = _bus_capture(stack)
    event = _run_to_ended(stack, sample_documents)
    stack.drain(bus)
    complete = stack.handler("CompleteFunction")

    first = complete(event)
    again = complete(event)  # a second delivery of the same "Batch Ended"

    job_id = event["detail"]["job_id"]
    assert first["status"] == "completed" and again == {"job_id": job_id, "status": "duplicate"}
    assert stack.keys("results/") == [
        "results/default/meetings/2026-11-24 standup.txt.md",
        "results/default/release notes, v2.md.md",
    ]
    answer = stack.get_text("results/default/meetings/2026-11-24 standup.txt.md")
    assert "2026-11-24 standup.txt" in answer
    summary = json.loads(stack.get_text(f"jobs/{job_id}/summary.json"))
    assert summary["counts"] == {
        "succeeded": 2,
        "errored": 0,
        "expired": 0,
        "canceled": 0,
        "invalid_json": 0,
        "invalid_output": 0,
        "rejected": 0,
        "missing": 0,
        "not_submitted": 0,
        "archived": 0,
        "superseded": 0,
        "retried": 0,
    }
    assert summary["tokens"]["input"] > 0 and summary["tokens"]["output"] > 0
    assert summary["cost"]["batch"] == pytest.approx(summary["cost"]["standard"] / 2, abs=1e-8)
    assert summary["cost"]["savings"] > 0
    raw = stack.get_text(f"jobs/{job_id}/results.jsonl").splitlines()
    assert len(raw) == 2 and all(json.loads(line)["result"]["type"] == "succeeded" for line in raw)

    (notification,) = stack.drain(notifications)
    assert notification["Subject"] == f"batchdrop job {job_id}: 2 of 2 documents answered"
    message = json.loads(notification["Message"])
    assert message["counts"]["succeeded"] == 2
    assert message["summary"] == f"s3://{stack.bucket}/jobs/{job_id}/summary.json"
    assert message["results"] == [f"s3://{stack.bucket}/results/default/"]
    assert [e["detail-type"] for e in stack.drain(bus)] == ["Job Completed"]
    (job,) = _jobs(stack)
    assert job["status"] == "completed" and job["summary_key"] == f"jobs/{job_id}/summary.json"
    assert "open_flag" not in job  # a completed job leaves the open index


def test_complete_writes_an_error_object_for_each_failed_request(
    stack: Stack, sample_documents: dict[str, bytes]
) -> None:
    # Given a batch in which every request ends errored, and no further attempt allowed
    stack.emulator.update_config(error_rate=1.0)
    event = _run_to_ended(stack, sample_documents)

    summary = stack.handler("CompleteFunction", MAX_ATTEMPTS="1")(event)

    assert summary["counts"]["errored"] == 2 and summary["counts"]["succeeded"] == 0
    errors = stack.keys("results/")
    assert errors == [
        "results/default/meetings/2026-11-24 standup.txt.error.json",
        "results/default/release notes, v2.md.error.json",
    ]
    body = json.loads(stack.get_text(errors[0]))
    assert body["document"] == "inbox/default/meetings/2026-11-24 standup.txt"
    assert body["result_type"] == "errored" and body["error"]["type"] == "api_error"


def test_transient_failures_are_retried_in_a_follow_up_job_and_only_final_ones_get_errors(
    stack: Stack, sample_documents: dict[str, bytes]
) -> None:
    # Given a batch whose requests all end with a transient api_error
    stack.emulator.update_config(error_rate=1.0)
    event = _run_to_ended(stack, sample_documents)
    stack.emulator.update_config(error_rate=0.0)  # the follow-up batch will succeed
    complete = stack.handler("CompleteFunction")

    # When the job completes, its failures go out again as a follow-up job (attempt 2)
    first = complete(event)
    job_id = event["detail"]["job_id"]
    assert first["counts"]["retried"] == 2 and first["retried_in"] == f"{job_id}-a2"
    assert stack.keys("results/") == []  # no error objects for failures that are retried
    follow_up = {job["job_id"]: job for job in _jobs(stack)}[f"{job_id}-a2"]
    assert follow_up["status"] == "submitted" and follow_up["attempt"] == 2
    sent_again = stack.emulator.engine.batch_requests(follow_up["batch_id"])
    first_requests = stack.emulator.engine.batch_requests(event["detail"]["batch_id"])
    assert sorted(sent_again, key=lambda r: r["custom_id"]) == sorted(
        first_requests, key=lambda r: r["custom_id"]
    )

    # Then the follow-up ends and completes with the answers, linked to the first attempt
    stack.handler("PollFunction")(load_event("scheduled.json"))
    again = load_event("batch-ended.json")
    again["detail"].update(job_id=follow_up["job_id"], batch_id=follow_up["batch_id"])
    second = complete(again)
    assert second["counts"]["succeeded"] == 2 and second["attempt"] == 2
    assert second["previous_attempt"] == job_id
    assert stack.keys("results/") == [
        "results/default/meetings/2026-11-24 standup.txt.md",
        "results/default/release notes, v2.md.md",
    ]


def test_a_completion_short_of_time_hands_over_and_the_next_resumes(
    stack: Stack, sample_documents: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    notifications = _topic_capture(stack)
    event = _run_to_ended(stack, sample_documents)
    complete = stack.handler("CompleteFunction")
    module = sys.modules["complete"]
    job_id = event["detail"]["job_id"]

    # Given an invocation with less than a minute left
    monkeypatch.setattr(module, "context_for_jobs", replace(module.context_for_jobs, remaining=None))
    short = replace(module.context_for_jobs, remaining=lambda: 30.0)
    handed = module.complete_job(job_id, short)
    assert handed["status"] == "handed_over" and handed["done"] == 1
    assert [job["status"] for job in _jobs(stack)] == ["ended"]

    # When the next invocation takes the job, it resumes from the checkpoint
    done = complete(event)
    assert done["counts"]["succeeded"] == 2
    assert len(stack.keys("results/")) == 2
    assert len(stack.drain(notifications)) == 1


def test_complete_publishes_tokens_and_cost_per_profile_and_model_as_metrics(
    stack: Stack, sample_documents: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    event = _run_to_ended(stack, sample_documents)
    capsys.readouterr()
    stack.handler("CompleteFunction")(event)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    (usage,) = [m for m in emf if "profile" in m]
    directive = usage["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "batchdrop"
    assert directive["Dimensions"] == [["profile", "model", "service"]]
    assert (usage["profile"], usage["model"]) == ("default", "claude-haiku-5-5")
    names = {m["Name"] for m in directive["Metrics"]}
    assert names == {
        "InputTokens",
        "OutputTokens",
        "CacheWriteTokens",
        "CacheReadTokens",
        "CostBatchUSD",
        "CostStandardUSD",
        "SavingsUSD",
    }
    assert usage["CostBatchUSD"] == [pytest.approx(usage["CostStandardUSD"][0] / 2)]
