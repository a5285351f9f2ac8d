"""The documents table through the real handlers: one row per document of a job, whatever
became of it, in jobs/<job-id>/documents.jsonl and in the Glue table's day partition, written
once before the notification; exact across a hand-over and across crashes."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import replace
from typing import Any

import pytest

from batchdrop.domain.documents_table import COLUMNS
from batchdrop_local.crash_points import SimulatedCrash
from batchdrop_local.emulator import engine
from batchdrop_local.emulator.rules import ParamsError
from tests.integration.harness import Stack, load_event, s3_event
from tests.integration.structured_harness import (
    RECEIPT_SCHEMA,
    VALID,
    WRONG_TYPE,
    ScriptedAnswers,
    as_schema_job,
    ended_event,
    jobs,
    put_extract_profile,
    rows,
    rows_by_source,
    summary_of,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

ANSWER = "inbox/default/notes/answer.txt"
FLAKY = "inbox/default/notes/flaky.txt"
BROKEN = "inbox/default/notes/broken.txt"
EMPTY = "inbox/default/notes/empty.txt"
RECEIPT_VALID = "inbox/extract/receipts/valid.txt"
RECEIPT_INVALID = "inbox/extract/receipts/invalid.txt"
GHOST = "inbox/default/notes/ghost.txt"  # in the manifest, never in the results


def _digest(stack: Stack, key: str) -> str:
    """The digest in a document's custom_id (documents.custom_id), from its current version."""
    version = stack.client("s3").head_object(Bucket=stack.bucket, Key=key).get("VersionId")
    return hashlib.sha256(f"{key}\0{version or ''}\0".encode()).hexdigest()[:16]


