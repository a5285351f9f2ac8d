"""Cancel: a running job's batch is canceled; a job still submitting records the request (Poll
cancels its batch once it exists); a job whose batch ended is left as it is."""

from __future__ import annotations

from batchdrop.domain.lifecycle import COMPLETING
from batchdrop.domain.times import iso
from batchdrop.usecases.cancel import cancel_job
from tests.unit.usecases.poll_kit import LEASE, World


def test_a_running_jobs_batch_is_canceled() -> None:
    world = World()
    batch_id = world.running("j1")
    assert cancel_job("j1", world.jobs, world.api, world.clock()) == "canceling"
    assert world.api.canceled == [batch_id]
    assert world.api.batches[batch_id].processing_status == "canceling"
    record = world.jobs.get("j1")
    assert record is not None and record.cancel_requested_at == iso(world.clock())


def test_a_submitting_job_records_the_request_and_poll_cancels_its_batch_later() -> None:
    world = World()
    world.submitting("j1")
    assert (
        cancel_job("j1", world.jobs, world.api, world.clock())
        == "cancel recorded; the batch is not created yet"
    )
    assert world.api.canceled == []
    record = world.jobs.get("j1")
    assert record is not None and record.cancel_requested_at == iso(world.clock())
    # When its batch is created after all, the next tick cancels it
    batch = world.api.create([])
    assert world.jobs.record_submitted("j1", batch.id, batch.expires_at, batch.created_at, world.clock())
    world.tick()
    assert world.api.canceled == [batch.id]


def test_a_batch_that_ended_meanwhile_is_said_so() -> None:
    world = World()
    world.api.end(world.running("j1"))  # the API ended it, Poll has not seen it yet
    assert cancel_job("j1", world.jobs, world.api, world.clock()) == "the batch had already ended"


def test_a_job_past_its_batch_and_an_unknown_job_are_left_alone() -> None:
    world = World()
    world.ended("j1")
    assert world.jobs.claim_completion("j1", world.clock(), LEASE)
    assert cancel_job("j1", world.jobs, world.api, world.clock()) == f"already {COMPLETING}"
    assert cancel_job("nobody", world.jobs, world.api, world.clock()) == "unknown job"
    assert world.api.canceled == []
    record = world.jobs.get("j1")
    assert record is not None and record.cancel_requested_at is None
