"""The in-memory fakes keep their ports' contracts: the adapters and the fakes both satisfy the
port Protocols (mypy checks the assignments below), and the jobs fake moves a job only along
domain.lifecycle's transitions, as the DynamoDB adapter's conditional writes do."""

from __future__ import annotations

import json
from datetime import timedelta

from batchdrop import ports
from batchdrop.adapters.anthropic_backend import MessageBatches
from batchdrop.adapters.dynamodb_jobs import JobStore
from batchdrop.adapters.messaging import JobEvents, Notifier
from batchdrop.adapters.s3_bucket import DocumentStore
from batchdrop.domain.lifecycle import JobState
from tests.fakes import FakeBatches, FakeBucket, FakeBus, FakeClock, FakeJobs, FakeNotifier, summary_of

LEASE = timedelta(minutes=20)


def _adapters_fit(
    jobs: JobStore, store: DocumentStore, api: MessageBatches, sns: Notifier, bus: JobEvents
) -> None:
    # Never called: mypy proves each adapter satisfies its port.
    _jobs: ports.JobsStore = jobs
    _claims: ports.Claims = jobs
    _bucket: ports.Bucket = store
    _batches: ports.BatchBackend = api
    _models: ports.ModelsApi = api
    _notifier: ports.Notifier = sns
    _bus: ports.EventBus = bus


def test_fakes_fit_the_ports() -> None:
    clock = FakeClock()
    jobs: ports.JobsStore = FakeJobs()
    claims: ports.Claims = FakeJobs()
    bucket: ports.Bucket = FakeBucket()
    batches: ports.BatchBackend = FakeBatches(clock)
    models: ports.ModelsApi = FakeBatches(clock)
    notifier: ports.Notifier = FakeNotifier()
    bus: ports.EventBus = FakeBus()
    assert all(x is not None for x in (jobs, claims, bucket, batches, models, notifier, bus))


def test_a_job_moves_from_submitting_to_completed_along_the_lifecycle() -> None:
    clock, jobs = FakeClock(), FakeJobs()
    jobs.record_intent("j1", "jobs/j1/manifest.jsonl", clock(), LEASE, "me", requests=2)
    assert jobs.record_submitted("j1", "b1", "2026-12-02T12:00:00Z", "2026-12-01T12:00:00Z", clock())
    assert jobs.claim_ended("j1", clock(), LEASE)
    assert not jobs.claim_ended("j1", clock(), LEASE)  # held, not stale
    assert jobs.mark_ended("j1", clock())
    assert jobs.claim_completion("j1", clock(), LEASE)
    assert not jobs.claim_completion("j1", clock(), LEASE)  # a second delivery
    summary = summary_of(
        cost={"batch": 0.1, "standard": 0.2, "savings": 0.1, "complete": True},
        counts={"succeeded": 2},
        tokens={"input": 1},
        summary_key="jobs/j1/summary.json",
    )
    assert jobs.mark_completed("j1", clock(), summary)
    record = jobs.get("j1")
    assert record is not None and record.status is JobState.COMPLETED and not record.is_open
    assert record.cost is not None and record.cost.batch == 0.1
    assert [action for action, _ in jobs.moves] == [
        "record_intent",
        "record_submitted",
        "claim_ended",
        "mark_ended",
        "claim_completion",
        "mark_completed",
    ]
    assert list(jobs.open_jobs()) == []


def test_a_move_from_the_wrong_state_is_refused() -> None:
    clock, jobs = FakeClock(), FakeJobs()
    jobs.record_intent("j1", "m", clock(), LEASE, "me")
    assert not jobs.mark_ended("j1", clock())  # submitting, not ending
    assert not jobs.mark_completed("j1", clock(), summary_of())
    assert not jobs.give_up_creation("j1", clock(), "no", owner="someone else")
    assert jobs.give_up_creation("j1", clock(), "no", owner="me")
    assert jobs.state("j1") is JobState.SUBMITTED


def test_a_stale_completion_claim_is_retaken_and_a_fresh_one_is_not() -> None:
    clock, jobs = FakeClock(), FakeJobs()
    jobs.record_intent("j1", "m", clock(), LEASE, "me")
    jobs.record_submitted("j1", "b1", "e", "c", clock())
    jobs.claim_ended("j1", clock(), LEASE)
    jobs.mark_ended("j1", clock())
    assert jobs.claim_completion("j1", clock(), LEASE)
    clock.advance(minutes=10)
    assert not jobs.claim_completion("j1", clock(), LEASE)
    clock.advance(minutes=11)
    assert jobs.claim_completion("j1", clock(), LEASE)


def test_the_batches_fake_answers_as_the_adapter_does() -> None:
    clock = FakeClock()
    batches = FakeBatches(clock)
    batch = batches.create([{"custom_id": "doc-1", "params": {}}, {"custom_id": "doc-2", "params": {}}])
    batches.end(batch.id)
    lines = list(batches.results(batch.id))
    # (the line as sent, the line parsed), as MessageBatches.results streams them
    assert [json.loads(text) == parsed for text, parsed in lines] == [True, True]
    assert [parsed["custom_id"] for _, parsed in lines] == ["doc-1", "doc-2"]
    assert lines[0][1]["result"]["type"] == "succeeded"
    assert batches.cancel(batch.id) is None  # an ended batch cannot be canceled
