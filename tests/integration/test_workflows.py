"""Multi-stage workflows: Opus drafts -> Haiku checks -> Sonnet rewrites, each stage batched,
run through the real handlers; one notification at the end with the cost of every stage."""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.integration.harness import Stack, load_event, s3_event


def _run_stage(stack: Stack, key: str) -> dict[str, Any]:
    """One stage: the document's notification -> Submit -> Poll -> Complete; its summary."""
    submitted = stack.handler("SubmitFunction")(s3_event(stack.bucket, [key]))
    (job,) = submitted["jobs"]
    stack.handler("PollFunction")(load_event("scheduled.json"))
    ended = load_event("batch-ended.json")
    ended["detail"].update(job_id=job["job_id"], batch_id=job["batch_id"])
    stack.handler("CompleteFunction")(ended)
    summary: dict[str, Any] = json.loads(stack.get_text(f"jobs/{job['job_id']}/summary.json"))
    return summary


def test_a_three_stage_chain_runs_unattended_with_one_notification_at_the_end(stack: Stack) -> None:
    for name, spec in {
        "draft": {"model": "claude-opus-4-5", "instruction": "Draft a memo from ${name}.", "next": "check"},
        "check": {
            "model": "claude-haiku-4-5",
            "instruction": "Check the memo for errors.",
            "next": "rewrite",
        },
        "rewrite": {"model": "claude-sonnet-4-6", "instruction": "Rewrite the memo clearly."},
    }.items():
        stack.put_document(f"profiles/{name}.json", json.dumps(spec))
    notifications = stack.capture_queue("workflow-notifications")
    stack.client("sns").subscribe(
        TopicArn=stack.resources.names["NotificationTopic"],
        Protocol="sqs",
        Endpoint=stack.queue_arn(notifications),
    )
    stack.put_document("inbox/draft/q3/notes café.txt", b"Sales rose 7% in Q3; Lyon opened.")

    # Stage 1 (Opus): its answer is written as the next stage's document, linked to the origin
    first = _run_stage(stack, "inbox/draft/q3/notes café.txt")
    assert first["workflow"]["stage"] == 1 and first["workflow"]["final"] is False
    assert first["workflow"]["next_profiles"] == ["check"]
    head = stack.client("s3").head_object(Bucket=stack.bucket, Key="inbox/check/q3/notes café.txt.md")
    assert head["Metadata"]["batchdrop-stage"] == "2"
    assert head["Metadata"]["batchdrop-workflow"] == first["job_id"]
    assert stack.get_text("inbox/check/q3/notes café.txt.md") == stack.get_text(
        "results/draft/q3/notes café.txt.md"
    )
    assert stack.drain(notifications) == []  # no notification for an intermediate stage

    # Stage 2 (Haiku) and stage 3 (Sonnet)
    second = _run_stage(stack, "inbox/check/q3/notes café.txt.md")
    third = _run_stage(stack, "inbox/rewrite/q3/notes café.txt.md.md")

    # Then the final answer sits under the last profile, at the original path plus one suffix per stage
    assert stack.get_text("results/rewrite/q3/notes café.txt.md.md.md")
    assert [s["workflow"]["stage"] for s in (first, second, third)] == [1, 2, 3]
    assert second["workflow"]["previous_jobs"][0]["job_id"] == first["job_id"]
    assert third["workflow"]["previous_jobs"][0]["job_id"] == second["job_id"]
    assert third["workflow"]["id"] == first["job_id"] and third["workflow"]["final"] is True
    assert third["workflow"]["origins"] == ["inbox/draft/q3/notes café.txt"]
    # and the total is the cost of all three stages, each on its own model
    total = third["workflow"]["total_cost"]
    stage_costs = [s["cost"]["batch"] for s in (first, second, third)]
    assert total["batch"] == round(sum(stage_costs), 9) and total["complete"] is True
    assert [next(iter(s["tokens_by_model"])) for s in (first, second, third)] == [
        "claude-opus-4-5",
        "claude-haiku-4-5",
        "claude-sonnet-4-6",
    ]
    # and exactly one notification went out, at the end, carrying the workflow's total
    (notification,) = stack.drain(notifications)
    message = json.loads(notification["Message"])
    assert message["workflow"]["total_cost"] == total and message["job_id"] == third["job_id"]


def test_a_resumed_completion_does_not_start_the_next_stage_twice(stack: Stack) -> None:
    stack.put_document("profiles/a.json", json.dumps({"next": "b"}))
    stack.put_document("profiles/b.json", "{}")
    stack.put_document("inbox/a/x.txt", b"text")
    summary = _run_stage(stack, "inbox/a/x.txt")
    store = sys.modules["complete"].context_for_jobs.store
    body = stack.get_text("inbox/b/x.txt.md").encode()
    # writing it again for the same job changes nothing (no new version, so no new submission)
    assert store.put_once("inbox/b/x.txt.md", body, "text/markdown", {}, owner=summary["job_id"]) is False
    versions = stack.client("s3").list_object_versions(Bucket=stack.bucket, Prefix="inbox/b/x.txt.md")[
        "Versions"
    ]
    assert len(versions) == 1
