"""A held job whose wait is over (usecases.submit.minimum): it reached Bedrock's minimum after
all (the minimum was lowered) and is sent as a batch; or its profile's ``below_minimum`` says
``on_demand``, and it is answered by InvokeModel, one request at a time at the on-demand price
(the ``bedrock-on-demand`` backend, which records that price); or every document gets an
``.error.json`` that explains the minimum. Never lost, never billed at full price unasked.
"""

from __future__ import annotations

from batchdrop.domain.job import JobRecord
from batchdrop.domain.keys import requests_key
from batchdrop.domain.times import parse_time
from batchdrop.observability import logger
from batchdrop.ports.batches import BEDROCK_ON_DEMAND, Backends
from batchdrop.ports.bucket import Bucket
from batchdrop.ports.runtime import Clock, CrashHook
from batchdrop.usecases.batch_creation import BatchCreation, JobToCreate, new_owner, requests_from_lines
from batchdrop.usecases.poll.policy import PollJobs, PollPolicy, PollReport
from batchdrop.usecases.poll.reconcile import report_creation


def below_minimum_reason(job: JobRecord, policy: PollPolicy) -> str:
    profiles = ", ".join(repr(p) for p in job.profiles) or "?"
    return (
        f"not submitted: Amazon Bedrock runs no batch inference job of fewer than "
        f"{policy.bedrock_min_records} records (BEDROCK_MIN_RECORDS), and only {job.requests} "
        f"document(s) of profile {profiles} came within the wait (BEDROCK_MIN_WAIT_MINUTES). The "
        "profile's below_minimum is error: set below_minimum: on_demand to have such documents "
        "answered on demand (InvokeModel, at the on-demand price), or send more documents together"
    )


def release_held(
    job: JobRecord,
    jobs: PollJobs,
    backends: Backends,
    store: Bucket | None,
    now: Clock,
    policy: PollPolicy,
    report: PollReport,
    crash: CrashHook,
) -> None:
    """Release a held job once its wait is over; before then it only counts as held."""
    if job.held_until is None or parse_time(job.held_until) > now() or store is None:
        report.held.append(job.job_id)
        return
    enough = job.requests >= policy.bedrock_min_records
    on_demand = not enough and job.below_minimum == "on_demand"
    backend = BEDROCK_ON_DEMAND if on_demand else job.backend
    owner = new_owner()
    if not jobs.release_hold(job.job_id, now(), policy.submit_grace, owner, backend if on_demand else None):
        return  # a window took it over, or another poller released it
    report.released.append(job.job_id)
    if not enough and not on_demand:
        jobs.give_up_creation(job.job_id, now(), below_minimum_reason(job, policy), owner)
        report.gave_up.append(job.job_id)
        logger.warning(
            "held job below Bedrock's minimum: its documents get errors", extra={"job_id": job.job_id}
        )
        return
    logger.info(
        "held job released", extra={"job_id": job.job_id, "backend": backend, "requests": job.requests}
    )
    creation = BatchCreation(jobs, backends.for_backend(backend), now, policy.creation(), crash=crash)
    key = requests_key(job.job_id)
    outcome = creation.run(
        JobToCreate(job.job_id, job.requests, owner=owner), lambda: requests_from_lines(store.read_lines(key))
    )
    report_creation(report, job.job_id, outcome)
