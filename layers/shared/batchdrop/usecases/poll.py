"""Poll: watch the open jobs' batches and announce each ended batch exactly once.

Every job not yet completed is in the open index, so one Query per tick sees all of them:
running batches get their progress stored when it moved (a tick over unchanged batches
writes nothing); ended ones are announced once; a job still
``submitting`` whose creation lease ran out (its writer died around creating the batch, or it
waits for the batch queue to drain) has its batch found or created here; jobs past their
batch's expiry or ended but not collected for too long are counted for the alarms.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from batchdrop.adapters.anthropic_backend import BatchInfo, MessageBatches
from batchdrop.adapters.dynamodb_jobs import (
    COMPLETING,
    ENDED,
    ENDING,
    SUBMITTED,
    SUBMITTING,
    JobRecord,
    JobStore,
)
from batchdrop.adapters.messaging import BATCH_ENDED, JobEvents
from batchdrop.adapters.s3_bucket import DocumentStore
from batchdrop.domain.keys import requests_key
from batchdrop.observability import logger
from batchdrop.ports.runtime import CrashHook, no_crash
from batchdrop.usecases.batch_creation import (
    CREATE_SPAN,
    BatchCreation,
    Created,
    CreationPolicy,
    GaveUp,
    JobToCreate,
    Waiting,
    new_owner,
    requests_from_lines,
)

# A poller that claimed "Batch Ended" but died before sending it is replaced after this long.
ENDING_LEASE = timedelta(minutes=5)
# Submit runs at most 15 minutes: a job still `submitting` after this long lost its Submit.
SUBMIT_GRACE = timedelta(minutes=20)
# Batches retrieved at once by a tick (the SDK's client is thread-safe).
RETRIEVE_CONCURRENCY = 16


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class PollReport:
    open_jobs: int = 0
    ended: list[str] = field(default_factory=list)
    in_progress: int = 0
    progress_written: int = 0  # running jobs whose progress moved, so was written
    adopted: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    overdue: int = 0
    uncollected: int = 0
    redriven: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # batches Poll created for stuck jobs
    waiting: list[str] = field(default_factory=list)  # jobs waiting for batch queue capacity
    gave_up: list[str] = field(default_factory=list)  # jobs no batch will be made for

    def as_dict(self) -> dict[str, object]:
        return {
            "open_jobs": self.open_jobs,
            "ended": self.ended,
            "in_progress": self.in_progress,
            "progress_written": self.progress_written,
            "adopted": self.adopted,
            "abandoned": self.abandoned,
            "overdue": self.overdue,
            "uncollected": self.uncollected,
            "redriven": self.redriven,
            "created": self.created,
            "waiting": self.waiting,
            "gave_up": self.gave_up,
        }


@dataclass(frozen=True)
class PollPolicy:
    submit_grace: timedelta = SUBMIT_GRACE
    uncollected_after: timedelta = timedelta(hours=24)
    # Longer than Complete's lease (20 min): a job still not completed by then is re-announced.
    redrive_after: timedelta = timedelta(minutes=30)
    # Documents wait this long for the batch queue to drain before they get an .error.json,
    # tried again after this long at first (doubling up to 30 minutes).
    queue_wait_max: timedelta = timedelta(hours=24)
    queue_retry_first: timedelta = timedelta(minutes=1)
    create_span: timedelta = CREATE_SPAN
    # A poller that claimed "Batch Ended" but died before sending it is replaced after this long.
    ending_lease: timedelta = ENDING_LEASE

    def creation(self) -> CreationPolicy:
        return CreationPolicy(
            lease=self.submit_grace,
            queue_wait_max=self.queue_wait_max,
            first_backoff=self.queue_retry_first,
            create_span=self.create_span,
        )


def poll_open_jobs(
    jobs: JobStore,
    batches: Callable[[], MessageBatches],
    events: JobEvents,
    now: Callable[[], datetime],
    policy: PollPolicy | None = None,
    concurrency: int = RETRIEVE_CONCURRENCY,
    store: DocumentStore | None = None,
    crash: CrashHook = no_crash,
) -> PollReport:
    """One tick of the schedule. With no open job this is a single Query and nothing else.

    ``batches`` is a factory so that the Anthropic SDK is only loaded when there is work. The
    running batches are retrieved ``concurrency`` at a time: a tick over 1,000 open jobs waits
    for the API's latency 1,000 / ``concurrency`` times, not 1,000.
    """
    policy = policy or PollPolicy()
    report = PollReport()
    running: list[JobRecord] = []
    failures: list[Exception] = []

    def each(job: JobRecord, step: Callable[[], None]) -> None:
        """One job's work; a job that fails does not stop the others (the tick fails at the end)."""
        try:
            step()
        except Exception as exc:
            logger.exception("a job could not be polled", extra={"job_id": job.job_id})
            failures.append(exc)

    for job in jobs.open_jobs():
        report.open_jobs += 1
        # A job no batch was made for (end_reason) is announced, and re-announced, like any.
        unbatched_end = job.batch_id is None and bool(job.end_reason)
        if job.status in (ENDED, COMPLETING):
            ended_at = job.ended_at or job.updated_at
            if now() - parse_time(str(ended_at)) > policy.uncollected_after:
                report.uncollected += 1
            # Its "Batch Ended" was lost (dead-lettered) or its Complete died: announce it again.
            if job.batch_id or unbatched_end:
                each(job, partial(_redrive_announcement, job, jobs, events, now, policy, report))
            continue
        if job.batch_id is None:
            if job.status == SUBMITTING and _creation_lease_over(job, now(), policy):
                each(job, partial(_redrive_creation, job, jobs, batches(), store, now, policy, report, crash))
            elif job.status in (SUBMITTED, ENDING) and unbatched_end:
                each(
                    job,
                    partial(
                        _announce_ended, job, jobs, events, now, report, None, policy.ending_lease, crash
                    ),
                )
            continue
        expires_at = job.batch_expires_at
        if expires_at and parse_time(str(expires_at)) < now():
            report.overdue += 1
        running.append(job)
    if running:
        for job, batch in zip(running, _retrieve_all(batches(), running, concurrency), strict=True):
            if isinstance(batch, Exception):
                logger.error(
                    "a job's batch could not be retrieved", extra={"job_id": job.job_id, "error": str(batch)}
                )
                failures.append(batch)
                continue
            each(job, partial(_watch, job, batch, jobs, batches, events, now, policy, report, crash))
    if failures:
        raise failures[0]  # after every other job had its turn: the alarm still sees the error
    return report


