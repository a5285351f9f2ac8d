"""One Poll tick: a Query of the open jobs, then each job's turn by its state."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from batchdrop.domain.job import JobRecord
from batchdrop.domain.lifecycle import COMPLETING, ENDED, ENDING, HELD, SUBMITTED, SUBMITTING
from batchdrop.domain.times import parse_time
from batchdrop.observability import logger
from batchdrop.ports.batches import Backends, BatchBackend, BatchInfo
from batchdrop.ports.bucket import Bucket
from batchdrop.ports.messages import EventBus
from batchdrop.ports.runtime import Clock, CrashHook, no_crash
from batchdrop.usecases.poll.announce import announce_ended, redrive_announcement
from batchdrop.usecases.poll.policy import PollJobs, PollPolicy, PollReport
from batchdrop.usecases.poll.reconcile import creation_lease_over, redrive_creation
from batchdrop.usecases.poll.release import release_held
from batchdrop.usecases.poll.watch import retrieve_all, watch

# Batches retrieved at once by a tick (the SDK's client is thread-safe).
RETRIEVE_CONCURRENCY = 16


def poll_open_jobs(
    jobs: PollJobs,
    batches: Backends | Callable[[], BatchBackend],
    events: EventBus,
    now: Clock,
    policy: PollPolicy | None = None,
    concurrency: int = RETRIEVE_CONCURRENCY,
    store: Bucket | None = None,
    crash: CrashHook = no_crash,
) -> PollReport:
    """One tick of the schedule. With no open job this is a single Query and nothing else.

    ``batches`` are the backends by name (Backends, each made on first use), or a factory of
    the Claude API's alone, so that no SDK is loaded before there is work: each job is watched
    on the backend it records. The running batches are retrieved ``concurrency`` at a time: a
    tick over 1,000 open jobs waits for the API's latency 1,000 / ``concurrency`` times, not 1,000.
    """
    backends = Backends.of(batches)
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
        if job.status == HELD:  # below Bedrock's minimum job size: released when its wait is over
            each(job, partial(release_held, job, jobs, backends, store, now, policy, report, crash))
            continue
        if job.batch_id is None:
            if job.status == SUBMITTING and creation_lease_over(job, now(), policy):
                each(job, partial(_redrive_creation, job, jobs, backends, store, now, policy, report, crash))
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
    for backend, group in _by_backend(running).items():
        for job, batch in zip(group, _retrieve(backends, backend, group, concurrency), strict=True):
            if isinstance(batch, Exception):
                logger.error(
                    "a job's batch could not be retrieved", extra={"job_id": job.job_id, "error": str(batch)}
                )
                failures.append(batch)
                continue
            client = partial(backends.for_backend, backend)
            each(
                job,
                partial(watch, job, batch, jobs, client, events, now, policy.ending_lease, report, crash),
            )
    if failures:
        raise failures[0]  # after every other job had its turn: the alarm still sees the error
    return report


def _by_backend(running: list[JobRecord]) -> dict[str, list[JobRecord]]:
    """The running jobs by the backend each records, in order."""
    groups: dict[str, list[JobRecord]] = {}
    for job in running:
        groups.setdefault(job.backend, []).append(job)
    return groups


def _retrieve(
    backends: Backends, backend: str, group: list[JobRecord], concurrency: int
) -> list[BatchInfo | Exception]:
    """The group's batches from their backend; when it cannot be reached (a Bedrock job on a
    stack without its role), that reason for each of its jobs."""
    try:
        client = backends.for_backend(backend)
    except Exception as exc:
        return [exc for _ in group]
    return retrieve_all(client, group, concurrency)


def _redrive_creation(
    job: JobRecord,
    jobs: PollJobs,
    backends: Backends,
    store: Bucket | None,
    now: Clock,
    policy: PollPolicy,
    report: PollReport,
    crash: CrashHook,
) -> None:
    """A stuck job's batch found or created on the backend it records."""
    redrive_creation(job, jobs, backends.for_backend(job.backend), store, now, policy, report, crash)
