"""Reconciling a job stuck in ``submitting``: its creation lease ran out, so its batch is found
or created here (batch_creation), or the job is abandoned when its requests were never written.
"""

from __future__ import annotations

from datetime import datetime

from batchdrop.domain.job import JobRecord
from batchdrop.domain.keys import requests_key
from batchdrop.domain.times import parse_time
from batchdrop.observability import logger
from batchdrop.ports.batches import BatchBackend
from batchdrop.ports.bucket import Bucket
from batchdrop.ports.runtime import Clock, CrashHook
from batchdrop.usecases.batch_creation import (
    BatchCreation,
    Created,
    CreationOutcome,
    GaveUp,
    JobToCreate,
    Waiting,
    new_owner,
    requests_from_lines,
)
from batchdrop.usecases.poll.policy import PollJobs, PollPolicy, PollReport


def creation_lease_over(job: JobRecord, now: datetime, policy: PollPolicy) -> bool:
    until = job.creation_lease_until
    if until:
        return parse_time(str(until)) <= now
    return now - parse_time(job.created_at) > policy.submit_grace  # recorded before leases


def redrive_creation(
    job: JobRecord,
    jobs: PollJobs,
    batches: BatchBackend,
    store: Bucket | None,
    now: Clock,
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
    creation = BatchCreation(jobs, batches, now, policy.creation(), crash=crash)
    outcome = creation.run(target, lambda: requests_from_lines(store.read_lines(key)))
    report_creation(report, job.job_id, outcome)


def report_creation(report: PollReport, job_id: str, outcome: CreationOutcome) -> None:
    """What a creation Poll made (or tried) comes to, in the tick's report."""
    if isinstance(outcome, Created):
        (report.adopted if outcome.adopted else report.created).append(job_id)
    elif isinstance(outcome, Waiting):
        report.waiting.append(job_id)
    elif isinstance(outcome, GaveUp):
        report.gave_up.append(job_id)
