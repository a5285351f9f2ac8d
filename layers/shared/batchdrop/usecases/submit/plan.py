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
from dataclasses import dataclass, field, replace
from decimal import Decimal

from batchdrop.domain.keys import job_schema_key, manifest_key, requests_key
from batchdrop.domain.lifecycle import HELD
from batchdrop.domain.manifest import ManifestEntry, dump_manifest, new_job_id
from batchdrop.domain.results import error_object
from batchdrop.observability import logger
from batchdrop.ports.batches import Backends, BatchBackend
from batchdrop.ports.bucket import Bucket
from batchdrop.ports.jobs import HoldChanged
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
from batchdrop.usecases.submit.minimum import PlannedJob, SizeRules, held_jobs, hold_reason, size_bedrock
from batchdrop.usecases.submit.values import (
    BatchLimits,
    JobSubmitted,
    PendingRequest,
    SubmitOutcome,
    split_into_batches,
)

# A job is recorded again at most this often when the held jobs it takes over change meanwhile.
MAX_HOLD_RETRIES = 5


def split_into_jobs(
    pending: list[PendingRequest], limits: BatchLimits
) -> list[tuple[tuple[str, str | None], list[PendingRequest]]]:
    """The window's requests by kind (backend, and on Bedrock the model: see
    PendingRequest.job_kind), kinds in order of first arrival, requests in arrival order."""
    kinds: dict[tuple[str, str | None], list[PendingRequest]] = {}
    for item in pending:
        kinds.setdefault(item.job_kind, []).append(item)
    return list(kinds.items())


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
    sizes: SizeRules = field(default_factory=SizeRules)  # Bedrock's job sizes

    def plan(self, pending: list[PendingRequest]) -> list[PlannedJob]:
        """The window's jobs: a Claude API kind split within a batch's limits; a Bedrock model's
        requests sized with the jobs held for it (usecases.submit.minimum)."""
        planned: list[PlannedJob] = []
        for (backend, model), items in split_into_jobs(pending, self.batch_limits):
            if backend == "anthropic":
                planned += [PlannedJob(chunk) for chunk in split_into_batches(items, self.batch_limits)]
            else:
                held = held_jobs(self.jobs, self.store, model or "")
                planned += size_bedrock(items, held, self.sizes, self.batch_limits, self.now())
        return planned

    def submit(
        self,
        pending: list[PendingRequest],
        rejected: list[ManifestEntry],
        ignored: int,
        preflight: str | None = None,
    ) -> SubmitOutcome:
        """Every pending request sent in a job, held, or refused; every rejection written."""
        planned = self.plan(pending)
        if not planned and not rejected:
            return SubmitOutcome([], 0, 0, ignored)
        planned = planned or [PlannedJob([])]
        backends = Backends.of(self.batches)
        job_ids = [new_job_id(self.now()) for _ in planned]
        submitted: list[JobSubmitted] = []
        duplicates = refused_count = 0
        for index, (job_id, job) in enumerate(zip(job_ids, planned, strict=True)):
            job_rejected = list(rejected) if index == 0 else []
            within, refused, budget_notes = within_budgets(job.requests, self.max_job_cost_usd)
            if refused:
                refused_count += len(refused)
                job_rejected += refused
                if self.notifier is not None:
                    notify_refused(self.notifier, self.store, job_id, refused, budget_notes)
            for entry in job_rejected:
                self.store.put_result(
                    error_object(job_id, entry, result_type="rejected", reason=entry.reason or "rejected")
                )
            fresh = [p for p in within if p.held_by is None]
            claimed = claim_requests(self.jobs, self.store.bucket, job_id, fresh, self.now, self.policy.lease)
            self.crash("submit:after-claims")
            duplicates += len(fresh) - len(claimed)
            job.requests = [p for p in within if p.held_by is not None] + claimed
            part = f"{index + 1}/{len(job_ids)}"
            backend = job.requests[0].backend if job.requests else "anthropic"
            creation = BatchCreation(
                self.jobs, backends.for_backend(backend), self.now, self.policy, crash=self.crash
            )
            done = self._write_and_create(creation, job_id, job, job_rejected, part, preflight, backend)
            if done is not None:
                submitted.append(done)
        return SubmitOutcome(
            jobs=submitted,
            submitted=sum(j.requests for j in submitted if j.creation not in ("gave_up", "held")),
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
        job: PlannedJob,
        rejected: list[ManifestEntry],
        part: str,
        preflight: str | None,
        backend: str = "anthropic",
    ) -> JobSubmitted | None:
        """The job's files, its record, then its batch (none while held); None when the job has
        nothing to send. A held job it was to take over that was released or merged meanwhile
        is left to that (HoldChanged): the job is written and recorded again without it."""
        for _ in range(MAX_HOLD_RETRIES):
            claimed = self._write_schemas(job_id, job.requests)
            entries = [p.entry for p in claimed] + rejected + job.carried_entries
            if not entries:
                return None
            key = manifest_key(job_id)
            self.store.put_bytes(key, dump_manifest(entries), "application/x-ndjson")
            if not claimed:
                logger.warning("no document of the job could be submitted", extra={"job_id": job_id})
                return None
            # The requests exist before the job does: whoever finds the job can create its batch.
            body = "".join(p.line + "\n" for p in claimed).encode()
            self.store.put_bytes(requests_key(job_id), body, "application/x-ndjson")
            owner = new_owner()
            try:
                self._record(job_id, key, job, claimed, entries, rejected, part, preflight, backend, owner)
            except HoldChanged:
                job = self._without_changed(job)
                continue
            break
        else:
            raise HoldChanged(f"job {job_id}: the held jobs it takes over kept changing")
        if job.held:
            logger.info(
                "job held below Bedrock's minimum size", extra={"job_id": job_id, "requests": len(claimed)}
            )
            return JobSubmitted(job_id, None, len(claimed), "held", hold_reason(job, self.sizes))
        self.crash("submit:before-create")
        outcome = creation.run(JobToCreate(job_id, len(claimed), owner), [p.request for p in claimed])
        return job_submitted(job_id, len(claimed), outcome)

    def _record(
        self,
        job_id: str,
        key: str,
        job: PlannedJob,
        claimed: list[PendingRequest],
        entries: list[ManifestEntry],
        rejected: list[ManifestEntry],
        part: str,
        preflight: str | None,
        backend: str,
        owner: str,
    ) -> None:
        costs = [p.entry.estimated_cost for p in claimed]
        held = {"hold_key": job.hold_key, "below_minimum": job.below_minimum or "error"} if job.held else {}
        self.jobs.record_job(
            job_id,
            key,
            self.now(),
            self.policy.lease,
            owner,
            job.held_until,
            job.merges,
            documents=len(entries),
            requests=len(claimed),
            rejected=len(rejected) + len(job.carried_entries),
            profiles=sorted({e.profile for e in entries}),
            part=part,
            estimate_batch=Decimal(str(round(sum(c or 0.0 for c in costs), 9))),
            estimate_complete=None not in costs,
            backend=backend,
            **held,
            **({"preflight": preflight} if preflight else {}),
        )

    def _without_changed(self, job: PlannedJob) -> PlannedJob:
        """The job without the held jobs that are no longer held; held itself when what is
        left is below the minimum."""
        still = tuple(h for h in job.merges if (r := self.jobs.get(h)) is not None and r.status == HELD)
        gone = set(job.merges) - set(still)
        requests = [p for p in job.requests if p.held_by not in gone]
        changed = replace(job, requests=requests, merges=still)
        if (
            not changed.held
            and len(requests) < self.sizes.min_records
            and requests
            and requests[0].backend != "anthropic"
        ):
            changed.held_until = self.now() + self.sizes.wait
            changed.below_minimum = requests[-1].below_minimum
        return changed

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
