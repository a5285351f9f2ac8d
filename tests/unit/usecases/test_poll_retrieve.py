"""Poll retrieves the running batches concurrently and keeps each with its job."""

from __future__ import annotations

import threading
from typing import Any

from batchdrop.domain.job import JobRecord
from batchdrop.domain.lifecycle import JobState
from batchdrop.ports.batches import BatchInfo
from batchdrop.usecases.poll.watch import retrieve_all


def _job(i: int) -> JobRecord:
    return JobRecord(
        job_id=f"job-{i}",
        status=JobState.SUBMITTED,
        batch_id=f"batch-{i}",
        manifest_key="jobs/x/manifest.jsonl",
        created_at="2026-11-25T00:00:00Z",
    )


class Batches:
    """Retrieves that only return once ``together`` of them are in flight at the same time."""

    def __init__(self, together: int) -> None:
        self.first_done = False
        # The timeout only bounds a broken run (calls one at a time); a loaded machine may take
        # seconds to start the threads of a working one.
        self._barrier = threading.Barrier(together, timeout=60)

    def retrieve(self, batch_id: str) -> BatchInfo:
        if self.first_done:
            self._barrier.wait()  # raises BrokenBarrierError if the calls came one at a time
        self.first_done = True
        return BatchInfo(batch_id, "in_progress", {"processing": 1}, "", "", None)


def test_batches_are_retrieved_together_and_kept_in_order() -> None:
    running = [_job(i) for i in range(9)]  # the first alone, then 8 in two rounds of 4
    client: Any = Batches(together=4)
    batches = retrieve_all(client, running, concurrency=4)
    assert all(isinstance(b, BatchInfo) for b in batches), batches
    assert [b.id for b in batches if isinstance(b, BatchInfo)] == [f"batch-{i}" for i in range(9)]


def test_one_at_a_time_when_asked() -> None:
    client: Any = Batches(together=1)
    batches = retrieve_all(client, [_job(1), _job(2)], concurrency=1)
    assert [b.id for b in batches if isinstance(b, BatchInfo)] == ["batch-1", "batch-2"]


def test_a_batch_that_cannot_be_retrieved_is_its_own_failure() -> None:
    # Given a batch the API no longer has (deleted), among others
    class Gone:
        def retrieve(self, batch_id: str) -> BatchInfo:
            if batch_id == "batch-1":
                raise LookupError("404: no such batch")
            return BatchInfo(batch_id, "in_progress", {"processing": 1}, "", "", None)

    client: Any = Gone()
    batches = retrieve_all(client, [_job(0), _job(1), _job(2)], concurrency=2)
    # Then that job alone has the error; the others are retrieved
    assert isinstance(batches[1], LookupError)
    assert [b.id for b in batches if isinstance(b, BatchInfo)] == ["batch-0", "batch-2"]
