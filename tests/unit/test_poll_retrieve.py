"""Poll retrieves the running batches concurrently and keeps each with its job."""

from __future__ import annotations

import threading
from typing import Any

from batchdrop.anthropic_batches import BatchInfo
from batchdrop.aws.jobs_table import JobRecord
from batchdrop.poll import _retrieve_all


def _job(i: int) -> JobRecord:
    return JobRecord(
        f"job-{i}", "submitted", f"batch-{i}", "jobs/x/manifest.jsonl", "2026-11-25T00:00:00Z", {}
    )


class Batches:
    """Retrieves that only return once ``together`` of them are in flight at the same time."""

    def __init__(self, together: int) -> None:
        self.first_done = False
        self._barrier = threading.Barrier(together, timeout=10)

    def retrieve(self, batch_id: str) -> BatchInfo:
        if self.first_done:
            self._barrier.wait()  # raises BrokenBarrierError if the calls came one at a time
        self.first_done = True
        return BatchInfo(batch_id, "in_progress", {"processing": 1}, "", "", None)


def test_batches_are_retrieved_together_and_kept_in_order() -> None:
    running = [_job(i) for i in range(9)]  # the first alone, then 8 in two rounds of 4
    client: Any = Batches(together=4)
    batches = _retrieve_all(client, running, concurrency=4)
    assert [b.id for b in batches] == [f"batch-{i}" for i in range(9)]


def test_one_at_a_time_when_asked() -> None:
    client: Any = Batches(together=1)
    assert [b.id for b in _retrieve_all(client, [_job(1), _job(2)], concurrency=1)] == ["batch-1", "batch-2"]
