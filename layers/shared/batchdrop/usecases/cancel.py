"""Cancel: a user's marker object ``jobs/<job-id>/cancel`` stops that job's batch.

The API then ends the batch; whatever finished is collected as usual and the rest is reported
as canceled, each document with its ``.error.json``.
"""

from __future__ import annotations

from datetime import datetime

from batchdrop.domain.lifecycle import SUBMITTED, SUBMITTING
from batchdrop.observability import logger
from batchdrop.ports.batches import Backends, BackendUnavailable, BatchBackend
from batchdrop.ports.jobs import JobsStore


def cancel_job(job_id: str, jobs: JobsStore, batches: Backends | BatchBackend, now: datetime) -> str:
    """Ask the job's backend (the one it records) to cancel its batch; what happened, in a word."""
    job = jobs.get(job_id)
    if job is None:
        logger.warning("cancel marker for an unknown job", extra={"job_id": job_id})
        return "unknown job"
    if job.status not in (SUBMITTING, SUBMITTED):
        logger.info(
            "cancel marker for a job whose batch has ended", extra={"job_id": job_id, "status": job.status}
        )
        return f"already {job.status}"
    jobs.mark_cancel_requested(job_id, now)
    if job.batch_id is None:
        return "cancel recorded; the batch is not created yet"
    try:
        backend = Backends.of(batches).for_backend(job.backend)
    except BackendUnavailable as exc:  # recorded above: said here, and by each later tick
        logger.error("cancel marker for a job whose backend is out of reach", extra={"job_id": job_id})
        return f"cannot cancel: {exc}"
    if backend.cancel(job.batch_id) is None:
        return "the batch had already ended"
    logger.info("batch canceled on request", extra={"job_id": job_id, "batch_id": job.batch_id})
    return "canceling"
