"""What Poll's unit tests share: the fakes of tests/fakes.py, with the jobs store's calls and the
batch API's retrieves counted, and jobs set up as Submit (or an earlier tick) leaves them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from batchdrop.domain.keys import manifest_key, requests_key
from batchdrop.ports.batches import BatchInfo
from batchdrop.ports.runtime import CrashHook, no_crash
from batchdrop.usecases.poll import PollPolicy, PollReport, poll_open_jobs
from tests.fakes import FakeBatches, FakeBucket, FakeBus, FakeClock, FakeJobs

LEASE = timedelta(minutes=20)
POLICY = PollPolicy()
REQUEST = {"custom_id": "doc-1", "params": {"model": "claude-haiku-5-5", "max_tokens": 8, "messages": []}}
# The jobs store's methods whose calls a test may want to see (every one Poll may make).
CALLED = frozenset(
    {
        "get",
        "open_jobs",
        "claim_creation",
        "abandon",
        "record_submitted",
        "update_progress",
        "claim_ended",
        "release_ended",
        "mark_ended",
        "claim_redrive",
        "note_create_call",
        "settle_create_call",
        "record_waiting",
        "give_up_creation",
        "claim_batch",
        "batch_holder",
        "mark_cancel_requested",
    }
)


class CountingJobs(FakeJobs):
    """FakeJobs that also lists every call made to it, by method and first argument, whether
    its condition held or not (a conditional write is a call to DynamoDB either way)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []
        self._inside = [False]

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if name not in CALLED:
            return value
        calls: list[tuple[str, str]] = super().__getattribute__("calls")
        inside: list[bool] = super().__getattribute__("_inside")

        def recorded(*args: Any, **kwargs: Any) -> Any:
            if inside[0]:  # the fake calling itself (open_jobs reads each record): not a call
                return value(*args, **kwargs)
            calls.append((name, str(args[0]) if args else ""))
            inside[0] = True
            try:
                result = value(*args, **kwargs)
                # open_jobs is a generator: its reads happen while the caller iterates
                return list(result) if name == "open_jobs" else result
            finally:
                inside[0] = False

        return recorded


class CountingBatches(FakeBatches):
    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.retrieved = 0

    def retrieve(self, batch_id: str) -> BatchInfo:
        self.retrieved += 1
        return super().retrieve(batch_id)

    def cancel(self, batch_id: str) -> BatchInfo | None:
        """As MessageBatches does: None when the batch had already ended (the API answers 400).
        (tests/fakes.py's FakeBatches returns the ended batch instead.)"""
        info = super().cancel(batch_id)
        return None if info is not None and info.ended else info


class World:
    """A clock, the jobs store, the batch API (counted: how often Poll made its client), the bus
    and the bucket, as one Poll tick sees them."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.jobs = CountingJobs()
        self.api = CountingBatches(self.clock)
        self.bus = FakeBus()
        self.bucket = FakeBucket()
        self.clients_made = 0

    def batches(self) -> FakeBatches:
        self.clients_made += 1
        return self.api

    def tick(self, policy: PollPolicy = POLICY, crash: CrashHook = no_crash) -> PollReport:
        return poll_open_jobs(
            self.jobs,
            self.batches,
            self.bus,
            self.clock,
            policy,
            concurrency=1,
            store=self.bucket,
            crash=crash,
        )

    def submitting(self, job_id: str, requests_written: bool = True, **attributes: Any) -> None:
        """A job as Submit records it before creating its batch (``owner`` holds the lease)."""
        self.jobs.record_intent(
            job_id, manifest_key(job_id), self.clock(), LEASE, "submit", requests=1, **attributes
        )
        if requests_written:
            self.bucket.put(requests_key(job_id), json_line(REQUEST))

    def running(self, job_id: str) -> str:
        """A job whose batch was created and recorded: its batch id."""
        self.submitting(job_id)
        batch = self.api.create([REQUEST])
        assert self.jobs.record_submitted(job_id, batch.id, batch.expires_at, batch.created_at, self.clock())
        return batch.id

    def ended(self, job_id: str) -> str:
        """A job whose batch ended and was announced: its batch id."""
        batch_id = self.running(job_id)
        self.api.end(batch_id)
        assert self.jobs.claim_ended(job_id, self.clock(), POLICY.ending_lease)
        assert self.jobs.mark_ended(job_id, self.clock())
        return batch_id

    def set_batch(self, batch_id: str, status: str = "in_progress", **counts: int) -> None:
        old = self.api.batches[batch_id]
        self.api.batches[batch_id] = BatchInfo(
            batch_id, status, {**old.request_counts, **counts}, old.created_at, old.expires_at, None
        )

    def announcements(self) -> list[tuple[str, Any]]:
        return [(kind, detail["job_id"]) for kind, detail in self.bus.events]


def json_line(value: dict[str, Any]) -> str:
    return json.dumps(value) + "\n"


def then(hook: Callable[[], None], at: str) -> CrashHook:
    """A crash hook that runs ``hook`` once when the tick reaches the point ``at`` (another
    poller's tick, racing this one there), and lets the tick go on."""
    done: list[str] = []

    def crash(point: str) -> None:
        if point == at and not done:
            done.append(point)
            hook()

    return crash
