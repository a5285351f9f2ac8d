"""Complete's rules on what counts as done: a document is done only once its writes are
confirmed; results the API archived become errors that say so; the newest version of a key
wins in results/; a delivery that finds the job being completed is not an error."""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batchdrop.adapters.s3_bucket import DocumentStore
from tests.integration.harness import Stack, load_event, s3_event

# A failed invocation publishes no metrics; Powertools warns about that, as it should.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

DOCUMENTS = [f"inbox/default/batch/doc-{n}.txt" for n in range(8)]


def _jobs(stack: Stack) -> list[dict[str, Any]]:
    return [item for item in stack.table.scan()["Items"] if "status" in item]


def _submit_and_end(stack: Stack, keys: list[str]) -> dict[str, Any]:
    """Submit these documents as one job and let Poll see its batch end; its Batch Ended event."""
    for n, key in enumerate(keys):
        stack.put_document(key, f"Document number {n}: the quarterly numbers went up.".encode())
    submitted = stack.handler("SubmitFunction")(s3_event(stack.bucket, keys))
    (job,) = submitted["jobs"]
    stack.handler("PollFunction")(load_event("scheduled.json"))
    event = load_event("batch-ended.json")
    event["detail"].update(job_id=job["job_id"], batch_id=job["batch_id"])
    return event


