"""Poll: watch the open jobs' batches and announce each ended batch exactly once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from batchdrop.anthropic_batches import MessageBatches
from batchdrop.aws.jobs_table import JobStore
from batchdrop.aws.messaging import BATCH_ENDED, JobEvents
from batchdrop.observability import logger

# A poller that claimed "Batch Ended" but died before sending it is replaced after this long.
ENDING_LEASE = timedelta(minutes=5)


@dataclass
class PollReport:
    open_jobs: int = 0
    ended: list[str] = field(default_factory=list)
    in_progress: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"open_jobs": self.open_jobs, "ended": self.ended, "in_progress": self.in_progress}


def poll_open_jobs(
    jobs: JobStore,
    batches: Callable[[], MessageBatches],
    events: JobEvents,
    now: Callable[[], datetime],
) -> PollReport:
    """One tick of the schedule. With no open job this is a single Query and nothing else.

    ``batches`` is a factory so that the Anthropic SDK is only loaded when there is work.
    """
    report = PollReport()
    for job in jobs.open_jobs():
        report.open_jobs += 1
        if job.batch_id is None:
            continue  # intent recorded, batch not confirmed: Submit is still at it or will retry
        batch = batches().retrieve(job.batch_id)
        if not batch.ended:
            jobs.update_progress(job.job_id, batch.processing_status, batch.request_counts, now())
            report.in_progress += 1
            continue
        if jobs.claim_ended(job.job_id, now(), ENDING_LEASE):
            events.emit(
                BATCH_ENDED,
                {"job_id": job.job_id, "batch_id": batch.id, "request_counts": batch.request_counts},
            )
            jobs.mark_ended(job.job_id, now())
            report.ended.append(job.job_id)
            logger.info("batch ended", extra={"job_id": job.job_id, "batch_id": batch.id})
    return report