def _redrive_announcement(
    job: JobRecord,
    jobs: JobStore,
    events: JobEvents,
    now: Callable[[], datetime],
    policy: PollPolicy,
    report: PollReport,
) -> None:
    if jobs.claim_redrive(job.job_id, now(), policy.redrive_after):
        events.emit(BATCH_ENDED, {"job_id": job.job_id, "batch_id": job.batch_id, "redrive": True})
        report.redriven.append(job.job_id)


def _watch(
    job: JobRecord,
    batch: BatchInfo,
    jobs: JobStore,
    batches: Callable[[], MessageBatches],
    events: JobEvents,
    now: Callable[[], datetime],
    policy: PollPolicy,
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
    _announce_ended(job, jobs, events, now, report, batch, policy.ending_lease, crash)


def progress_changed(job: JobRecord, batch: BatchInfo) -> bool:
    """Whether a running batch moved since its job record last stored its progress: its
    processing status or any of its request counts differ (a record with no counts yet, just
    after its batch was recorded, has moved). Unchanged progress is not written again."""
    return job.processing_status != batch.processing_status or job.request_counts != batch.request_counts


def _announce_ended(
    job: JobRecord,
    jobs: JobStore,
    events: JobEvents,
    now: Callable[[], datetime],
    report: PollReport,
    batch: BatchInfo | None,
    lease: timedelta,
    crash: CrashHook,
) -> None:
    """Announce "Batch Ended" once: claim the announcement, send it, mark the job ended. An
    announcement that could not be sent gives its claim back, for the next tick to retry."""
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


def _creation_lease_over(job: JobRecord, now: datetime, policy: PollPolicy) -> bool:
    until = job.creation_lease_until
    if until:
        return parse_time(str(until)) <= now
    return now - parse_time(job.created_at) > policy.submit_grace  # recorded before leases


def _retrieve_all(
    client: MessageBatches, running: list[JobRecord], concurrency: int
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


def _redrive_creation(
    job: JobRecord,
    jobs: JobStore,
    batches: MessageBatches,
    store: DocumentStore | None,
    now: Callable[[], datetime],
    policy: PollPolicy,
    report: PollReport,
    crash: CrashHook,
) -> None:
    """Find or create the batch of a job whose creation lease ran out: its writer (Submit, or
    Complete for a follow-up) died around the create, the answer was lost, or it waits for the
    batch queue to drain. The job's requests are in S3, so nothing depends on a redelivery.

    A job recorded without its requests (before they were written first) cannot be created
    here: it is abandoned, which frees its claims for the redelivered notifications.
    """
    owner = new_owner()
    if not jobs.claim_creation(job.job_id, now(), policy.submit_grace, owner):
        return  # another poller has it, or its writer came back
    key = requests_key(job.job_id)
    if store is None or not store.exists(key):
        if jobs.abandon(job.job_id, now(), "its Submit died before its requests were written"):
            report.abandoned.append(job.job_id)
            logger.warning("abandoned a job whose batch was never created", extra={"job_id": job.job_id})
        return
    waiting_since = job.waiting_since
    target = JobToCreate(
        job.job_id,
        job.requests,
        owner=owner,
        # Only the calls that may have made a batch: not those the API answered with a refusal.
        create_calls=[parse_time(str(t)) for t in job.create_calls if t not in set(job.settled_calls)],
        waiting_since=parse_time(str(waiting_since)) if waiting_since else None,
        refusals=job.create_refusals,
        disowned=job.disowned_batches,
    )
    outcome = BatchCreation(jobs, batches, now, policy.creation(), crash=crash).run(
        target, lambda: requests_from_lines(store.read_lines(key))
    )
    if isinstance(outcome, Created):
        (report.adopted if outcome.adopted else report.created).append(job.job_id)
    elif isinstance(outcome, Waiting):
        report.waiting.append(job.job_id)
    elif isinstance(outcome, GaveUp):
        report.gave_up.append(job.job_id)
