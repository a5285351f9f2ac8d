"""Poll: watch the open jobs' batches and announce each ended batch exactly once.

Every job not yet completed is in the open index, so one Query per tick sees all of them:
running batches get their counts stored; ended ones are announced once; a job stuck in
``submitting`` (its Submit died around creating the batch) is reconciled; jobs past their
batch's expiry or ended but not collected for too long are counted for the alarms.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from batchdrop.anthropic_batches import BatchInfo, MessageBatches
from batchdrop.aws.jobs_table import COMPLETING, ENDED, SUBMITTING, JobRecord, JobStore
from batchdrop.aws.messaging import BATCH_ENDED, JobEvents
from batchdrop.observability import logger

# A poller that claimed "Batch Ended" but died before sending it is replaced after this long.
ENDING_LEASE = timedelta(minutes=5)
# Submit runs at most 15 minutes: a job still `submitting` after this long lost its Submit.
SUBMIT_GRACE = timedelta(minutes=20)
# Batches retrieved at once by a tick (the SDK's client is thread-safe).
RETRIEVE_CONCURRENCY = 16
# How far a batch's creation may lie from its job's intent to be that job's batch.
ADOPTION_WINDOW = timedelta(minutes=15)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class PollReport:
    open_jobs: int = 0
    ended: list[str] = field(default_factory=list)
    in_progress: int = 0
    adopted: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    overdue: int = 0
    uncollected: int = 0
    redriven: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "open_jobs": self.open_jobs,
            "ended": self.ended,
            "in_progress": self.in_progress,
            "adopted": self.adopted,
            "abandoned": self.abandoned,
            "overdue": self.overdue,
            "uncollected": self.uncollected,
            "redriven": self.redriven,
        }


@dataclass(frozen=True)
class PollPolicy:
    submit_grace: timedelta = SUBMIT_GRACE
    uncollected_after: timedelta = timedelta(hours=24)
    # Longer than Complete's lease (20 min): a job still not completed by then is re-announced.
    redrive_after: timedelta = timedelta(minutes=30)


def poll_open_jobs(
    jobs: JobStore,
    batches: Callable[[], MessageBatches],
    events: JobEvents,
    now: Callable[[], datetime],
    policy: PollPolicy | None = None,
    concurrency: int = RETRIEVE_CONCURRENCY,
) -> PollReport:
    """One tick of the schedule. With no open job this is a single Query and nothing else.

    ``batches`` is a factory so that the Anthropic SDK is only loaded when there is work. The
    running batches are retrieved ``concurrency`` at a time: a tick over 1,000 open jobs waits
    for the API's latency 1,000 / ``concurrency`` times, not 1,000.
    """
    policy = policy or PollPolicy()
    report = PollReport()
    running: list[JobRecord] = []
    for job in jobs.open_jobs():
        report.open_jobs += 1
        if job.status in (ENDED, COMPLETING):
            ended_at = job.item.get("ended_at") or job.item["updated_at"]
            if now() - parse_time(str(ended_at)) > policy.uncollected_after:
                report.uncollected += 1
            # Its "Batch Ended" was lost (dead-lettered) or its Complete died: announce it again.
            if job.batch_id and jobs.claim_redrive(job.job_id, now(), policy.redrive_after):
                events.emit(BATCH_ENDED, {"job_id": job.job_id, "batch_id": job.batch_id, "redrive": True})
                report.redriven.append(job.job_id)
            continue
        if job.batch_id is None:
            if job.status == SUBMITTING and now() - parse_time(job.created_at) > policy.submit_grace:
                _reconcile(job, jobs, batches(), now, report)
            continue
        expires_at = job.item.get("batch_expires_at")
        if expires_at and parse_time(str(expires_at)) < now():
            report.overdue += 1
        running.append(job)
    if not running:
        return report
    for job, batch in zip(running, _retrieve_all(batches(), running, concurrency), strict=True):
        assert job.batch_id is not None
        if job.item.get("cancel_requested_at") and batch.processing_status == "in_progress":
            batches().cancel(job.batch_id)  # requested before the batch existed (or was adopted)
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


def _retrieve_all(client: MessageBatches, running: list[JobRecord], concurrency: int) -> list[BatchInfo]:
    """Each job's batch, in order; the first alone (it builds the client), the rest in parallel."""
    ids = [str(job.batch_id) for job in running]
    first = client.retrieve(ids[0])
    if len(ids) == 1 or concurrency <= 1:
        return [first, *(client.retrieve(batch_id) for batch_id in ids[1:])]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(ids) - 1), thread_name_prefix="poll") as pool:
        return [first, *pool.map(client.retrieve, ids[1:])]


def _reconcile(
    job: JobRecord, jobs: JobStore, batches: MessageBatches, now: Callable[[], datetime], report: PollReport
) -> None:
    """Find the batch a dead Submit created for this job, or declare that it never did.

    The API takes no idempotency key, so the batch is recognised by its creation time (within
    ADOPTION_WINDOW after the job's intent) and its number of requests, among batches no job
    has recorded. Adopted, the job goes on as if Submit had finished; abandoned, its document
    claims are released to the redelivered notifications, which submit them again.
    """
    intent = parse_time(job.created_at)
    expected = int(job.item.get("requests", -1))
    candidates = [
        batch
        for batch in batches.created_since(intent - timedelta(minutes=1))
        if parse_time(batch.created_at) <= intent + ADOPTION_WINDOW and batch.requests == expected
    ]
    for batch in sorted(candidates, key=lambda b: b.created_at):
        if jobs.claim_batch(batch.id, job.job_id, now()):
            jobs.record_submitted(job.job_id, batch.id, batch.expires_at, batch.created_at, now())
            report.adopted.append(job.job_id)
            logger.warning(
                "adopted the batch of a job whose Submit died",
                extra={"job_id": job.job_id, "batch_id": batch.id},
            )
            return
    if jobs.abandon(job.job_id, now(), "Submit died before the batch was created"):
        report.abandoned.append(job.job_id)
        logger.warning("abandoned a job whose batch was never created", extra={"job_id": job.job_id})
