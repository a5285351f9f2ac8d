"""One Poll tick: a Query of the open jobs, then each job's turn by its state."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from batchdrop.domain.job import JobRecord
from batchdrop.domain.lifecycle import COMPLETING, ENDED, ENDING, SUBMITTED, SUBMITTING
from batchdrop.domain.times import parse_time
from batchdrop.observability import logger
from batchdrop.ports.batches import BatchBackend
from batchdrop.ports.bucket import Bucket
from batchdrop.ports.messages import EventBus
from batchdrop.ports.runtime import Clock, CrashHook, no_crash
from batchdrop.usecases.poll.announce import announce_ended, redrive_announcement
from batchdrop.usecases.poll.policy import PollJobs, PollPolicy, PollReport
from batchdrop.usecases.poll.reconcile import creation_lease_over, redrive_creation
from batchdrop.usecases.poll.watch import retrieve_all, watch

# Batches retrieved at once by a tick (the SDK's client is thread-safe).
RETRIEVE_CONCURRENCY = 16


def poll_open_jobs(
    jobs: PollJobs,
    batches: Callable[[], BatchBackend],
    events: EventBus,
    now: Clock,
    policy: PollPolicy | None = None,
    concurrency: int = RETRIEVE_CONCURRENCY,
    store: Bucket | None = None,
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
                each(job, partial(redrive_announcement, job, jobs, events, now, policy.redrive_after, report))
            continue
        if job.batch_id is None:
            if job.status == SUBMITTING and creation_lease_over(job, now(), policy):
                each(job, partial(redrive_creation, job, jobs, batches(), store, now, policy, report, crash))
            elif job.status in (SUBMITTED, ENDING) and unbatched_end:
                each(
                    job,
                    partial(announce_ended, job, jobs, events, now, report, None, policy.ending_lease, crash),
                )
            continue
        expires_at = job.batch_expires_at
        if expires_at and parse_time(str(expires_at)) < now():
            report.overdue += 1
        running.append(job)
    if running:
        for job, batch in zip(running, retrieve_all(batches(), running, concurrency), strict=True):
            if isinstance(batch, Exception):
                logger.error(
                    "a job's batch could not be retrieved", extra={"job_id": job.job_id, "error": str(batch)}
                )
                failures.append(batch)
                continue
            each(
                job,
                partial(watch, job, batch, jobs, batches, events, now, policy.ending_lease, report, crash),
            )
    if failures:
        raise failures[0]  # after every other job had its turn: the alarm still sees the error
    return report
