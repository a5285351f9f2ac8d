"""Submit: the documents of one ingest window become Message Batches jobs.

Normally one window is one batch. A window larger than a batch may be (100,000 requests or
256 MB of request body) is split into several batches, each its own job; nothing is dropped
and nothing is sent twice. Before anything is sent, each request goes through preflight: the
rules of the API version and its model's facts from the Models API (preflight.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from batchdrop.adapters.anthropic_backend import MessageBatches
from batchdrop.adapters.dynamodb_jobs import ABANDONED, JobStore
from batchdrop.adapters.events import S3ObjectRef
from batchdrop.adapters.messaging import Notifier
from batchdrop.adapters.s3_bucket import DocumentGone, DocumentStore, ReadAhead, StoredDocument
from batchdrop.domain import documents, estimate, keys
from batchdrop.domain.convert import DocumentLimits, convert, max_source_bytes
from batchdrop.domain.keys import cancel_marker_job, job_schema_key, manifest_key, requests_key
from batchdrop.domain.manifest import REJECTED, ManifestEntry, dump_manifest, new_job_id
from batchdrop.domain.preflight import SKIPPED, ModelCatalogue, ModelsApi, check_request
from batchdrop.domain.pricing import PriceTable
from batchdrop.domain.profiles import InvalidProfile, Profile, ProfileCatalog, UnknownProfile
from batchdrop.domain.request_lists import LIST_EXTENSION, ListedError, parse_request_list
from batchdrop.domain.results import error_object
from batchdrop.observability import logger
from batchdrop.ports.runtime import CrashHook, no_crash
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

# The create body is {"requests": [r1,r2,...]}: the wrapper plus a comma per request.
_BODY_OVERHEAD = len('{"requests":[]}')


@dataclass(frozen=True)
class BatchLimits:
    """What one batch may hold (the API's limits by default; smaller in tests)."""

    max_requests: int = 100_000
    max_bytes: int = 256 * 1024 * 1024


@dataclass(frozen=True)
class PendingRequest:
    entry: ManifestEntry
    request: dict[str, Any]
    line: str  # the request as JSON, once: its size counts against the batch, and it is kept
    budget: float | None = None  # its profile's max_job_cost_usd
    # The profile's JSON Schema when the request was built with it: written once per job.
    schema: dict[str, Any] | None = None

    @property
    def size(self) -> int:
        return len(self.line.encode())


@dataclass(frozen=True)
class JobSubmitted:
    job_id: str
    batch_id: str | None  # None while the job waits for capacity or Poll settles its creation
    requests: int
    creation: str = "created"  # created, adopted, waiting, uncertain, gave_up
    reason: str | None = None


@dataclass(frozen=True)
class SubmitOutcome:
    jobs: list[JobSubmitted]
    submitted: int
    rejected: int
    ignored: int
    rejection_job_id: str | None = None
    duplicates: int = 0
    preflight: str | None = None  # "skipped" when the Models API could not be reached

    def as_dict(self) -> dict[str, Any]:
        return {
            **({"preflight": self.preflight} if self.preflight else {}),
            "duplicates": self.duplicates,
            "jobs": [
                {
                    "job_id": j.job_id,
                    "batch_id": j.batch_id,
                    "requests": j.requests,
                    "creation": j.creation,
                    **({"reason": j.reason} if j.reason else {}),
                }
                for j in self.jobs
            ],
            "submitted": self.submitted,
            "rejected": self.rejected,
            "ignored": self.ignored,
            "rejection_job_id": self.rejection_job_id,
        }


def split_into_batches(pending: list[PendingRequest], limits: BatchLimits) -> Iterator[list[PendingRequest]]:
    """Consecutive runs of requests, each within both limits, in arrival order."""
    chunk: list[PendingRequest] = []
    body = _BODY_OVERHEAD
    for item in pending:
        grown = body + item.size + (1 if chunk else 0)
        if chunk and (len(chunk) >= limits.max_requests or grown > limits.max_bytes):
            yield chunk
            chunk, grown = [], _BODY_OVERHEAD + item.size
        chunk.append(item)
        body = grown
    if chunk:
        yield chunk


@dataclass
class IngestWindow:
    """Documents collected from one window of notifications, in arrival order.

    ``add`` does the per-document work (read, convert) so that a transient failure fails only
    that notification; ``submit`` then sends everything collected.
    """

    store: DocumentStore
    load_profiles: Callable[[], ProfileCatalog]
    document_limits: DocumentLimits = field(default_factory=DocumentLimits)
    batch_limits: BatchLimits = field(default_factory=BatchLimits)
    prices: PriceTable = field(default_factory=PriceTable.bundled)
    max_job_cost_usd: float | None = None  # the stack's budget for one job
    read_concurrency: int = 1  # S3 reads in flight at once (see plan)
    rejected: list[ManifestEntry] = field(default_factory=list)
    pending: list[PendingRequest] = field(default_factory=list)
    ignored: int = 0
    cancel_requests: list[str] = field(default_factory=list)
    _seen: set[tuple[str, str | None]] = field(default_factory=set)
    _sizes: dict[tuple[str, str | None], int] = field(default_factory=dict)  # from the events
    _catalog: ProfileCatalog | None = None
    _sequence: int = 0
    _reader: ReadAhead | None = None

    @property
    def profiles(self) -> ProfileCatalog:
        """Read once per invocation, on first need."""
        if self._catalog is None:
            self._catalog = self.load_profiles()
        return self._catalog

    def _next_custom_id(self, key: str, version_id: str | None, item: str = "") -> str:
        self._sequence += 1
        return documents.custom_id(self._sequence, key, version_id, item)

    def plan(self, refs: Iterable[S3ObjectRef]) -> None:
        """The notifications that ``add`` will be given, in order: their documents are read
        ahead, ``read_concurrency`` at a time. Optional; ``close`` ends the reads."""
        if self._reader is None:
            self._reader = ReadAhead(self._read_document, self.read_concurrency)
        wanted = [
            ref
            for ref in refs
            if ref.bucket == self.store.bucket
            and cancel_marker_job(ref.key) is None
            and keys.parse_inbox_key(ref.key) is not None
        ]
        for ref in wanted:
            if ref.size is not None:
                self._sizes[(ref.key, ref.version_id)] = ref.size
        self._reader.plan((ref.key, ref.version_id) for ref in wanted)

    def _read_document(self, key: str, version_id: str | None) -> StoredDocument:
        """Read a document within its kind's size limit, checked (from the event's size, else a
        HEAD) before the body is read; unsupported kinds are refused unread."""
        doc = keys.parse_inbox_key(key)
        limit = max_source_bytes(doc, self.document_limits) if doc is not None else None
        return self.store.get_document(
            key, version_id, max_bytes=limit, size=self._sizes.get((key, version_id))
        )

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()

    def _read(self, key: str, version_id: str | None) -> StoredDocument:
        if self._reader is not None:
            return self._reader.get(key, version_id)
        return self._read_document(key, version_id)

    def add(self, ref: S3ObjectRef) -> None:
        cancel = cancel_marker_job(ref.key) if ref.bucket == self.store.bucket else None
        if cancel is not None:
            self.cancel_requests.append(cancel)
            return
        doc = keys.parse_inbox_key(ref.key)
        if ref.bucket != self.store.bucket or doc is None:
            # Only inbox/ of our own bucket starts work; results and jobs must never loop back.
            logger.info("ignored object outside the inbox", extra={"bucket": ref.bucket, "key": ref.key})
            self.ignored += 1
            return
        if (ref.key, ref.version_id) in self._seen:
            self.ignored += 1
            return
        self._seen.add((ref.key, ref.version_id))
        base = ManifestEntry(
            custom_id="",
            source_key=ref.key,
            version_id=ref.version_id,
            etag=ref.etag,
            profile=doc.profile,
            error_key=keys.error_key(doc),
            sequencer=ref.sequencer,
            full_keys=_full_keys({"error_key": keys.full_error_key(doc)}),
        )
        try:
            if doc.extension == LIST_EXTENSION:
                self._add_list(doc, base)
            else:
                self._add_document(doc, base)
        except (UnknownProfile, InvalidProfile, documents.DocumentRejected) as exc:
            self._reject(replace(base, custom_id=self._next_custom_id(ref.key, ref.version_id)), str(exc))
        except DocumentGone:
            self._reject(
                replace(base, custom_id=self._next_custom_id(ref.key, ref.version_id)),
                "the document was deleted before it could be read",
            )

    def _add_document(self, doc: keys.InboxKey, base: ManifestEntry) -> None:
        profile = self.profiles.get(doc.profile)
        stored = self._read(doc.key, base.version_id)
        profile = profile.with_overrides(documents.metadata_overrides(stored.metadata))
        converted = convert(doc, stored.body, self.document_limits)
        entry = replace(
            base,
            custom_id=self._next_custom_id(doc.key, stored.version_id),
            version_id=stored.version_id,
            etag=stored.etag or base.etag,
            model=profile.model,
            result_key=keys.result_key(doc, profile),
            full_keys=keys.shortened_keys(doc, profile) or None,
            kind=converted.kind,
            next_profile=profile.next,
            notify_stage=profile.notify_each_stage,
            content_sha256=hashlib.sha256(stored.body).hexdigest(),
            settings_hash=profile.settings_hash(),
            **documents.workflow_links(stored.metadata),
        )
        params = documents.message_params(profile, doc, converted.blocks)
        self._append(entry, params, converted.detail, profile.max_job_cost_usd, _schema_of(profile, params))

    def _add_list(self, doc: keys.InboxKey, base: ManifestEntry) -> None:
        stored = self._read(doc.key, base.version_id)
        base = replace(
            base,
            version_id=stored.version_id,
            etag=stored.etag or base.etag,
            kind="request-list",
            content_sha256=hashlib.sha256(stored.body).hexdigest(),
        )
        for line in parse_request_list(doc, stored.body, self.profiles):
            custom_id = self._next_custom_id(doc.key, stored.version_id, line.item)
            if isinstance(line, ListedError):
                entry = replace(
                    base,
                    custom_id=custom_id,
                    item=line.item,
                    error_key=line.error_key,
                    full_keys=_full_keys({"error_key": keys.full_error_key(doc, line.item)}),
                )
                self._reject(entry, line.reason)
                continue
            entry = replace(
                base,
                custom_id=custom_id,
                item=line.item,
                next_profile=line.profile.next,
                notify_stage=line.profile.notify_each_stage,
                profile=line.profile.name,
                model=str(line.params.get("model")),
                result_key=line.result_key,
                error_key=line.error_key,
                full_keys=keys.shortened_keys(doc, line.profile, line.item) or None,
                settings_hash=documents.params_settings_hash(line.params),
            )
            self._append(
                entry, line.params, None, line.profile.max_job_cost_usd, _schema_of(line.profile, line.params)
            )

    def _append(
        self,
        entry: ManifestEntry,
        params: dict[str, Any],
        detail: dict[str, Any] | None,
        budget: float | None,
        schema: dict[str, Any] | None = None,
    ) -> None:
        estimated_input = estimate.input_tokens(params, detail)
        cost = estimate.request_cost(self.prices, params, estimated_input)
        entry = replace(
            entry,
            estimated_input_tokens=estimated_input,
            estimated_cost=round(cost.batch, 9) if cost else None,
        )
        request = {"custom_id": entry.custom_id, "params": params}
        line = json.dumps(request, ensure_ascii=False, separators=(",", ":"))
        size = len(line.encode())
        if size + _BODY_OVERHEAD > self.batch_limits.max_bytes:
            self._reject(
                entry,
                f"the request for this document is {size / 1e6:.1f} MB, more than a whole batch may hold "
                f"({self.batch_limits.max_bytes / 1e6:.1f} MB)",
            )
            return
        self.pending.append(PendingRequest(entry, request, line, budget, schema))

    def _reject(self, entry: ManifestEntry, reason: str) -> None:
        logger.warning(
            "document rejected", extra={"key": entry.source_key, "item": entry.item, "reason": reason}
        )
        self.rejected.append(replace(entry, status=REJECTED, reason=reason))

    def submit(
        self,
        jobs: JobStore,
        batches: MessageBatches,
        now: Callable[[], datetime],
        notifier: Notifier | None = None,
        creation_policy: CreationPolicy | None = None,
        models: ModelsApi | None = None,
        crash: CrashHook = no_crash,
    ) -> SubmitOutcome:
        """Preflight every request (``models``: the Models API; None checks the version rules
        only), check each job against its budgets, claim each document version, write the
        rejections, manifests, schemas and requests, record each job (before its batch exists, so
        a crash leaves a trace that Poll picks up), then find or create its batch (batch_creation)."""
        policy = creation_policy or CreationPolicy()
        creation = BatchCreation(jobs, batches, now, policy, crash=crash)
        preflight = self.preflight(ModelCatalogue(models) if models is not None else None)
        chunks = list(split_into_batches(self.pending, self.batch_limits))
        if not chunks and not self.rejected:
            return SubmitOutcome([], 0, 0, self.ignored)
        job_ids = [new_job_id(now()) for _ in range(max(len(chunks), 1))]
        submitted: list[JobSubmitted] = []
        duplicates = refused_count = 0
        for index, job_id in enumerate(job_ids):
            # Rejections of the window belong to the first job, so its summary accounts for them.
            rejected = list(self.rejected) if index == 0 else []
            within, refused, budget_notes = self._within_budgets(chunks[index] if chunks else [])
            if refused:
                refused_count += len(refused)
                rejected += refused
                if notifier is not None:
                    notify_refused(notifier, self.store, job_id, refused, budget_notes)
            for entry in rejected:
                self.store.put_result(
                    error_object(job_id, entry, result_type="rejected", reason=entry.reason or "rejected")
                )
            claimed = self._claim(jobs, job_id, within, now, policy.lease)
            crash("submit:after-claims")
            duplicates += len(within) - len(claimed)
            claimed = self._write_schemas(job_id, claimed)
            entries = [p.entry for p in claimed] + rejected
            if not entries:
                continue
            key = manifest_key(job_id)
            self.store.put_bytes(key, dump_manifest(entries), "application/x-ndjson")
            if not claimed:
                logger.warning("no document of the job could be submitted", extra={"job_id": job_id})
                continue
            # The requests exist before the job does: whoever finds the job can create its batch.
            self.store.put_bytes(
                requests_key(job_id), "".join(p.line + "\n" for p in claimed).encode(), "application/x-ndjson"
            )
            costs = [p.entry.estimated_cost for p in claimed]
            owner = new_owner()
            jobs.record_intent(
                job_id,
                key,
                now(),
                policy.lease,
                owner,
                documents=len(entries),
                requests=len(claimed),
                rejected=len(rejected),
                profiles=sorted({e.profile for e in entries}),
                part=f"{index + 1}/{len(job_ids)}",
                estimate_batch=Decimal(str(round(sum(c or 0.0 for c in costs), 9))),
                estimate_complete=None not in costs,
                **({"preflight": preflight} if preflight else {}),
            )
            crash("submit:before-create")
            outcome = creation.run(JobToCreate(job_id, len(claimed), owner), [p.request for p in claimed])
            submitted.append(_job_submitted(job_id, len(claimed), outcome))
        return SubmitOutcome(
            jobs=submitted,
            submitted=sum(j.requests for j in submitted if j.creation != "gave_up"),
            rejected=len(self.rejected) + refused_count,
            ignored=self.ignored + duplicates,
            rejection_job_id=job_ids[0] if self.rejected or refused_count else None,
            duplicates=duplicates,
            preflight=preflight,
        )

    def preflight(self, catalogue: ModelCatalogue | None) -> str | None:
        """Refuse, before anything is sent, each pending request the API would refuse (the version
        rules, and its model's facts from ``catalogue``); mark those sent to a deprecated model
        with its retirement date. Returns "skipped" when the Models API could not be reached.

        Without the Models API the version rules are still checked and the window is submitted:
        a request the catalogue would have refused then ends ``errored`` with the API's reason
        (only succeeded requests are billed), whereas holding the window back would stop all
        work for as long as the Models API is out, even where the batches API is fine."""
        kept: list[PendingRequest] = []
        for pending in self.pending:
            verdict = check_request(pending.request["params"], catalogue)
            if verdict.refused:
                self._reject(pending.entry, "; ".join(verdict.refused))
            elif verdict.retires_at:
                entry = replace(pending.entry, model_retires_at=verdict.retires_at)
                kept.append(replace(pending, entry=entry))
            else:
                kept.append(pending)
        self.pending = kept
        if catalogue is not None and catalogue.unavailable is not None:
            logger.warning(
                "preflight skipped the model checks: the Models API could not be reached",
                extra={"reason": catalogue.unavailable},
            )
            return SKIPPED
        return None

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

    def _within_budgets(
        self, chunk: list[PendingRequest]
    ) -> tuple[list[PendingRequest], list[ManifestEntry], list[str]]:
        """The requests of a job within their profiles' and the stack's max_job_cost_usd, the
        entries refused (with the reason), and one note per budget exceeded."""
        refused: list[ManifestEntry] = []
        notes: list[str] = []
        by_profile: dict[str, list[PendingRequest]] = {}
        for pending in chunk:
            by_profile.setdefault(pending.entry.profile, []).append(pending)
        kept: list[PendingRequest] = []
        for profile, items in by_profile.items():
            note = _budget_exceeded(items, items[0].budget, f"max_job_cost_usd of profile {profile!r}")
            if note:
                notes.append(note)
                refused += [replace(p.entry, status=REJECTED, reason=f"not submitted: {note}") for p in items]
            else:
                kept += items
        note = _budget_exceeded(kept, self.max_job_cost_usd, "the stack's MaxJobCostUsd")
        if note:
            notes.append(note)
            refused += [replace(p.entry, status=REJECTED, reason=f"not submitted: {note}") for p in kept]
            kept = []
        kept_ids = {p.entry.custom_id for p in kept}
        return [p for p in chunk if p.entry.custom_id in kept_ids], refused, notes

    def _claim(
        self,
        jobs: JobStore,
        job_id: str,
        chunk: list[PendingRequest],
        now: Callable[[], datetime],
        grace: timedelta,
    ) -> list[PendingRequest]:
        """The requests of the chunk that this job may submit: each document version once.

        A version another job holds is a duplicate delivery, unless that job will never submit
        it: abandoned (its batch was never created) or never recorded long after its claim.
        """
        claimed = []
        identities = [document_identity(self.store.bucket, p.entry) for p in chunk]
        holders = jobs.claim_documents(
            [(identity, p.entry.source_key) for identity, p in zip(identities, chunk, strict=True)],
            job_id,
            now(),
        )
        for pending, identity, holder in zip(chunk, identities, holders, strict=True):
            if (
                holder is not None
                and self._holder_gave_up(jobs, identity, holder, now(), grace)
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

    @staticmethod
    def _holder_gave_up(jobs: JobStore, identity: str, holder: str, now: datetime, grace: timedelta) -> bool:
        """The holder will never submit it: abandoned, or its claim is older than the grace (a
        creation lease: longer than a Submit may run) and its job was never recorded."""
        job = jobs.get(holder) if holder else None
        if job is not None:
            return job.status == ABANDONED
        age = jobs.claim_age(identity, now)
        return age is not None and age > grace


def _schema_of(profile: Profile, params: dict[str, Any]) -> dict[str, Any] | None:
    """The profile's schema when the request was built with it (a list line may bring its own
    output_config: that one is not the profile's and gets no job copy)."""
    if profile.output_schema is None:
        return None
    config = params.get("output_config")
    output_format = config.get("format") if isinstance(config, dict) else None
    schema = output_format.get("schema") if isinstance(output_format, dict) else None
    return dict(profile.output_schema) if schema == profile.output_schema else None


def _full_keys(full: dict[str, str]) -> dict[str, str] | None:
    """Those of ``full`` (full keys, by field) that S3 cannot hold and were shortened; None if none."""
    long = {name: key for name, key in full.items() if not keys.key_fits(key)}
    return long or None


def _job_submitted(job_id: str, requests: int, outcome: CreationOutcome) -> JobSubmitted:
    if isinstance(outcome, Created):
        return JobSubmitted(job_id, outcome.batch.id, requests, "adopted" if outcome.adopted else "created")
    if isinstance(outcome, Waiting):
        return JobSubmitted(job_id, None, requests, "waiting", outcome.reason)
    if isinstance(outcome, GaveUp):
        return JobSubmitted(job_id, None, requests, "gave_up", outcome.reason)
    return JobSubmitted(job_id, None, requests, "uncertain", outcome.reason)


def _budget_exceeded(items: list[PendingRequest], limit: float | None, name: str) -> str | None:
    """Why these requests together break a budget, or None when they do not (or there is none)."""
    if limit is None or not items:
        return None
    costs = [p.entry.estimated_cost for p in items]
    if None in costs:
        unpriced = sorted({p.entry.model or "?" for p in items if p.entry.estimated_cost is None})
        return (
            f"{name} is {limit:g} USD, and the cost cannot be estimated: "
            f"no known price for {', '.join(unpriced)}"
        )
    total = sum(c or 0.0 for c in costs)
    if total > limit:
        return (
            f"the job's estimated cost of {total:.4f} USD at batch price ({len(items)} requests, output "
            f"counted at max_tokens) exceeds {name} of {limit:g} USD"
        )
    return None


def notify_refused(
    notifier: Notifier, store: DocumentStore, job_id: str, refused: list[ManifestEntry], notes: list[str]
) -> None:
    notifier.publish(
        f"batchdrop job {job_id}: {len(refused)} documents not submitted (over budget)",
        {
            "job_id": job_id,
            "status": "over_budget",
            "documents": len(refused),
            "reasons": notes,
            "errors": [store.uri(e.error_key) for e in refused[:10]],
        },
    )


def document_identity(bucket: str, entry: ManifestEntry) -> str:
    """One document version (or one line of one version of a request list), as a short digest.

    S3 gives every version of a key its own id; without versioning, the etag stands in for it.
    """
    version = entry.version_id or f"etag:{entry.etag}"
    text = f"{bucket}\0{entry.source_key}\0{version}\0{entry.item or ''}"
    return hashlib.sha256(text.encode()).hexdigest()
