"""Plan: the window's pending requests become jobs, each within a batch's limits, and each job's
batch is created.

For each job, in order: its requests within their budgets (budget), each document version
claimed once (claims), the rejections' ``.error.json`` written, then its schemas, manifest and
requests, then the intent recorded (before its batch exists, so that a crash leaves a trace that
Poll picks up), and last the shared batch creation (usecases.batch_creation). Rejections of the
window belong to the first job, so that its summary accounts for them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal

from batchdrop.domain.keys import job_schema_key, manifest_key, requests_key
from batchdrop.domain.manifest import ManifestEntry, dump_manifest, new_job_id
from batchdrop.domain.results import error_object
from batchdrop.observability import logger
from batchdrop.ports.batches import Backends, BatchBackend
from batchdrop.ports.bucket import Bucket
from batchdrop.ports.messages import Notifier
from batchdrop.ports.runtime import Clock, CrashHook, no_crash
from batchdrop.usecases.batch_creation import (
    BatchCreation,
    Created,
    CreationOutcome,
    CreationPolicy,
    GaveUp,
    JobToCreate,
    Waiting,
    new_owner,
)
from batchdrop.usecases.submit.budget import notify_refused, within_budgets
from batchdrop.usecases.submit.claims import ClaimsStore, claim_requests
from batchdrop.usecases.submit.values import (
    BODY_OVERHEAD,
    BatchLimits,
    JobSubmitted,
    PendingRequest,
    SubmitOutcome,
)


def split_into_jobs(pending: list[PendingRequest], limits: BatchLimits) -> list[list[PendingRequest]]:
    """The window's requests as jobs: one kind each (backend, and on Bedrock the model: see
    PendingRequest.job_kind), each within both limits; kinds in order of first arrival, and
    requests in arrival order within each. A window of one kind splits as before."""
    kinds: dict[tuple[str, str | None], list[PendingRequest]] = {}
    for item in pending:
        kinds.setdefault(item.job_kind, []).append(item)
    return [chunk for items in kinds.values() for chunk in split_into_batches(items, limits)]


def split_into_batches(pending: list[PendingRequest], limits: BatchLimits) -> Iterator[list[PendingRequest]]:
    """Consecutive runs of requests, each within both limits, in arrival order."""
    chunk: list[PendingRequest] = []
    body = BODY_OVERHEAD
    for item in pending:
        grown = body + item.size + (1 if chunk else 0)
        if chunk and (len(chunk) >= limits.max_requests or grown > limits.max_bytes):
            yield chunk
            chunk, grown = [], BODY_OVERHEAD + item.size
        chunk.append(item)
        body = grown
    if chunk:
        yield chunk


@dataclass
class JobPlan:
    """Where a window's jobs go, and by which rules."""

    store: Bucket
    jobs: ClaimsStore
    batches: Backends | BatchBackend  # a backend alone: the Claude API's
    now: Clock
    notifier: Notifier | None = None
    policy: CreationPolicy = field(default_factory=CreationPolicy)
    batch_limits: BatchLimits = field(default_factory=BatchLimits)
    max_job_cost_usd: float | None = None  # the stack's budget for one job
    crash: CrashHook = no_crash

    def submit(
        self,
        pending: list[PendingRequest],
        rejected: list[ManifestEntry],
        ignored: int,
        preflight: str | None = None,
    ) -> SubmitOutcome:
        """Every pending request sent in a job (or refused), every rejection written."""
        chunks = split_into_jobs(pending, self.batch_limits)
        if not chunks and not rejected:
            return SubmitOutcome([], 0, 0, ignored)
        backends = Backends.of(self.batches)
        job_ids = [new_job_id(self.now()) for _ in range(max(len(chunks), 1))]
        submitted: list[JobSubmitted] = []
        duplicates = refused_count = 0
        for index, job_id in enumerate(job_ids):
            job_rejected = list(rejected) if index == 0 else []
            within, refused, budget_notes = within_budgets(
                chunks[index] if chunks else [], self.max_job_cost_usd
            )
            if refused:
                refused_count += len(refused)
                job_rejected += refused
                if self.notifier is not None:
                    notify_refused(self.notifier, self.store, job_id, refused, budget_notes)
            for entry in job_rejected:
                self.store.put_result(
                    error_object(job_id, entry, result_type="rejected", reason=entry.reason or "rejected")
                )
            claimed = claim_requests(
                self.jobs, self.store.bucket, job_id, within, self.now, self.policy.lease
            )
            self.crash("submit:after-claims")
            duplicates += len(within) - len(claimed)
            part = f"{index + 1}/{len(job_ids)}"
            backend = chunks[index][0].backend if chunks else "anthropic"
            creation = BatchCreation(
                self.jobs, backends.for_backend(backend), self.now, self.policy, crash=self.crash
            )
            job = self._write_and_create(creation, job_id, claimed, job_rejected, part, preflight, backend)
            if job is not None:
                submitted.append(job)
        return SubmitOutcome(
            jobs=submitted,
            submitted=sum(j.requests for j in submitted if j.creation != "gave_up"),
            rejected=len(rejected) + refused_count,
            ignored=ignored + duplicates,
            rejection_job_id=job_ids[0] if rejected or refused_count else None,
            duplicates=duplicates,
            preflight=preflight,
        )

    def _write_and_create(
        self,
        creation: BatchCreation,
        job_id: str,
        claimed: list[PendingRequest],
        rejected: list[ManifestEntry],
        part: str,
        preflight: str | None,
        backend: str = "anthropic",
    ) -> JobSubmitted | None:
        """The job's files, its intent, then its batch; None when the job has nothing to send."""
        claimed = self._write_schemas(job_id, claimed)
        entries = [p.entry for p in claimed] + rejected
        if not entries:
            return None
        key = manifest_key(job_id)
        self.store.put_bytes(key, dump_manifest(entries), "application/x-ndjson")
        if not claimed:
            logger.warning("no document of the job could be submitted", extra={"job_id": job_id})
            return None
        # The requests exist before the job does: whoever finds the job can create its batch.
        self.store.put_bytes(
            requests_key(job_id), "".join(p.line + "\n" for p in claimed).encode(), "application/x-ndjson"
        )
        costs = [p.entry.estimated_cost for p in claimed]
        owner = new_owner()
        self.jobs.record_intent(
            job_id,
            key,
            self.now(),
            self.policy.lease,
            owner,
            documents=len(entries),
            requests=len(claimed),
            rejected=len(rejected),
            profiles=sorted({e.profile for e in entries}),
            part=part,
            estimate_batch=Decimal(str(round(sum(c or 0.0 for c in costs), 9))),
            estimate_complete=None not in costs,
            backend=backend,
            **({"preflight": preflight} if preflight else {}),
        )
        self.crash("submit:before-create")
        outcome = creation.run(JobToCreate(job_id, len(claimed), owner), [p.request for p in claimed])
        return job_submitted(job_id, len(claimed), outcome)

    def _write_schemas(self, job_id: str, claimed: list[PendingRequest]) -> list[PendingRequest]:
        """Each schema profile's JSON Schema as submitted, once per job, before the batch is made:
        Complete checks the answers against this copy, whatever happens to the file later."""
        written: dict[str, str] = {}
        result = []
        for pending in claimed:
            if pending.schema is None:
                result.append(pending)
                continue
            profile = pending.entry.profile
            if profile not in written:
                written[profile] = job_schema_key(job_id, profile)
                body = json.dumps(pending.schema, ensure_ascii=False, indent=2, sort_keys=True).encode()
                self.store.put_bytes(written[profile], body, "application/json")
            result.append(replace(pending, entry=replace(pending.entry, schema_key=written[profile])))
        return result


def job_submitted(job_id: str, requests: int, outcome: CreationOutcome) -> JobSubmitted:
    if isinstance(outcome, Created):
        return JobSubmitted(job_id, outcome.batch.id, requests, "adopted" if outcome.adopted else "created")
    if isinstance(outcome, Waiting):
        return JobSubmitted(job_id, None, requests, "waiting", outcome.reason)
    if isinstance(outcome, GaveUp):
        return JobSubmitted(job_id, None, requests, "gave_up", outcome.reason)
    return JobSubmitted(job_id, None, requests, "uncertain", outcome.reason)
