"""The jobs store port: job records moved through domain.lifecycle, and the claims that make
each document version and each batch belong to one job only."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from batchdrop.domain.job import JobRecord
from batchdrop.domain.summary import Summary


class HoldChanged(RuntimeError):
    """A held job that a new job was to take over was released or merged meanwhile: nothing
    was written, and the new job is planned again without it."""


class JobsStore(Protocol):
    """Job records (adapters.dynamodb_jobs.JobStore). Each move is a conditional write: False
    when its condition did not hold (another writer won, or the job is elsewhere)."""

    def get(self, job_id: str) -> JobRecord | None: ...

    def open_jobs(self) -> Iterator[JobRecord]: ...

    def record_intent(
        self,
        job_id: str,
        manifest_key: str,
        now: datetime,
        lease: timedelta,
        owner: str | None = None,
        **attributes: Any,
    ) -> None: ...

    def record_job(
        self,
        job_id: str,
        manifest_key: str,
        now: datetime,
        lease: timedelta,
        owner: str,
        held_until: datetime | None,
        merges: Sequence[str],
        **attributes: Any,
    ) -> None:
        """``record_intent`` (or ``held`` until ``held_until``) and, atomically with it, each
        job of ``merges`` from ``held`` to ``merged`` into this one. Raises HoldChanged."""
        ...

    def release_hold(
        self, job_id: str, now: datetime, lease: timedelta, owner: str, backend: str | None = None
    ) -> bool: ...

    def claim_creation(self, job_id: str, now: datetime, lease: timedelta, owner: str) -> bool: ...

    def note_create_call(self, job_id: str, now: datetime, owner: str, lease: timedelta) -> bool: ...

    def settle_create_call(self, job_id: str, called: datetime) -> None: ...

    def record_waiting(
        self, job_id: str, now: datetime, until: datetime, reason: str, owner: str
    ) -> bool: ...

    def give_up_creation(self, job_id: str, now: datetime, reason: str, owner: str) -> bool: ...

    def abandon(self, job_id: str, now: datetime, reason: str) -> bool: ...

    def record_submitted(
        self,
        job_id: str,
        batch_id: str,
        batch_expires_at: str,
        created_at: str,
        now: datetime,
        adopted: bool = False,
    ) -> bool: ...

    def update_progress(
        self, job_id: str, processing_status: str, request_counts: dict[str, int], now: datetime
    ) -> bool: ...

    def claim_ended(self, job_id: str, now: datetime, lease: timedelta) -> bool: ...

    def release_ended(self, job_id: str, now: datetime) -> bool: ...

    def claim_redrive(self, job_id: str, now: datetime, every: timedelta) -> bool: ...

    def mark_ended(self, job_id: str, now: datetime) -> bool: ...

    def claim_completion(self, job_id: str, now: datetime, lease: timedelta) -> bool: ...

    def mark_cancel_requested(self, job_id: str, now: datetime) -> bool: ...

    def disown_batch(self, job_id: str, batch_id: str, now: datetime) -> bool: ...

    def release_completion(self, job_id: str, now: datetime) -> bool: ...

    def mark_completed(self, job_id: str, now: datetime, summary: Summary) -> bool: ...


class Claims(Protocol):
    """Which job holds a document version, and which job a batch belongs to."""

    def claim_documents(
        self, claims: list[tuple[str, str]], job_id: str, now: datetime
    ) -> list[str | None]: ...

    def claim_document(self, identity: str, job_id: str, source_key: str, now: datetime) -> str | None: ...

    def claim_age(self, identity: str, now: datetime) -> timedelta | None: ...

    def take_over_claim(self, identity: str, from_job: str, to_job: str, now: datetime) -> bool: ...

    def claim_batch(self, batch_id: str, job_id: str, now: datetime, force: bool = False) -> bool: ...

    def batch_holder(self, batch_id: str) -> str | None: ...


class ClaimingJobs(JobsStore, Claims, Protocol):
    """The jobs store with its claims, as one adapter serves both: a batch creation (Submit's,
    Complete's retry, Poll's reconcile) records the job's moves and claims its batch."""
