"""Poll takes over a job stuck in ``submitting`` once its creation lease ran out: it creates
(or finds) the job's batch from the requests in S3, or abandons a job whose requests were never
written; within the lease, the job's writer keeps it."""

from __future__ import annotations

from batchdrop.domain.lifecycle import ABANDONED, SUBMITTED, SUBMITTING
from batchdrop.ports.batches import BatchRefused
from tests.unit.usecases.poll_kit import LEASE, REQUEST, World


def test_within_its_lease_a_submitting_job_is_left_to_its_writer() -> None:
    world = World()
    world.submitting("j1")
    world.clock.advance(minutes=19)
    report = world.tick()
    assert (report.created, report.abandoned) == ([], [])
    assert world.clients_made == 0 and world.jobs.state("j1") == SUBMITTING


def test_past_its_lease_a_job_with_its_requests_written_gets_its_batch() -> None:
    # Given a Submit that recorded the job and wrote its requests, then died
    world = World()
    world.submitting("j1")
    world.clock.advance(seconds=LEASE.total_seconds() + 1)
    # When Poll ticks
    report = world.tick()
    # Then it took the creation over and created the batch from the requests in S3
    assert report.created == ["j1"] and report.reconciled == 1
    assert world.api.created == ["msgbatch_0001"] and world.api.requests["msgbatch_0001"] == [REQUEST]
    record = world.jobs.get("j1")
    assert record is not None and record.status == SUBMITTED and record.batch_id == "msgbatch_0001"
    assert record.creation_owner not in (None, "submit")  # Poll's own token
    assert world.jobs.batch_holder("msgbatch_0001") == "j1"
    # and the next tick watches that batch as any other
    assert world.tick().in_progress == 1


def test_past_its_lease_a_job_without_its_requests_is_abandoned() -> None:
    world = World()
    world.submitting("j1", requests_written=False)
    world.clock.advance(seconds=LEASE.total_seconds() + 1)
    report = world.tick()
    assert report.abandoned == ["j1"] and report.reconciled == 1
    assert world.jobs.state("j1") == ABANDONED and world.api.created == []
    assert list(world.jobs.open_jobs()) == []


def test_a_full_batch_queue_leaves_the_job_waiting() -> None:
    world = World()
    world.submitting("j1")
    world.api.fail_create.extend([BatchRefused("queue full", retry_after=600)])
    world.clock.advance(seconds=LEASE.total_seconds() + 1)
    report = world.tick()
    assert report.waiting == ["j1"] and report.created == []
    record = world.jobs.get("j1")
    assert record is not None and record.status == SUBMITTING and record.create_refusals == 1


def test_two_pollers_do_not_both_take_a_stuck_job_over() -> None:
    world = World()
    world.submitting("j1")
    world.clock.advance(seconds=LEASE.total_seconds() + 1)
    first = world.tick()
    second = world.tick()  # the job now has its batch: nothing to reconcile
    assert first.created == ["j1"] and second.created == []
    assert world.api.created == ["msgbatch_0001"]