def _job_of_every_outcome(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, Any]]:
    """One job whose documents end in every outcome one batch can give: an answer, a schema
    answer, an invalid schema answer asked again, a transient error asked again, a request the
    API refuses, a document rejected at submit, and a request the results do not mention."""
    ScriptedAnswers(
        {"Receipt valid": [(VALID, "end_turn")], "Receipt invalid": [(WRONG_TYPE, "end_turn")]}
    ).install(monkeypatch)
    real = engine.answer  # the scripted answers

    def refuse_broken(params: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if "Broken request" in json.dumps(params["messages"][0]):
            raise ParamsError("messages.0.content: emulated refusal of this request")
        answered: dict[str, Any] = real(params, *args, **kwargs)
        return answered

    monkeypatch.setattr(engine, "answer", refuse_broken)
    put_extract_profile(stack)
    documents = {
        ANSWER: "The quarterly numbers went up.",
        FLAKY: "This one meets an overloaded API.",
        BROKEN: "Broken request.",
        EMPTY: "",
        RECEIPT_VALID: "Receipt valid: Café Ribeira, total 7,50 EUR.",
        RECEIPT_INVALID: "Receipt invalid: Café Ribeira, total 7,50 EUR.",
    }
    for key, text in documents.items():
        stack.put_document(key, text.encode())
    stack.emulator.update_config(
        fail_first_attempts=[
            {"pattern": f"doc-\\d+-{_digest(stack, FLAKY)}", "attempts": 1, "error_type": "overloaded_error"}
        ]
    )
    (job,) = stack.handler("SubmitFunction")(s3_event(stack.bucket, list(documents)))["jobs"]
    job_id = job["job_id"]
    as_schema_job(stack, job_id, "extract", RECEIPT_SCHEMA)
    # A document the manifest lists and the batch never had: its result line will be missing.
    manifest_key = f"jobs/{job_id}/manifest.jsonl"
    entries = [json.loads(line) for line in stack.get_text(manifest_key).splitlines()]
    ghost = {
        **entries[0],
        "custom_id": "doc-999999-0000000000000000",
        "source_key": GHOST,
        "result_key": "results/default/notes/ghost.txt.md",
        "error_key": "results/default/notes/ghost.txt.error.json",
        "status": "submitted",
    }
    ghost.pop("schema_key", None)
    stack.put_document(manifest_key, "".join(json.dumps(e) + "\n" for e in [*entries, ghost]))
    return job_id, ended_event(stack, job_id, job["batch_id"])


def test_every_document_of_a_job_has_one_row_saying_what_became_of_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifications = stack.capture_queue("table-notifications")
    stack.client("sns").subscribe(
        TopicArn=stack.resources.names["NotificationTopic"],
        Protocol="sqs",
        Endpoint=stack.queue_arn(notifications),
    )
    job_id, event = _job_of_every_outcome(stack, monkeypatch)

    stack.handler("CompleteFunction")(event)

    # Then each of the seven documents has exactly one row, with every column
    by_source = rows_by_source(stack, job_id)
    assert set(by_source) == {ANSWER, FLAKY, BROKEN, EMPTY, RECEIPT_VALID, RECEIPT_INVALID, GHOST}
    assert all(tuple(row) == COLUMNS for row in by_source.values())
    outcomes = {key: (row["outcome"], row["error_type"]) for key, row in by_source.items()}
    assert outcomes == {
        ANSWER: ("succeeded", None),
        RECEIPT_VALID: ("succeeded", None),
        RECEIPT_INVALID: ("retried", "invalid_output"),
        FLAKY: ("retried", "overloaded_error"),
        BROKEN: ("errored", "invalid_request_error"),
        EMPTY: ("rejected", None),
        GHOST: ("missing", None),
    }
    batch_id = event["detail"]["batch_id"]
    summary = summary_of(stack, job_id)
    for key, row in by_source.items():
        assert row["job_id"] == job_id and row["attempt"] == 1
        assert row["batch_id"] == (None if key == EMPTY else batch_id)
        assert row["profile"] == key.split("/")[1]
        assert row["custom_id"].startswith("doc-")
        assert row["etag"] or key == EMPTY  # rejected ones have the event's etag (none here)
    head = stack.client("s3").head_object(Bucket=stack.bucket, Key=ANSWER)
    assert by_source[ANSWER]["version_id"] == head["VersionId"]
    assert by_source[ANSWER]["result_key"] == "results/default/notes/answer.txt.md"
    assert by_source[BROKEN]["result_key"] == "results/default/notes/broken.txt.error.json"
    assert by_source[GHOST]["result_key"] == "results/default/notes/ghost.txt.error.json"
    assert by_source[EMPTY]["result_key"] == "results/default/notes/empty.txt.error.json"
    assert {by_source[k]["retried_in"] for k in (FLAKY, RECEIPT_INVALID)} == {f"{job_id}-a2"}
    # Schema rows carry the preflight's hashes and the extracted fields
    assert json.loads(by_source[RECEIPT_VALID]["extracted"]) == {"merchant": "Café Ribeira", "total": 7.5}
    manifest = {
        e["source_key"]: e
        for e in map(json.loads, stack.get_text(f"jobs/{job_id}/manifest.jsonl").splitlines())
    }
    for key in (RECEIPT_VALID, ANSWER):
        assert by_source[key]["settings_hash"] == manifest[key]["settings_hash"]
        assert by_source[key]["content_sha256"] == manifest[key]["content_sha256"]
    assert (
        by_source[ANSWER]["content_sha256"] == hashlib.sha256(b"The quarterly numbers went up.").hexdigest()
    )
    assert by_source[RECEIPT_VALID]["thinking_tokens"] == 11
    # Billed requests carry their tokens and their own cost; unbilled ones cost nothing
    for key in (ANSWER, RECEIPT_VALID, RECEIPT_INVALID):
        assert by_source[key]["input_tokens"] > 0 and by_source[key]["output_tokens"] > 0
    for key in (FLAKY, BROKEN, EMPTY, GHOST):
        assert (by_source[key]["input_tokens"], by_source[key]["cost_batch_usd"]) == (0, 0.0)
    answered = by_source[ANSWER]
    assert answered["cost_standard_usd"] == pytest.approx(2 * answered["cost_batch_usd"])
    # The same rows, byte for byte, in the table's day partition; both named by the summary
    day = summary["created_at"][:10]
    assert summary["documents_key"] == f"jobs/{job_id}/documents.jsonl"
    assert summary["documents_table_key"] == f"tables/documents/day={day}/{job_id}.jsonl"
    assert stack.get_text(summary["documents_table_key"]) == stack.get_text(summary["documents_key"])
    (notification,) = stack.drain(notifications)
    message = json.loads(notification["Message"])
    assert message["documents_table"] == f"s3://{stack.bucket}/jobs/{job_id}/documents.jsonl"


def test_a_follow_up_job_has_its_own_rows(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id, event = _job_of_every_outcome(stack, monkeypatch)
    complete = stack.handler("CompleteFunction")
    complete(event)

    follow_up = jobs(stack)[f"{job_id}-a2"]
    complete(ended_event(stack, follow_up["job_id"], follow_up["batch_id"]))

    second = rows_by_source(stack, f"{job_id}-a2")
    assert set(second) == {FLAKY, RECEIPT_INVALID}
    assert {(k, r["attempt"], r["outcome"]) for k, r in second.items()} == {
        (FLAKY, 2, "succeeded"),
        (RECEIPT_INVALID, 2, "retried"),  # still invalid, asked a third time
    }


def test_a_job_no_batch_was_made_for_has_a_not_submitted_row_per_document(stack: Stack) -> None:
    # Given the API refuses the create outright (400): no batch, the job ends with its reason
    stack.emulator.faults.add("create", 400)
    keys = ["inbox/default/a.txt", "inbox/default/b.txt"]
    for key in keys:
        stack.put_document(key, b"Some text.")
    stack.handler("SubmitFunction")(s3_event(stack.bucket, keys))
    (job,) = jobs(stack).values()
    assert job.get("end_reason") and "batch_id" not in job

    stack.handler("CompleteFunction")(ended_event(stack, job["job_id"], None))

    found = rows_by_source(stack, job["job_id"])
    assert set(found) == set(keys)
    assert {(r["outcome"], r["batch_id"]) for r in found.values()} == {("not_submitted", None)}


def test_results_archived_before_collection_have_archived_rows(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = ["inbox/default/a.txt", "inbox/default/b.txt"]
    for key in keys:
        stack.put_document(key, b"Some text.")
    (job,) = stack.handler("SubmitFunction")(s3_event(stack.bucket, keys))["jobs"]
    event = ended_event(stack, job["job_id"], job["batch_id"])
    later = time.time() + 30 * 24 * 3600
    monkeypatch.setattr(stack.emulator.engine, "_clock", lambda: later)

    stack.handler("CompleteFunction")(event)

    assert {r["outcome"] for r in rows(stack, job["job_id"])} == {"archived"}


def test_an_older_version_completing_last_has_a_superseded_row(stack: Stack) -> None:
    key = "inbox/default/report.txt"
    submit = stack.handler("SubmitFunction")
    events = []
    for n, sequencer in enumerate(("0055AED6DCD90281E5", "0055AED6DCD90281F0"), start=1):
        stack.put_document(key, f"Version {n} of the report.".encode())
        (job,) = submit(s3_event(stack.bucket, [key]))["jobs"]
        manifest_key = f"jobs/{job['job_id']}/manifest.jsonl"
        entries = [json.loads(line) for line in stack.get_text(manifest_key).splitlines()]
        stack.put_document(
            manifest_key, "".join(json.dumps({**e, "sequencer": sequencer}) + "\n" for e in entries)
        )
        events.append((job["job_id"], job["batch_id"]))
    stack.handler("PollFunction")(load_event("scheduled.json"))
    complete = stack.handler("CompleteFunction")
    (older, older_batch), (newer, newer_batch) = events

    complete(ended_event(stack, newer, newer_batch))
    complete(ended_event(stack, older, older_batch))

    (row,) = rows(stack, older)
    assert row["outcome"] == "superseded" and row["result_key"] is None
    assert row["input_tokens"] > 0  # still billed
    (kept,) = rows(stack, newer)
    assert kept["outcome"] == "succeeded"


# --- hand-over and crashes: rows and feedback exact ------------------------------------------------


def test_a_hand_over_keeps_every_row_and_the_feedback(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id, _ = _job_of_every_outcome(stack, monkeypatch)
    stack.handler("CompleteFunction")  # cold start
    module = sys.modules["complete"]
    monkeypatch.setattr(module, "context_for_jobs", replace(module.context_for_jobs, remaining=None))

    # Given an invocation that runs short of time after each checkpoint (one result at a time)
    monkeypatch.setattr("batchdrop.usecases.complete.collect.CHECKPOINT_EVERY", 1)
    handed_over = 0
    while True:
        short = replace(module.context_for_jobs, remaining=lambda: 30.0)
        outcome = module.complete_job(job_id, short)
        if outcome["status"] != "handed_over":
            break
        handed_over += 1
    assert handed_over >= 3 and outcome["status"] == "completed"

    # Then the rows are exactly one per document, as without a hand-over
    by_source = rows_by_source(stack, job_id)
    assert len(by_source) == 7
    assert by_source[RECEIPT_INVALID]["outcome"] == "retried"
    # And the invalid answer went out again with its errors, though found two invocations before
    (sent,) = [
        r
        for r in stack.emulator.engine.batch_requests(jobs(stack)[f"{job_id}-a2"]["batch_id"])
        if "Receipt invalid" in json.dumps(r["params"]["messages"][0])
    ]
    assert [m["role"] for m in sent["params"]["messages"]] == ["user", "assistant", "user"]
    assert sent["params"]["messages"][1]["content"][0]["text"] == WRONG_TYPE


@pytest.mark.parametrize(
    "point",
    [
        "complete:halfway",
        "complete:after-rows-part",
        "complete:before-notify",
        "complete:after-follow-up-intent",
    ],
)
def test_a_crash_keeps_rows_and_feedback_exact(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, point: str
) -> None:
    notifications = stack.capture_queue(f"crash-{point.replace(':', '-')}")
    stack.client("sns").subscribe(
        TopicArn=stack.resources.names["NotificationTopic"],
        Protocol="sqs",
        Endpoint=stack.queue_arn(notifications),
    )
    job_id, event = _job_of_every_outcome(stack, monkeypatch)
    monkeypatch.setattr("batchdrop.usecases.complete.collect.CHECKPOINT_EVERY", 2)
    # (the follow-up's creation lease shortened, so that Poll may create its batch at once)
    complete = stack.handler("CompleteFunction", SUBMIT_GRACE_SECONDS="0")

    # Given Complete dies once at the crash point, and the event is delivered again
    monkeypatch.setenv("BATCHDROP_CRASH_POINTS", point)
    monkeypatch.setenv("BATCHDROP_CRASH_ONCE_DIR", str(tmp_path))
    with pytest.raises(SimulatedCrash):
        complete(event)
    stack.table.update_item(  # the dead invocation's lease runs out
        Key={"job_id": job_id},
        UpdateExpression="SET completing_claimed_at = :past",
        ExpressionAttributeValues={":past": "2000-01-01T00:00:00Z"},
    )
    done = complete(event)

    # Then the job completed once, each document has one row, the feedback went out once
    assert done["status"] == "completed"
    by_source = rows_by_source(stack, job_id)
    assert len(by_source) == 7
    assert by_source[RECEIPT_INVALID]["outcome"] == "retried" and by_source[ANSWER]["outcome"] == "succeeded"
    summary = summary_of(stack, job_id)
    assert sum(summary["counts"].values()) == 7
    assert stack.get_text(summary["documents_table_key"]) == stack.get_text(summary["documents_key"])
    follow_up = jobs(stack)[f"{job_id}-a2"]
    if "batch_id" not in follow_up:  # recorded, then the crash: Poll creates its batch
        stack.handler("PollFunction", SUBMIT_GRACE_SECONDS="0")(load_event("scheduled.json"))
        follow_up = jobs(stack)[f"{job_id}-a2"]
    sent = stack.emulator.engine.batch_requests(follow_up["batch_id"])
    assert len(sent) == 2
    (invalid,) = [r for r in sent if "Receipt invalid" in json.dumps(r["params"]["messages"][0])]
    assert [m["role"] for m in invalid["params"]["messages"]] == ["user", "assistant", "user"]
    assert len(stack.drain(notifications)) == 1


# --- batchdrop local documents JOB_ID ------------------------------------------------------------


def _state_dir(stack: Stack, tmp_path: Any) -> str:
    state = {
        "endpoint": stack.endpoint,
        "region": "us-east-1",
        "bucket": stack.bucket,
        "jobs_table": stack.resources.names["JobsTable"],
    }
    (tmp_path / "state.json").write_text(json.dumps(state))
    return str(tmp_path)


def test_the_documents_command_prints_each_row_and_the_cost_per_model(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from batchdrop_local.cli import main

    job_id, event = _job_of_every_outcome(stack, monkeypatch)
    state_dir = _state_dir(stack, tmp_path)

    # Before the job completes: the command says when its table is written
    assert main(["local", "documents", job_id, "--state-dir", state_dir]) == 2
    assert "is ended: its documents table" in capsys.readouterr().err

    stack.handler("CompleteFunction")(event)
    capsys.readouterr()  # the handler's own logs
    assert main(["local", "documents", job_id, "--state-dir", state_dir]) == 0
    out = capsys.readouterr().out

    lines = out.splitlines()
    assert lines[0] == f"Job {job_id}: 7 documents"
    header = next(line for line in lines if line.strip().startswith("DOCUMENT"))
    assert header.split() == [
        "DOCUMENT",
        "PROFILE",
        "MODEL",
        "TRY",
        "OUTCOME",
        "INPUT",
        "OUTPUT",
        "THINKING",
        "CACHE",
        "W/R",
        "BATCH",
        "STANDARD",
        "RESULT",
    ]
    by_document = {line.split()[0]: line for line in lines if line.strip().startswith("inbox/")}
    assert (
        "retried (invalid_output)" in by_document[RECEIPT_INVALID]
        and f"-> {job_id}-a2" in by_document[RECEIPT_INVALID]
    )
    assert "errored (invalid_request_error)" in by_document[BROKEN]
    assert "rejected" in by_document[EMPTY] and "missing" in by_document[GHOST]
    assert "results/default/notes/answer.txt.md" in by_document[ANSWER]
    assert f'{RECEIPT_VALID}: {{"merchant":"Café Ribeira","total":7.5}}' in out
    # The cost table sums each request's own cost, per model and in all
    found = rows(stack, job_id)
    total = sum(r["cost_batch_usd"] for r in found if r["cost_batch_usd"])
    (all_models,) = [line for line in lines if line.strip().startswith("all models")]
    billed = [r for r in found if r["input_tokens"]]
    assert all_models.split()[2] == str(len(billed))
    from batchdrop_ops.render.text import money

    assert money(total) in all_models


def test_the_documents_command_names_an_unknown_job(
    stack: Stack, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from batchdrop_local.cli import main

    assert main(["documents", "20261125T090000Z-deadbeef", "--state-dir", _state_dir(stack, tmp_path)]) == 2
    assert "no job 20261125T090000Z-deadbeef in the jobs table" in capsys.readouterr().err
