"""Poll over the jobs table in moto: progress read back through the open-jobs index (numbers as
DynamoDB returns them) compares equal to the batch's, so a tick over batches that did not move
sends no UpdateItem. The writes are counted on the DynamoDB client, not timed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from batchdrop.adapters.anthropic_backend import BatchInfo
from batchdrop.adapters.dynamodb_jobs import JobStore
from batchdrop.usecases.poll import PollReport, poll_open_jobs
from tests.integration.harness import Stack

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
JOBS = 4


@dataclass
class Batches:
    current: dict[str, BatchInfo] = field(default_factory=dict)

    def retrieve(self, batch_id: str) -> BatchInfo:
        return self.current[batch_id]


class Events:
    def emit(self, detail_type: str, detail: dict[str, Any]) -> None:
        raise AssertionError(f"no batch ended, yet {detail_type} was sent for {detail}")


def _batch(batch_id: str, processing: int, succeeded: int = 0) -> BatchInfo:
    counts = {"processing": processing, "succeeded": succeeded, "errored": 0, "canceled": 0, "expired": 0}
    return BatchInfo(batch_id, "in_progress", counts, "2026-12-01T12:00:00Z", "2026-12-02T12:00:00Z", None)


def test_a_tick_over_unchanged_batches_sends_no_update(stack: Stack) -> None:
    table = stack.table
    updates: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        key = params["Key"]["job_id"]  # as the table's caller gave it, or already typed
        updates.append(key["S"] if isinstance(key, dict) else key)

    table.meta.client.meta.events.register("provide-client-params.dynamodb.UpdateItem", count)
    jobs = JobStore(table)
    batches = Batches()
    for i in range(JOBS):
        job_id = f"job-{i}"
        jobs.record_intent(job_id, f"jobs/{job_id}/manifest.jsonl", NOW, timedelta(minutes=20), requests=3)
        assert jobs.record_submitted(
            job_id, f"batch-{i}", "2026-12-02T12:00:00Z", "2026-12-01T12:00:00Z", NOW
        )
        batches.current[f"batch-{i}"] = _batch(f"batch-{i}", processing=3)
    events: Any = Events()
    client: Any = batches

    def tick(minutes: int) -> PollReport:
        updates.clear()
        return poll_open_jobs(jobs, lambda: client, events, lambda: NOW + timedelta(minutes=minutes))

    # The first tick stores every batch's counts (record_submitted left none)
    first = tick(1)
    assert (first.in_progress, first.progress_written, sorted(updates)) == (
        JOBS,
        JOBS,
        [f"job-{i}" for i in range(JOBS)],
    )
    # The next finds them as stored: no write at all
    second = tick(2)
    assert (second.in_progress, second.progress_written, updates) == (JOBS, 0, [])
    # One batch moves: that job alone is written, and its record holds the new counts
    batches.current["batch-2"] = _batch("batch-2", processing=1, succeeded=2)
    third = tick(3)
    assert (third.progress_written, updates) == (1, ["job-2"])
    stored = jobs.get("job-2")
    assert stored is not None
    assert stored.request_counts["succeeded"] == 2 and stored.polled_at == "2026-12-01T12:03:00Z"
    assert jobs.get("job-0").polled_at == "2026-12-01T12:01:00Z"  # type: ignore[union-attr]