def _summary(stack: Stack, job_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(stack.get_text(f"jobs/{job_id}/summary.json"))
    return data


def _checkpoint(stack: Stack, job_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(stack.get_text(f"jobs/{job_id}/checkpoint.json"))
    return data


def _topic_capture(stack: Stack, name: str) -> str:
    url = stack.capture_queue(name)
    stack.client("sns").subscribe(
        TopicArn=stack.resources.names["NotificationTopic"], Protocol="sqs", Endpoint=stack.queue_arn(url)
    )
    return url


class _SlowDownOnPut:
    """An S3 client whose puts of the chosen keys answer 503 SlowDown (as after boto3's own
    retries), the first ``failures`` times such a key is written; everything else goes through."""

    def __init__(self, s3: Any, fails: Any, failures: int = 1) -> None:
        self._s3 = s3
        self._fails = fails
        self._left = failures
        self._lock = threading.Lock()
        self.failed: list[str] = []

    def put_object(self, **kwargs: Any) -> Any:
        with self._lock:
            fail = self._left > 0 and self._fails(kwargs["Key"])
            if fail:
                self._left -= 1
                self.failed.append(kwargs["Key"])
        if fail:
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "PutObject"
            )
        return self._s3.put_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def _complete_with_flaky_writes(stack: Stack, job_id: str, fails: Any) -> _SlowDownOnPut:
    """Run one completion whose chosen result write fails; it must fail, not finish."""
    stack.handler("CompleteFunction")  # cold start: the module and its clients
    module = sys.modules["complete"]
    ctx = module.context_for_jobs
    flaky = _SlowDownOnPut(ctx.store._s3, fails)
    failing = replace(ctx, store=DocumentStore(flaky, ctx.store.bucket), remaining=None)  # type: ignore[arg-type]
    with pytest.raises(ClientError, match="SlowDown"):
        module.complete_job(job_id, failing)
    assert len(flaky.failed) == 1
    return flaky


# --- Case 2: nothing is done before its write is confirmed ---------------------------------------


@pytest.mark.parametrize("failing", [0, 5], ids=["first write", "sixth write"])
def test_a_failed_result_write_is_not_done_and_the_resumed_completion_writes_it(
    stack: Stack, failing: int
) -> None:
    # Given a job of 8 documents whose result write for one of them fails past boto3's retries
    event = _submit_and_end(stack, DOCUMENTS)
    job_id = event["detail"]["job_id"]
    target = f"results/default/batch/doc-{failing}.txt.md"
    flaky = _complete_with_flaky_writes(stack, job_id, lambda key: key == target)

    # Then that document is neither done nor counted: the checkpoint says 7, and so does its summary
    assert flaky.failed == [target]
    assert len(stack.keys("results/")) == 7 and target not in stack.keys("results/")
    checkpoint = _checkpoint(stack, job_id)
    assert checkpoint["summary"]["counts"] == {"succeeded": 7}
    assert [j["status"] for j in _jobs(stack)] == ["ended"]  # given back for the retry

    # When the retry resumes the completion, it writes exactly the one left
    done = stack.handler("CompleteFunction")(event)
    assert done["counts"]["succeeded"] == 8
    assert len(stack.keys("results/")) == 8
    summary = _summary(stack, job_id)
    assert summary["documents"] == 8 and summary["counts"]["succeeded"] == 8
    assert summary["documents_by_profile"] == {"default": 8}


def test_a_failed_missing_error_write_is_not_done_and_the_resumed_completion_writes_it(
    stack: Stack,
) -> None:
    # Given a job whose manifest names a document the batch results have no line for
    event = _submit_and_end(stack, DOCUMENTS[:3])
    job_id = event["detail"]["job_id"]
    manifest_key = f"jobs/{job_id}/manifest.jsonl"
    lines = stack.get_text(manifest_key).splitlines()
    ghost = {
        **json.loads(lines[0]),
        "custom_id": "doc-ghost",
        "source_key": "inbox/default/batch/ghost.txt",
        "error_key": "results/default/batch/ghost.txt.error.json",
        "result_key": "results/default/batch/ghost.txt.md",
    }
    stack.put_document(manifest_key, "".join(line + "\n" for line in [*lines, json.dumps(ghost)]))

    # When writing its "missing" error fails
    _complete_with_flaky_writes(stack, job_id, lambda key: key == ghost["error_key"])

    # Then it is not done nor counted, and the resumed completion writes it once
    assert _checkpoint(stack, job_id)["summary"]["counts"] == {"succeeded": 3}
    done = stack.handler("CompleteFunction")(event)
    assert (done["counts"]["succeeded"], done["counts"]["missing"]) == (3, 1)
    assert ghost["error_key"] in stack.keys("results/")
    assert len(stack.keys("results/")) == 4


def _rows(stack: Stack, job_id: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stack.get_text(f"jobs/{job_id}/documents.jsonl").splitlines()]


def test_a_failed_rows_write_keeps_the_table_exact_and_the_resumed_completion_finishes_it(
    stack: Stack,
) -> None:
    # Given a job whose first write of documents-table rows fails past boto3's retries
    event = _submit_and_end(stack, DOCUMENTS[:4])
    job_id = event["detail"]["job_id"]
    _complete_with_flaky_writes(stack, job_id, lambda key: "/documents-parts/" in key)

    # Then the checkpoint counts only the rows it saved; no table is written yet
    checkpoint = _checkpoint(stack, job_id)
    assert checkpoint["row_parts"] == 1 and checkpoint["summary"]["counts"] == {"succeeded": 4}
    assert f"jobs/{job_id}/documents.jsonl" not in stack.keys(f"jobs/{job_id}/")

    # When the retry resumes, every document has one row, in both copies
    done = stack.handler("CompleteFunction")(event)
    assert done["counts"]["succeeded"] == 4
    rows = _rows(stack, job_id)
    assert sorted(r["source_key"] for r in rows) == sorted(DOCUMENTS[:4])
    assert {r["outcome"] for r in rows} == {"succeeded"}
    summary = _summary(stack, job_id)
    assert stack.get_text(summary["documents_table_key"]) == stack.get_text(summary["documents_key"])


def test_a_failed_table_copy_write_is_written_again_by_the_retry(stack: Stack) -> None:
    # Given the write of the table's day-partition copy fails (after documents.jsonl was written)
    event = _submit_and_end(stack, DOCUMENTS[:2])
    job_id = event["detail"]["job_id"]
    stack.handler("CompleteFunction")
    module = sys.modules["complete"]
    ctx = module.context_for_jobs
    # (the copy goes up with upload_file, as a multipart upload when large)
    failing_upload = _FailingUpload(ctx.store._s3, lambda key: key.startswith("tables/documents/"))
    failing = replace(ctx, store=DocumentStore(failing_upload, ctx.store.bucket), remaining=None)  # type: ignore[arg-type]
    with pytest.raises(ClientError, match="SlowDown"):
        module.complete_job(job_id, failing)

    # Then no notification went out and the job is given back; the retry writes both copies
    assert [j["status"] for j in _jobs(stack)] == ["ended"]
    stack.handler("CompleteFunction")(event)
    summary = _summary(stack, job_id)
    assert len(_rows(stack, job_id)) == 2
    assert stack.get_text(summary["documents_table_key"]) == stack.get_text(summary["documents_key"])


class _FailingUpload:
    """An S3 client whose upload_file of the chosen keys answers 503 SlowDown once."""

    def __init__(self, s3: Any, fails: Any) -> None:
        self._s3 = s3
        self._fails = fails
        self._left = 1

    def upload_file(self, path: str, bucket: str, key: str, **kwargs: Any) -> Any:
        if self._left and self._fails(key):
            self._left -= 1
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "PutObject"
            )
        return self._s3.upload_file(path, bucket, key, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def test_a_failed_next_stage_write_is_not_done_and_the_resumed_completion_hands_it_on_once(
    stack: Stack,
) -> None:
    # Given a two-stage workflow whose first stage's answer cannot be handed to the next stage
    stack.put_document("profiles/draft.json", json.dumps({"instruction": "Draft a memo.", "next": "check"}))
    stack.put_document("profiles/check.json", json.dumps({"instruction": "Check the memo."}))
    keys = ["inbox/draft/a.txt", "inbox/draft/b.txt"]
    event = _submit_and_end(stack, keys)
    job_id = event["detail"]["job_id"]
    _complete_with_flaky_writes(stack, job_id, lambda key: key == "inbox/check/a.txt.md")

    # Then that document is not done (its answer may be written; its hand-over is not)
    assert _checkpoint(stack, job_id)["summary"]["counts"] == {"succeeded": 1}
    assert stack.keys("inbox/check/") == ["inbox/check/b.txt.md"]

    # When the completion resumes, the answer goes to the next stage, once, and the job is whole
    done = stack.handler("CompleteFunction")(event)
    assert done["counts"]["succeeded"] == 2
    assert stack.keys("inbox/check/") == ["inbox/check/a.txt.md", "inbox/check/b.txt.md"]
    versions = stack.client("s3").list_object_versions(Bucket=stack.bucket, Prefix="inbox/check/")
    assert len(versions["Versions"]) == 2  # neither next-stage document written twice


# --- Case 7: results archived by the API before they were collected ------------------------------


def test_results_archived_before_collection_become_errors_and_one_notification(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifications = _topic_capture(stack, "archived-notifications")
    event = _submit_and_end(stack, DOCUMENTS[:2])
    job_id, batch_id = event["detail"]["job_id"], event["detail"]["batch_id"]
    # Given 30 days went by: the API archived the batch's results (its results URL answers 404)
    later = time.time() + 30 * 24 * 3600
    monkeypatch.setattr(stack.emulator.engine, "_clock", lambda: later)
    complete = stack.handler("CompleteFunction")

    # When the job is completed (and its event delivered again)
    first = complete(event)
    again = complete(event)

    # Then each document has an error saying why, the summary and the one notification say so
    assert first["status"] == "completed" and again["status"] == "duplicate"
    assert first["counts"]["archived"] == 2 and first["counts"]["succeeded"] == 0
    errors = {key: json.loads(stack.get_text(key)) for key in stack.keys("results/")}
    assert set(errors) == {
        "results/default/batch/doc-0.txt.error.json",
        "results/default/batch/doc-1.txt.error.json",
    }
    for error in errors.values():
        assert error["result_type"] == "archived"
        assert "archived by the API before batchdrop collected them" in error["reason"]
        assert batch_id in error["reason"] and "created 20" in error["reason"]
    summary = _summary(stack, job_id)
    assert summary["status"] == "completed"
    assert summary["results_archived"]["batch_id"] == batch_id
    assert summary["results_archived"]["created_at"]
    (notification,) = stack.drain(notifications)
    assert "(results archived)" in notification["Subject"]
    assert json.loads(notification["Message"])["results_archived"]["batch_id"] == batch_id
    assert [j["status"] for j in _jobs(stack)] == ["completed"]


# --- Case 10: the newest version of a key wins in results/ ---------------------------------------


def _add_sequencer(stack: Stack, job_id: str, sequencer: str) -> None:
    """What Submit records from the S3 event (``sequencer=ref.sequencer``), set on the manifest."""
    key = f"jobs/{job_id}/manifest.jsonl"
    entries = [json.loads(line) for line in stack.get_text(key).splitlines()]
    text = "".join(json.dumps({**entry, "sequencer": sequencer}) + "\n" for entry in entries)
    stack.put_document(key, text)


def _two_versions(stack: Stack, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two versions of one document, submitted in two jobs that have both ended."""
    submit = stack.handler("SubmitFunction")
    events = []
    for n, sequencer in enumerate(("0055AED6DCD90281E5", "0055AED6DCD90281F0"), start=1):
        stack.put_document(key, f"Version {n} of the report.".encode())
        (job,) = submit(s3_event(stack.bucket, [key]))["jobs"]
        _add_sequencer(stack, job["job_id"], sequencer)
        event = load_event("batch-ended.json")
        event["detail"].update(job_id=job["job_id"], batch_id=job["batch_id"])
        events.append(event)
    stack.handler("PollFunction")(load_event("scheduled.json"))
    return events[0], events[1]


def test_an_older_version_completing_last_does_not_overwrite_the_newer_answer(stack: Stack) -> None:
    older, newer = _two_versions(stack, "inbox/default/report.txt")
    complete = stack.handler("CompleteFunction")

    # When the newer version's job completes first, then the older one's
    complete(newer)
    late = complete(older)

    # Then results/ keeps the newer version's answer, and the older job says it was superseded
    answer = "results/default/report.txt.md"
    assert stack.keys("results/") == [answer]
    head = stack.client("s3").head_object(Bucket=stack.bucket, Key=answer)
    assert head["Metadata"]["batchdrop-job"] == newer["detail"]["job_id"]
    assert head["Metadata"]["batchdrop-sequencer"] == "0055AED6DCD90281F0"
    assert late["counts"]["superseded"] == 1 and late["counts"]["succeeded"] == 0
    summary = _summary(stack, older["detail"]["job_id"])
    (error,) = summary["errors"]
    assert error["type"] == "superseded"
    assert error["newer_version"]["job_id"] == newer["detail"]["job_id"]
    assert error["newer_version"]["sequencer"] == "0055AED6DCD90281F0"
    assert summary["tokens"]["input"] > 0  # the older answer was still billed
    assert summary["errors_truncated"] is False


def test_a_newer_version_completing_last_replaces_the_older_answer(stack: Stack) -> None:
    older, newer = _two_versions(stack, "inbox/default/report.txt")
    complete = stack.handler("CompleteFunction")

    complete(older)
    last = complete(newer)

    head = stack.client("s3").head_object(Bucket=stack.bucket, Key="results/default/report.txt.md")
    assert head["Metadata"]["batchdrop-job"] == newer["detail"]["job_id"]
    assert last["counts"]["succeeded"] == 1 and last["counts"]["superseded"] == 0


# --- Case 13: a delivery that finds the job being completed is not an error ----------------------


def test_a_delivery_while_another_invocation_completes_the_job_is_busy_not_an_error(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    event = _submit_and_end(stack, DOCUMENTS[:2])
    job_id = event["detail"]["job_id"]
    complete = stack.handler("CompleteFunction")
    module = sys.modules["complete"]
    ctx = module.context_for_jobs
    # Given another invocation holds the job's lease (a long completion under way)
    assert ctx.jobs.claim_completion(job_id, ctx.now(), ctx.lease)
    capsys.readouterr()

    # When a duplicate "Batch Ended" arrives
    outcome = complete(event)

    # Then it returns (no retry, no dead letter), counted as a duplicate delivery, and the job
    # stays with its owner
    assert outcome == {"job_id": job_id, "status": "busy"}
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert [m.get("DuplicateDeliveries") for m in emf] == [[1.0]]
    assert [j["status"] for j in _jobs(stack)] == ["completing"]
    assert stack.keys("results/") == []
