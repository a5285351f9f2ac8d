"""Watching the running batches: each retrieved (in parallel), its progress stored only when it
moved, its end announced."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from batchdrop.domain.job import JobRecord
from batchdrop.ports.batches import BatchBackend, BatchInfo
from batchdrop.ports.jobs import JobsStore
from batchdrop.ports.messages import EventBus
from batchdrop.ports.runtime import Clock, CrashHook
from batchdrop.usecases.poll.announce import announce_ended
from batchdrop.usecases.poll.policy import PollReport


def watch(
    job: JobRecord,
    batch: BatchInfo,
    jobs: JobsStore,
    batches: Callable[[], BatchBackend],
    events: EventBus,
    now: Clock,
    ending_lease: timedelta,
    report: PollReport,
    crash: CrashHook,
) -> None:
    """A running job's batch as retrieved: its progress stored, or its end announced."""
    assert job.batch_id is not None
    if job.cancel_requested_at and batch.processing_status == "in_progress":
        batches().cancel(job.batch_id)  # requested before the batch existed (or was adopted)
    if not batch.ended:
        if progress_changed(job, batch):
            jobs.update_progress(job.job_id, batch.processing_status, batch.request_counts, now())
            report.progress_written += 1
        report.in_progress += 1
        return
    announce_ended(job, jobs, events, now, report, batch, ending_lease, crash)


def progress_changed(job: JobRecord, batch: BatchInfo) -> bool:
    """Whether a running batch moved since its job record last stored its progress: its
    processing status or any of its request counts differ (a record with no counts yet, just
    after its batch was recorded, has moved). Unchanged progress is not written again."""
    return job.processing_status != batch.processing_status or job.request_counts != batch.request_counts


def retrieve_all(
    client: BatchBackend, running: list[JobRecord], concurrency: int
) -> list[BatchInfo | Exception]:
    """Each job's batch, in order, or why it could not be retrieved; the first alone (it builds
    the client), the rest in parallel."""

    def retrieve(batch_id: str) -> BatchInfo | Exception:
        try:
            return client.retrieve(batch_id)
        except Exception as exc:
            return exc

    ids = [str(job.batch_id) for job in running]
    first = retrieve(ids[0])
    if len(ids) == 1 or concurrency <= 1:
        return [first, *(retrieve(batch_id) for batch_id in ids[1:])]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(ids) - 1), thread_name_prefix="poll") as pool:
        return [first, *pool.map(retrieve, ids[1:])]
