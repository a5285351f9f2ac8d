"""Complete's follow-up jobs, against in-memory fakes: a transient error is asked again in a
follow-up job (recorded, then its batch created once); an answer that fails its schema is asked
again with the answer and its errors."""

from __future__ import annotations

import json

import pytest

from batchdrop.domain.keys import manifest_key, requests_key
from batchdrop.domain.lifecycle import JobState
from batchdrop.usecases.complete import complete_job
from tests.fakes import CrashAt, errored, succeeded
from tests.unit.usecases.complete_world import JOB, World, custom_id

FOLLOW_UP = f"{JOB}-a2"
RECEIPT = {
    "type": "object",
    "properties": {"total": {"type": "number"}},
    "required": ["total"],
    "additionalProperties": False,
}


def test_a_retryable_error_is_resubmitted_as_a_follow_up_job() -> None:
    world = World()
    world.ended_job(3, {custom_id(1): errored("overloaded_error", "Overloaded")})

    summary = complete_job(JOB, world.ctx())

    # Then the follow-up was recorded (intent first), then its batch created, once
    assert summary["retried_in"] == FOLLOW_UP and summary["counts"]["retried"] == 1
    assert ("record_intent", FOLLOW_UP) in world.jobs.moves
    moves = [m for m in world.jobs.moves if m[1] == FOLLOW_UP]
    assert moves == [("record_intent", FOLLOW_UP), ("record_submitted", FOLLOW_UP)]
    assert len(world.batches.created) == 2
    follow_up_batch = world.batches.created[1]
    assert [r["custom_id"] for r in world.batches.requests[follow_up_batch]] == [custom_id(1)]
    assert world.jobs.state(FOLLOW_UP) is JobState.SUBMITTED
    assert world.jobs.items[FOLLOW_UP]["attempt"] == 2
    assert world.jobs.items[FOLLOW_UP]["previous_job_id"] == JOB
    # the document retried has no result object of this job; the others have theirs
    assert world.result_keys() == ["results/default/0.txt.md", "results/default/2.txt.md"]
    row = world.row(custom_id(1))
    assert row["outcome"] == "retried" and row["retried_in"] == FOLLOW_UP


def test_a_completion_that_dies_after_recording_the_follow_up_does_not_make_a_second() -> None:
    world = World()
    world.ended_job(2, {custom_id(0): errored("api_error", "Internal")})
    crash = CrashAt("complete:after-follow-up-intent")
    with pytest.raises(CrashAt.Crashed):
        complete_job(JOB, world.ctx(crash))
    assert world.jobs.state(FOLLOW_UP) is JobState.SUBMITTING and len(world.batches.created) == 1

    world.clock.advance(minutes=21)
    summary = complete_job(JOB, world.ctx(crash))

    # The follow-up is found, not made again: Poll creates its batch once its lease runs out
    assert summary["retried_in"] == FOLLOW_UP
    assert [m for m in world.jobs.moves if m == ("record_intent", FOLLOW_UP)] == [
        ("record_intent", FOLLOW_UP)
    ]
    assert len(world.batches.created) == 1
    assert len(world.notifier.published) == 1


def test_an_invalid_structured_answer_is_asked_again_with_feedback() -> None:
    world = World()
    world.ended_job(
        2,
        {
            custom_id(0): succeeded(custom_id(0), text='{"total": 12.5}'),
            custom_id(1): succeeded(custom_id(1), text='{"sum": "twelve"}'),
        },
        schema=RECEIPT,
    )

    summary = complete_job(JOB, world.ctx())

    # The valid answer is written as JSON; the invalid one goes to the follow-up with its errors
    assert json.loads(world.bucket.text("results/extract/0.txt.json")) == {"total": 12.5}
    assert not world.bucket.exists("results/extract/1.txt.json")
    assert summary["retried_in"] == FOLLOW_UP and summary["counts"]["retried"] == 1
    # billed all the same
    assert summary["tokens"]["input"] == 200
    (request,) = [json.loads(line) for line in world.bucket.text(requests_key(FOLLOW_UP)).splitlines()]
    messages = request["params"]["messages"]
    assert request["custom_id"] == custom_id(1)
    assert messages[1] == {"role": "assistant", "content": [{"type": "text", "text": '{"sum": "twelve"}'}]}
    prompt = messages[2]["content"][0]["text"]
    assert messages[2]["role"] == "user" and "does not match the required JSON Schema" in prompt
    assert "total" in prompt
    (entry,) = [json.loads(line) for line in world.bucket.text(manifest_key(FOLLOW_UP)).splitlines()]
    assert entry["attempt"] == 2 and entry["custom_id"] == custom_id(1)
    row = world.row(custom_id(1))
    assert (row["outcome"], row["error_type"]) == ("retried", "invalid_output")


def test_an_invalid_answer_on_its_last_attempt_is_an_error_that_keeps_the_answer() -> None:
    world = World()
    world.ended_job(1, {custom_id(0): succeeded(custom_id(0), text='{"sum": 1}')}, schema=RECEIPT)

    summary = complete_job(JOB, world.ctx(max_attempts=1))

    assert summary["counts"]["invalid_output"] == 1 and summary["retried_in"] is None
    body = world.bucket.json("results/extract/0.txt.error.json")
    assert body["result_type"] == "invalid_output" and body["answer"] == '{"sum": 1}'
    assert len(world.batches.created) == 1
