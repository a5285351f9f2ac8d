"""The batch-creation routine against fakes: never a blind retry, a full queue waits, a lost
answer is found by listing, an earlier create is adopted, a refusal for good gives up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from batchdrop.domain.times import iso_exact
from batchdrop.ports.batches import BatchInfo, BatchMayExist, BatchRefused, BatchRejected
from batchdrop.usecases.batch_creation import (
    BatchCreation,
    Created,
    CreationPolicy,
    GaveUp,
    JobToCreate,
    Uncertain,
    Waiting,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _batch(batch_id: str, created: datetime, requests: int) -> BatchInfo:
    return BatchInfo(
        id=batch_id,
        processing_status="in_progress",
        request_counts={"processing": requests, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
        created_at=iso_exact(created),
        expires_at=iso_exact(created + timedelta(hours=24)),
        ended_at=None,
    )


@dataclass
class FakeJobs:
    """The JobStore methods the routine uses, in memory."""

    batch_claims: dict[str, str] = field(default_factory=dict)
    submitted: dict[str, tuple[str, bool]] = field(default_factory=dict)
    waiting: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    gave_up: dict[str, str] = field(default_factory=dict)
    create_calls: dict[str, list[datetime]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    owner: str = "writer"  # who holds the creation lease

    def note_create_call(self, job_id: str, now: datetime, owner: str, lease: timedelta) -> bool:
        if owner != self.owner:
            return False
        self.create_calls.setdefault(job_id, []).append(now)
        self.log.append("note")
        return True

    def claim_batch(self, batch_id: str, job_id: str, now: datetime, force: bool = False) -> bool:
        holder = self.batch_claims.get(batch_id)
        if force or holder in (None, job_id):
            self.batch_claims[batch_id] = job_id
            return True
        return False

    def batch_holder(self, batch_id: str) -> str | None:
        return self.batch_claims.get(batch_id)

    def record_submitted(self, job_id: str, batch_id: str, *_: Any, **__: Any) -> bool:
        adopted = bool(_[3]) if len(_) > 3 else bool(__.get("adopted", False))
        self.submitted[job_id] = (batch_id, adopted)
        return True

    def get(self, job_id: str) -> None:
        return None

    def settle_create_call(self, job_id: str, called: datetime) -> None:
        self.create_calls[job_id].remove(called)
        self.log.append("settle")

    def record_waiting(self, job_id: str, now: datetime, until: datetime, reason: str, owner: str) -> bool:
        self.waiting[job_id] = (until, reason)
        return True

    def give_up_creation(self, job_id: str, now: datetime, reason: str, owner: str) -> bool:
        self.gave_up[job_id] = reason
        return True


class FakeBatches:
    """Answers creates from a script: a BatchInfo to return, or an exception to raise (after
    making the batch, when it is a (exception, True) pair: the answer was lost)."""

    def __init__(self, clock: Clock, script: list[Any], existing: list[BatchInfo] | None = None) -> None:
        self.clock = clock
        self.script = list(script)
        self.made: list[BatchInfo] = list(existing or [])
        self.log: list[str] = []
        self.list_error: Exception | None = None

    def for_job(self, job_id: str) -> FakeBatches:
        return self

    def create(self, requests: list[dict[str, Any]]) -> BatchInfo:
        self.log.append("create")
        step = self.script.pop(0)
        if step == "ok" or isinstance(step, tuple):
            batch = _batch(f"msgbatch_{len(self.made)}", self.clock(), len(requests))
            self.made.append(batch)
            if isinstance(step, tuple):
                raise step[0]
            return batch
        raise step

    def created_since(self, since: datetime) -> Any:
        self.log.append("list")
        if self.list_error:
            raise self.list_error
        return iter(sorted(self.made, key=lambda b: b.created_at, reverse=True))


REQUESTS = [{"custom_id": f"doc-{i}", "params": {}} for i in range(3)]


def _run(
    script: list[Any], job: JobToCreate | None = None, existing: list[BatchInfo] | None = None, **policy: Any
):
    clock = Clock()
    jobs, batches = FakeJobs(), FakeBatches(clock, script, existing)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += timedelta(seconds=seconds)

    creation = BatchCreation(jobs, batches, clock, CreationPolicy(**policy), sleep)  # type: ignore[arg-type]
    outcome = creation.run(job or JobToCreate("job-1", len(REQUESTS), "writer"), REQUESTS)
    return outcome, jobs, batches, slept


def test_a_batch_is_created_once_and_recorded() -> None:
    outcome, jobs, batches, _ = _run(["ok"])
    assert isinstance(outcome, Created) and not outcome.adopted
    assert batches.log == ["create"] and jobs.log == ["note"]
    assert jobs.submitted == {"job-1": ("msgbatch_0", False)}
    assert jobs.batch_claims == {"msgbatch_0": "job-1"}


@pytest.mark.parametrize("status", ["500", "502", "504", "dropped connection"])
def test_a_lost_answer_is_found_by_listing_and_never_created_again(status: str) -> None:
    # Given the API made the batch, then the answer was lost (a gateway's late 5xx, a drop)
    outcome, jobs, batches, _ = _run([(BatchMayExist(status), True)])
    # Then the routine listed, found its own batch, and adopted it: one create in all
    assert isinstance(outcome, Created) and outcome.adopted
    assert batches.log == ["create", "list"]
    assert len(batches.made) == 1 and jobs.submitted["job-1"] == ("msgbatch_0", True)


def test_after_a_lost_answer_with_no_batch_listed_nothing_is_created_before_the_span() -> None:
    # Given a create whose answer was lost, and a list that does not (yet) show a batch
    outcome, jobs, batches, slept = _run([BatchMayExist("504"), "ok"], create_span=timedelta(minutes=3))
    # Then the job waits until a batch that call made would surely be listed: no second create
    assert isinstance(outcome, Waiting) and batches.log == ["create", "list"] and slept == []
    assert jobs.waiting["job-1"][0] == T0 + timedelta(minutes=3)
    # and its call stays one that may have made a batch (the next try lists first)
    assert jobs.create_calls["job-1"] == [T0]


def test_a_refused_call_is_settled_and_never_looked_for() -> None:
    # Given a create the API refused (429: no batch was made)
    outcome, jobs, batches, _ = _run([BatchRefused("queue full", retry_after=3600.0)])
    assert isinstance(outcome, Waiting)
    # Then the call is settled: a later try has no call to look for, so it lists nothing
    assert jobs.create_calls["job-1"] == [] and "settle" in jobs.log
    foreign = _batch("msgbatch_foreign", T0 + timedelta(seconds=1), 3)
    _, _, batches, _ = _run(["ok"], JobToCreate("job-1", 3, "writer"), existing=[foreign])
    assert batches.log == ["create"]


def test_when_listing_fails_nothing_is_created_again() -> None:
    clock = Clock()
    jobs, batches = FakeJobs(), FakeBatches(clock, [BatchMayExist("504")])
    batches.list_error = RuntimeError("list answered 500")
    outcome = BatchCreation(jobs, batches, clock, CreationPolicy(), lambda _: None).run(  # type: ignore[arg-type]
        JobToCreate("job-1", 3, "writer"), REQUESTS
    )
    assert isinstance(outcome, Uncertain) and batches.log == ["create", "list"]
    assert jobs.submitted == {} and jobs.waiting == {} and jobs.gave_up == {}


def test_a_short_429_is_waited_out_in_place() -> None:
    outcome, _, batches, slept = _run([BatchRefused("429", retry_after=2.0), "ok"])
    assert isinstance(outcome, Created) and slept == [2.0]
    assert batches.log == ["create", "create"]  # a 429 made no batch: no need to list


def test_a_full_queue_makes_the_job_wait_with_backoff() -> None:
    outcome, jobs, _, _ = _run([BatchRefused("queue full", retry_after=3600.0)])
    assert isinstance(outcome, Waiting)
    until, reason = jobs.waiting["job-1"]
    assert until == T0 + timedelta(minutes=1) and "429" in reason
    # the second refusal waits twice as long, up to the maximum
    job = JobToCreate("job-1", 3, "writer", waiting_since=T0 - timedelta(hours=1), refusals=3)
    _, jobs, _, _ = _run([BatchRefused("queue full", retry_after=None)], job)
    assert jobs.waiting["job-1"][0] == T0 + timedelta(minutes=8)
    job = JobToCreate("job-1", 3, "writer", waiting_since=T0 - timedelta(hours=1), refusals=12)
    _, jobs, _, _ = _run([BatchRefused("queue full", retry_after=None)], job)
    assert jobs.waiting["job-1"][0] == T0 + timedelta(minutes=30)


def test_a_queue_full_for_too_long_gives_up_with_the_reason() -> None:
    job = JobToCreate("job-1", 3, "writer", waiting_since=T0 - timedelta(hours=25), refusals=40)
    outcome, jobs, _, _ = _run([BatchRefused("queue full", retry_after=None)], job)
    assert isinstance(outcome, GaveUp)
    assert "did not accept the batch for 24 hours" in jobs.gave_up["job-1"] and jobs.waiting == {}


def test_a_refusal_for_good_gives_up_at_once() -> None:
    outcome, jobs, batches, _ = _run([BatchRejected("400 invalid custom_id")])
    assert isinstance(outcome, GaveUp) and batches.log == ["create"]
    assert "invalid custom_id" in jobs.gave_up["job-1"]


def test_an_earlier_create_is_adopted_before_anything_is_created() -> None:
    # Given a writer that noted a create and died: its batch exists, unclaimed
    called = T0 - timedelta(minutes=30)
    mine = _batch("msgbatch_mine", called + timedelta(seconds=2), 3)
    other_size = _batch("msgbatch_size", called + timedelta(seconds=1), 4)
    too_late = _batch("msgbatch_late", called + timedelta(minutes=10), 3)
    job = JobToCreate("job-1", 3, "writer", create_calls=[called])
    outcome, _, batches, _ = _run([], job, existing=[mine, other_size, too_late])
    # Then the batch of its size made right after its create call is adopted; no create
    assert isinstance(outcome, Created) and outcome.adopted and outcome.batch.id == "msgbatch_mine"
    assert batches.log == ["list"]


def test_a_batch_another_job_claimed_is_not_adopted() -> None:
    called = T0 - timedelta(minutes=30)
    theirs = _batch("msgbatch_theirs", called + timedelta(seconds=1), 3)
    job = JobToCreate("job-1", 3, "writer", create_calls=[called])
    clock = Clock()
    jobs, batches = FakeJobs(batch_claims={"msgbatch_theirs": "job-2"}), FakeBatches(clock, ["ok"], [theirs])
    outcome = BatchCreation(jobs, batches, clock, CreationPolicy(), lambda _: None).run(job, REQUESTS)  # type: ignore[arg-type]
    assert isinstance(outcome, Created) and not outcome.adopted and outcome.batch.id != "msgbatch_theirs"
    assert batches.log == ["list", "create"] and jobs.batch_claims["msgbatch_theirs"] == "job-2"


def test_a_just_created_batch_taken_by_another_job_is_claimed_back() -> None:
    clock = Clock()
    jobs, batches = FakeJobs(batch_claims={"msgbatch_0": "job-2"}), FakeBatches(clock, ["ok"])
    outcome = BatchCreation(jobs, batches, clock, CreationPolicy(), lambda _: None).run(  # type: ignore[arg-type]
        JobToCreate("job-1", 3, "writer"), REQUESTS
    )
    assert isinstance(outcome, Created) and jobs.batch_claims["msgbatch_0"] == "job-1"


def test_requests_are_read_only_when_a_create_is_needed() -> None:
    called = T0 - timedelta(minutes=5)
    mine = _batch("msgbatch_mine", called + timedelta(seconds=1), 3)
    clock = Clock()
    jobs, batches = FakeJobs(), FakeBatches(clock, [], [mine])

    def unreadable() -> list[dict[str, Any]]:
        raise AssertionError("the requests were read although the batch was found")

    outcome = BatchCreation(jobs, batches, clock, CreationPolicy(), lambda _: None).run(  # type: ignore[arg-type]
        JobToCreate("job-1", 3, "writer", create_calls=[called]), unreadable
    )
    assert isinstance(outcome, Created) and outcome.adopted


def test_a_writer_that_lost_its_lease_never_calls_create() -> None:
    # Given a writer that slept past its lease while another (Poll) took the creation over
    clock = Clock()
    jobs, batches = FakeJobs(owner="poll"), FakeBatches(clock, ["ok"])
    outcome = BatchCreation(jobs, batches, clock, CreationPolicy(), lambda _: None).run(  # type: ignore[arg-type]
        JobToCreate("job-1", 3, "writer"), REQUESTS
    )
    # Then it leaves the creation to the new owner: no create, nothing recorded
    assert isinstance(outcome, Uncertain) and batches.log == []
    assert jobs.submitted == {} and jobs.waiting == {}


def test_the_create_timeout_is_the_sdk_clients() -> None:
    # A create's answer counts as lost after CREATE_TIMEOUT: the SDK client gives up just then.
    from batchdrop.adapters.anthropic_backend import SDK_TIMEOUT_SECONDS
    from batchdrop.usecases.batch_creation import CREATE_TIMEOUT

    assert CREATE_TIMEOUT.total_seconds() == SDK_TIMEOUT_SECONDS
