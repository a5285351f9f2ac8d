"""Poll writes a running job's progress only when its batch moved: a tick over batches that did
not change makes no write. Fakes of the jobs store, the batch API and the event bus count what
Poll does; no moto, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from batchdrop.adapters.anthropic_backend import BatchInfo
from batchdrop.adapters.dynamodb_jobs import ENDED, ENDING, SUBMITTED, JobRecord, iso
from batchdrop.usecases.poll import PollReport, poll_open_jobs, progress_changed

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
COUNTS = {"processing": 3, "succeeded": 1, "errored": 0, "canceled": 0, "expired": 0}


def _batch(batch_id: str, status: str = "in_progress", **counts: int) -> BatchInfo:
    return BatchInfo(batch_id, status, {**COUNTS, **counts}, iso(NOW), "2026-12-02T12:00:00Z", None)


@dataclass
class Jobs:
    """The jobs store as Poll uses it; every write is recorded, by method and job."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    writes: list[tuple[str, str]] = field(default_factory=list)

    def add(self, job_id: str, **attributes: Any) -> None:
        self.items[job_id] = {
            "job_id": job_id,
            "status": SUBMITTED,
            "batch_id": f"batch-{job_id}",
            "manifest_key": f"jobs/{job_id}/manifest.jsonl",
            "created_at": iso(NOW),
            "updated_at": iso(NOW),
            "processing_status": "in_progress",  # as record_submitted leaves it: no counts yet
            **attributes,
        }

    def open_jobs(self) -> list[JobRecord]:
        return [JobRecord.from_attributes(dict(i)) for i in self.items.values()]

    def update_progress(
        self, job_id: str, processing_status: str, request_counts: dict[str, int], now: datetime
    ) -> bool:
        self.writes.append(("update_progress", job_id))
        self.items[job_id].update(
            processing_status=processing_status, request_counts=dict(request_counts), polled_at=iso(now)
        )
        return True

    def claim_ended(self, job_id: str, now: datetime, lease: Any) -> bool:
        self.writes.append(("claim_ended", job_id))
        if self.items[job_id]["status"] != SUBMITTED:
            return False
        self.items[job_id]["status"] = ENDING
        return True

    def mark_ended(self, job_id: str, now: datetime) -> bool:
        self.writes.append(("mark_ended", job_id))
        self.items[job_id].update(status=ENDED, ended_at=iso(now), updated_at=iso(now))
        return True

    def claim_redrive(self, job_id: str, now: datetime, every: timedelta) -> bool:
        self.writes.append(("claim_redrive", job_id))  # a conditional write, whether it holds or not
        item = self.items[job_id]
        stale = iso(now - every)
        return bool(item["updated_at"] < stale and item.get("redriven_at", "") < stale)


@dataclass
class Batches:
    """The batch API: each batch as it stands now."""

    current: dict[str, BatchInfo] = field(default_factory=dict)
    retrieved: int = 0

    def retrieve(self, batch_id: str) -> BatchInfo:
        self.retrieved += 1
        return self.current[batch_id]


@dataclass
class Events:
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def emit(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.sent.append((detail_type, detail))


def _tick(jobs: Jobs, batches: Batches, events: Events) -> PollReport:
    store: Any = jobs  # the fakes stand in for JobStore, MessageBatches and JobEvents
    client: Any = batches
    bus: Any = events
    return poll_open_jobs(store, lambda: client, bus, lambda: NOW, concurrency=1)


def _running(n: int) -> tuple[Jobs, Batches]:
    jobs, batches = Jobs(), Batches()
    for i in range(n):
        jobs.add(f"job-{i}")
        batches.current[f"batch-job-{i}"] = _batch(f"batch-job-{i}")
    return jobs, batches


# --- the comparison ---------------------------------------------------------------------------


def _record(attributes: dict[str, Any]) -> JobRecord:
    return JobRecord.from_attributes(
        {"job_id": "j", "status": SUBMITTED, "manifest_key": "m", "created_at": iso(NOW), **attributes}
    )


def test_progress_as_stored_is_unchanged() -> None:
    item = {"processing_status": "in_progress", "request_counts": dict(COUNTS)}
    assert not progress_changed(_record(item), _batch("b"))


def test_a_moved_count_is_a_change() -> None:
    item = {"processing_status": "in_progress", "request_counts": dict(COUNTS)}
    assert progress_changed(_record(item), _batch("b", processing=2, succeeded=2))


def test_a_new_processing_status_is_a_change() -> None:
    # a cancel was sent: the counts have not moved yet, the status has
    item = {"processing_status": "in_progress", "request_counts": dict(COUNTS)}
    assert progress_changed(_record(item), _batch("b", status="canceling"))


def test_a_record_without_counts_has_changed() -> None:
    # just recorded as submitted: status in_progress, no counts yet
    assert progress_changed(_record({"processing_status": "in_progress"}), _batch("b"))
    assert progress_changed(_record({}), _batch("b"))


def test_a_count_the_record_lacks_is_a_change() -> None:
    stored = {k: v for k, v in COUNTS.items() if k != "expired"}
    assert progress_changed(
        _record({"processing_status": "in_progress", "request_counts": stored}), _batch("b")
    )


# --- what a tick writes -----------------------------------------------------------------------


def test_a_tick_over_unchanged_batches_writes_nothing() -> None:
    # Given 5 running jobs whose progress the first tick stored
    jobs, batches = _running(5)
    first = _tick(jobs, batches, Events())
    assert (first.in_progress, first.progress_written, len(jobs.writes)) == (5, 5, 5)
    jobs.writes.clear()
    # When the next tick finds every batch as it was
    second = _tick(jobs, batches, Events())
    # Then it retrieved them all, counts them as running, and wrote nothing
    assert batches.retrieved == 10
    assert (second.open_jobs, second.in_progress, second.progress_written) == (5, 5, 0)
    assert jobs.writes == []


def test_only_the_batch_that_moved_is_written() -> None:
    jobs, batches = _running(3)
    _tick(jobs, batches, Events())
    jobs.writes.clear()
    batches.current["batch-job-1"] = _batch("batch-job-1", processing=1, succeeded=3)
    report = _tick(jobs, batches, Events())
    assert jobs.writes == [("update_progress", "job-1")]
    assert report.progress_written == 1 and report.in_progress == 3
    assert jobs.items["job-1"]["request_counts"]["succeeded"] == 3


def test_an_ended_batch_is_announced_once_whatever_its_stored_progress() -> None:
    # Given a running job whose progress is stored, and whose batch then ends
    jobs, batches = _running(1)
    _tick(jobs, batches, Events())
    jobs.writes.clear()
    batches.current["batch-job-0"] = _batch("batch-job-0", status="ended", processing=0, succeeded=4)
    events = Events()
    # When two ticks run
    first = _tick(jobs, batches, events)
    second = _tick(jobs, batches, events)
    # Then one "Batch Ended" went out, with the final counts, and no progress was written for it
    # (the second tick only asks whether the ended job needs announcing again: not yet)
    assert [(kind, detail["job_id"]) for kind, detail in events.sent] == [("Batch Ended", "job-0")]
    assert events.sent[0][1]["request_counts"]["succeeded"] == 4
    assert (first.ended, second.ended, second.redriven) == (["job-0"], [], [])
    assert jobs.writes == [("claim_ended", "job-0"), ("mark_ended", "job-0"), ("claim_redrive", "job-0")]
