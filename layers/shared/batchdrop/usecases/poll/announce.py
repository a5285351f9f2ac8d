"""Announcing "Batch Ended" on the job event bus: once per ended batch, and again for a job
nobody completed.

Once means: claim the announcement (``claim_ended``, one poller wins), send it, mark the job
ended. An announcement that could not be sent gives its claim back for the next tick. A
poller that dies after sending but before marking leaves a claim that goes stale after the
ending lease; the next poller then retakes it and sends again, so Complete (which claims the
job once) sees the event at least once, and a duplicate only after such a death.
"""

from __future__ import annotations

from datetime import timedelta

from batchdrop.domain.job import JobRecord
from batchdrop.observability import logger
from batchdrop.ports.batches import BatchInfo
from batchdrop.ports.jobs import JobsStore
from batchdrop.ports.messages import BATCH_ENDED, EventBus
from batchdrop.ports.runtime import Clock, CrashHook
from batchdrop.usecases.poll.policy import PollReport


def announce_ended(
    job: JobRecord,
    jobs: JobsStore,
    events: EventBus,
    now: Clock,
    report: PollReport,
    batch: BatchInfo | None,
    lease: timedelta,
    crash: CrashHook,
) -> None:
    """Announce "Batch Ended" once: claim the announcement, send it, mark the job ended. An
    announcement that could not be sent gives its claim back, for the next tick to retry.
    ``batch`` None: no batch was made for the job (its ``end_reason`` says why)."""
    if not jobs.claim_ended(job.job_id, now(), lease):
        return
    crash("poll:after-claim-ended")
    detail: dict[str, object] = {"job_id": job.job_id, "batch_id": batch.id if batch else None}
    if batch is not None:
        detail["request_counts"] = batch.request_counts
    else:
        detail["end_reason"] = job.end_reason
    try:
        events.emit(BATCH_ENDED, detail)
    except Exception:
        jobs.release_ended(job.job_id, now())
        raise
    crash("poll:after-emit")
    jobs.mark_ended(job.job_id, now())
    report.ended.append(job.job_id)
    logger.info("batch ended", extra={"job_id": job.job_id, "batch_id": detail["batch_id"]})


def redrive_announcement(
    job: JobRecord, jobs: JobsStore, events: EventBus, now: Clock, every: timedelta, report: PollReport
) -> None:
    """Announce "Batch Ended" again for a job ended (or being completed) but not completed for
    ``every``: its event was lost (dead-lettered) or its Complete died. One poller wins."""
    if jobs.claim_redrive(job.job_id, now(), every):
        events.emit(BATCH_ENDED, {"job_id": job.job_id, "batch_id": job.batch_id, "redrive": True})
        report.redriven.append(job.job_id)
