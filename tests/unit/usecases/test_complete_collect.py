"""Complete against in-memory fakes: an ended job's results become one object per document, one
notification and a completed job; a second delivery, a crash halfway, a wrong adopted batch and
a hand-over when time runs short each leave the fakes as they should."""

from __future__ import annotations

from datetime import timedelta

import pytest

from batchdrop.domain.keys import checkpoint_key, results_key, summary_key
from batchdrop.domain.lifecycle import JobState
from batchdrop.domain.summary import Summary
from batchdrop.ports.messages import BATCH_ENDED, JOB_COMPLETED
from batchdrop.usecases.complete import complete_job
from tests.fakes import CrashAt, errored
from tests.unit.usecases.complete_world import JOB, World, custom_id


def test_an_ended_job_gets_one_result_per_document_one_notification_and_is_completed() -> None:
    world = World()
    world.ended_job(3, {custom_id(2): errored("invalid_request_error", "too long")})

    summary = complete_job(JOB, world.ctx())

    assert summary["status"] == "completed"
    assert world.result_keys() == [
        "results/default/0.txt.md",
        "results/default/1.txt.md",
        "results/default/2.txt.error.json",
    ]
    assert world.bucket.text("results/default/0.txt.md") == "An answer."
    assert all(world.written(key) == 1 for key in world.result_keys())
    assert len(world.notifier.published) == 1
    subject, message = world.notifier.published[0]
    assert subject == f"batchdrop job {JOB}: 2 of 3 documents answered, 1 failed"
    assert message["counts"]["succeeded"] == 2 and message["summary"] == f"s3://documents/{summary_key(JOB)}"
    assert world.jobs.state(JOB) is JobState.COMPLETED
    assert world.jobs.items[JOB]["result_counts"]["errored"] == 1
    assert [kind for kind, _ in world.bus.events] == [JOB_COMPLETED]
    # summary.json is the typed Summary's JSON, and reads back as the same value
    stored = world.bucket.json(summary_key(JOB))
    assert stored == summary and Summary.from_json(stored).to_json() == stored
    assert [world.row(custom_id(n))["outcome"] for n in range(3)] == ["succeeded", "succeeded", "errored"]
    assert world.bucket.exists(results_key(JOB))


def test_a_second_delivery_does_nothing() -> None:
    world = World()
    world.ended_job(2)
    complete_job(JOB, world.ctx())
    writes = list(world.bucket.writes)

    again = complete_job(JOB, world.ctx())

    assert again == {"job_id": JOB, "status": "duplicate"}
    assert world.bucket.writes == writes
    assert len(world.notifier.published) == 1
    assert [action for action, _ in world.jobs.moves].count("mark_completed") == 1


def test_a_crash_halfway_then_a_rerun_writes_each_result_once_and_each_row_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a checkpoint after every confirmed result, and writes one at a time
    monkeypatch.setattr("batchdrop.usecases.complete.collect.CHECKPOINT_EVERY", 1)
    world = World()
    world.ended_job(20)
    crash = CrashAt("complete:halfway")

    # When Complete dies halfway through
    with pytest.raises(CrashAt.Crashed):
        complete_job(JOB, world.ctx(crash, write_concurrency=1))
    checkpointed = world.bucket.json(checkpoint_key(JOB))
    first_run = {key for key in world.bucket.writes if key.startswith("results/")}
    assert world.jobs.state(JOB) is JobState.COMPLETING and not world.notifier.published

    # and the job is taken over once its lease ran out
    world.clock.advance(minutes=21)
    summary = complete_job(JOB, world.ctx(crash, write_concurrency=1))

    # Then every document has one result, counted once; each row is in the table once
    assert summary["status"] == "completed" and summary["counts"]["succeeded"] == 20
    keys = world.result_keys()
    assert keys == sorted(f"results/default/{n}.txt.md" for n in range(20))
    rows = world.rows()
    assert sorted(row["custom_id"] for row in rows) == sorted(custom_id(n) for n in range(20))
    # the results the checkpoint counted as done were not written again
    assert checkpointed["row_parts"] >= 1 and 0 < len(first_run) < 20
    rewritten = [key for key in keys if world.written(key) > 1]
    assert len(rewritten) <= len(first_run)
    assert world.written("results/default/0.txt.md") == 1
    assert len(world.notifier.published) == 1
    assert world.jobs.state(JOB) is JobState.COMPLETED


def test_an_adopted_batch_naming_none_of_the_manifests_requests_is_disowned() -> None:
    world = World()
    world.ended_job(2, adopted=True, batch_of=["someone-else-000001", "someone-else-000002"])
    batch_id = world.jobs.items[JOB]["batch_id"]

    outcome = complete_job(JOB, world.ctx())

    assert outcome["status"] == "wrong_batch" and outcome["batch_id"] == batch_id
    assert world.jobs.state(JOB) is JobState.SUBMITTING
    assert "batch_id" not in world.jobs.items[JOB]
    assert world.jobs.items[JOB]["disowned_batches"] == [batch_id]
    assert world.result_keys() == [] and not world.notifier.published


def test_time_running_short_hands_the_job_over_with_the_checkpoint_saved() -> None:
    world = World()
    world.ended_job(3)

    # When the invocation has less than the hand-over margin left
    outcome = complete_job(JOB, world.ctx(remaining=lambda: 30.0))

    # Then it saves what it did, gives the job back and announces it again
    assert outcome == {"job_id": JOB, "status": "handed_over", "done": 1}
    assert world.jobs.state(JOB) is JobState.ENDED
    assert world.bus.events == [
        (BATCH_ENDED, {"job_id": JOB, "batch_id": world.jobs.items[JOB]["batch_id"], "continuation": True})
    ]
    checkpoint = world.bucket.json(checkpoint_key(JOB))
    assert checkpoint["summary"]["counts"] == {"succeeded": 1} and checkpoint["row_parts"] == 1
    assert not world.notifier.published

    # and the next invocation finishes the job without writing the first document again
    world.clock.advance(seconds=1)
    summary = complete_job(JOB, world.ctx())
    assert summary["counts"]["succeeded"] == 3
    assert all(world.written(key) == 1 for key in world.result_keys())
    assert len(world.rows()) == 3 and len(world.notifier.published) == 1


def test_a_lease_held_by_another_invocation_is_busy_not_an_error() -> None:
    world = World()
    world.ended_job(1)
    assert world.jobs.claim_completion(JOB, world.clock(), timedelta(minutes=20))

    assert complete_job(JOB, world.ctx()) == {"job_id": JOB, "status": "busy"}
    assert world.result_keys() == []
