"""The shared batch creation (usecases.batch_creation) against tests/fakes.py: a job recorded by
Submit gets its batch created, waits on a full queue, gives up on a refusal for good, finds
the batch of a create whose answer was lost, and calls nothing once its lease is taken."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from batchdrop.domain.lifecycle import JobState
from batchdrop.ports.batches import BatchInfo, BatchMayExist, BatchRefused, BatchRejected
from batchdrop.usecases.batch_creation import (
    BatchCreation,
    Created,
    CreationPolicy,
    GaveUp,
    JobToCreate,
    Uncertain,
    Waiting,
    new_owner,
)
from tests.fakes import FakeBatches, FakeClock, FakeJobs

POLICY = CreationPolicy(lease=timedelta(minutes=20), create_span=timedelta(minutes=3))
REQUESTS = [{"custom_id": f"r{n}", "params": {"model": "claude-haiku-4-5"}} for n in range(3)]


class LostAnswer(FakeBatches):
    """Creates the batch, then loses the answer (a gateway's 504 after the API acted)."""

    def create(self, requests: list[dict[str, Any]]) -> BatchInfo:
        super().create(requests)
        raise BatchMayExist("504 from the gateway")


def _recorded(jobs: FakeJobs, clock: FakeClock, job_id: str = "job-1") -> JobToCreate:
    owner = new_owner()
    jobs.record_intent(job_id, f"jobs/{job_id}/manifest.jsonl", clock(), POLICY.lease, owner, requests=3)
    return JobToCreate(job_id, len(REQUESTS), owner)


def test_the_batch_is_created_and_the_job_marked_submitted() -> None:
    clock, jobs = FakeClock(), FakeJobs()
    batches = FakeBatches(clock)
    job = _recorded(jobs, clock)

    outcome = BatchCreation(jobs, batches, clock, POLICY).run(job, REQUESTS)

    assert isinstance(outcome, Created) and not outcome.adopted
    assert batches.requests[outcome.batch.id] == REQUESTS
    assert jobs.state("job-1") == JobState.SUBMITTED and jobs.items["job-1"]["batch_id"] == outcome.batch.id
    assert jobs.batch_claims == {outcome.batch.id: "job-1"}
    assert len(jobs.items["job-1"]["create_calls"]) == 1  # recorded before the call


def test_a_full_queue_makes_the_job_wait_without_a_batch() -> None:
    clock, jobs = FakeClock(), FakeJobs()
    batches = FakeBatches(clock)
    batches.fail_create.append(BatchRefused("429: queue full", retry_after=600))
    job = _recorded(jobs, clock)

    outcome = BatchCreation(jobs, batches, clock, POLICY).run(job, REQUESTS)

    assert isinstance(outcome, Waiting) and outcome.until == clock() + POLICY.first_backoff
    assert batches.created == [] and jobs.state("job-1") == JobState.SUBMITTING
    assert jobs.items["job-1"]["create_refusals"] == 1 and jobs.items["job-1"]["settled_calls"]


def test_a_short_429_is_waited_out_in_place() -> None:
    clock, jobs = FakeClock(), FakeJobs()
    batches = FakeBatches(clock)
    batches.fail_create.append(BatchRefused("429: slow down", retry_after=2))
    slept: list[float] = []

    outcome = BatchCreation(jobs, batches, clock, POLICY, sleep=slept.append).run(
        _recorded(jobs, clock), REQUESTS
    )

    assert isinstance(outcome, Created) and slept == [2] and len(batches.created) == 1


def test_a_refusal_for_good_gives_up_at_once() -> None:
    clock, jobs = FakeClock(), FakeJobs()
    batches = FakeBatches(clock)
    batches.fail_create.append(BatchRejected("413: request too large"))

    outcome = BatchCreation(jobs, batches, clock, POLICY).run(_recorded(jobs, clock), REQUESTS)

    assert isinstance(outcome, GaveUp) and outcome.reason == "413: request too large"
    assert batches.created == [] and jobs.moves[-1] == ("give_up_creation", "job-1")
    assert jobs.items["job-1"]["end_reason"] == "413: request too large"


def test_the_batch_of_a_lost_answer_is_found_by_listing_and_adopted() -> None:
    clock, jobs = FakeClock(), FakeJobs()
    batches = LostAnswer(clock)

    outcome = BatchCreation(jobs, batches, clock, POLICY).run(_recorded(jobs, clock), REQUESTS)

    (made,) = batches.created
    assert isinstance(outcome, Created) and outcome.adopted and outcome.batch.id == made
    assert jobs.items["job-1"]["batch_id"] == made and jobs.items["job-1"]["adopted"] is True


def test_a_batch_another_job_claimed_is_not_adopted() -> None:
    clock, jobs = FakeClock(), FakeJobs()
    batches = LostAnswer(clock)
    jobs.batch_claims["msgbatch_0001"] = "other-job"  # the batch the lost create will make

    outcome = BatchCreation(jobs, batches, clock, POLICY).run(_recorded(jobs, clock), REQUESTS)

    # Not listed as ours: nothing is created again before create_span after the call.
    assert isinstance(outcome, Waiting) and outcome.until >= clock() + POLICY.create_span
    assert jobs.batch_claims == {"msgbatch_0001": "other-job"} and jobs.state("job-1") == JobState.SUBMITTING


def test_a_writer_whose_lease_was_taken_calls_nothing() -> None:
    clock, jobs = FakeClock(), FakeJobs()
    batches = FakeBatches(clock)
    job = _recorded(jobs, clock)
    clock.advance(minutes=21)
    assert jobs.claim_creation("job-1", clock(), POLICY.lease, "poll")

    outcome = BatchCreation(jobs, batches, clock, POLICY).run(job, REQUESTS)

    assert isinstance(outcome, Uncertain) and batches.created == []


def test_requests_are_read_only_when_a_create_is_needed() -> None:
    clock, jobs = FakeClock(), FakeJobs()
    batches = FakeBatches(clock)
    job = _recorded(jobs, clock)
    reads: list[int] = []

    def read() -> list[dict[str, Any]]:
        reads.append(1)
        return REQUESTS

    creation = BatchCreation(jobs, batches, clock, POLICY)
    first = creation.run(job, read)
    assert isinstance(first, Created) and reads == [1]
