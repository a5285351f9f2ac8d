"""Claims: each document version (or line of a request list) is submitted by one job only.

A version another job holds is a duplicate delivery, unless that job will never submit it:
abandoned (its batch was never created) or never recorded long after its claim. Such a claim
is taken over. A held job merged into another (usecases.submit.minimum) holds its claims for
that job: they are followed to it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Protocol

from batchdrop.domain.lifecycle import JobState
from batchdrop.domain.manifest import ManifestEntry
from batchdrop.observability import logger
from batchdrop.ports.jobs import Claims, JobsStore
from batchdrop.ports.runtime import Clock
from batchdrop.usecases.submit.values import PendingRequest

# A held job's documents may pass through several merges before they are sent (one per window).
MERGE_HOPS = 64


class ClaimsStore(JobsStore, Claims, Protocol):
    """The jobs store with its claims: who holds a version is decided by its holder's job."""


def claim_requests(
    jobs: ClaimsStore,
    bucket: str,
    job_id: str,
    chunk: list[PendingRequest],
    now: Clock,
    grace: timedelta,
) -> list[PendingRequest]:
    """The requests of the chunk that this job may submit: each document version once."""
    claimed = []
    identities = [document_identity(bucket, p.entry) for p in chunk]
    holders = jobs.claim_documents(
        [(identity, p.entry.source_key) for identity, p in zip(identities, chunk, strict=True)],
        job_id,
        now(),
    )
    for pending, identity, holder in zip(chunk, identities, holders, strict=True):
        if (
            holder is not None
            and holder_gave_up(jobs, identity, holder, now(), grace)
            and jobs.take_over_claim(identity, holder, job_id, now())
        ):
            holder = None
        if holder is None:
            claimed.append(pending)
        else:
            logger.info(
                "duplicate delivery: document version already submitted",
                extra={"key": pending.entry.source_key, "item": pending.entry.item, "job_id": holder},
            )
    return claimed


def holder_gave_up(jobs: ClaimsStore, identity: str, holder: str, now: datetime, grace: timedelta) -> bool:
    """The holder will never submit it: abandoned, or its claim is older than the grace (a
    creation lease: longer than a Submit may run) and its job was never recorded."""
    job = jobs.get(holder) if holder else None
    for _ in range(MERGE_HOPS):  # a merged (held) job's documents are the job's it merged into
        if job is None or job.status != JobState.MERGED or not job.merged_into:
            break
        job = jobs.get(job.merged_into)
    if job is not None:
        return job.status == JobState.ABANDONED
    age = jobs.claim_age(identity, now)
    return age is not None and age > grace


def document_identity(bucket: str, entry: ManifestEntry) -> str:
    """One document version (or one line of one version of a request list), as a short digest.

    S3 gives every version of a key its own id; without versioning, the etag stands in for it.
    """
    version = entry.version_id or f"etag:{entry.etag}"
    text = f"{bucket}\0{entry.source_key}\0{version}\0{entry.item or ''}"
    return hashlib.sha256(text.encode()).hexdigest()
