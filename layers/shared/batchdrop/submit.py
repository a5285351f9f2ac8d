"""Submit: the documents of one ingest window become ONE Message Batches job."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from batchdrop import documents
from batchdrop.anthropic_batches import MessageBatches
from batchdrop.aws.jobs_table import JobStore
from batchdrop.aws.storage import DocumentGone, DocumentStore
from batchdrop.manifest import REJECTED, ManifestEntry, dump_manifest, manifest_key, new_job_id
from batchdrop.observability import logger
from batchdrop.profiles import ProfileCatalog, UnknownProfile
from batchdrop.results import error_object
from batchdrop.s3_events import S3ObjectRef


@dataclass(frozen=True)
class SubmitOutcome:
    job_id: str | None
    batch_id: str | None
    submitted: int
    rejected: int
    ignored: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "batch_id": self.batch_id,
            "submitted": self.submitted,
            "rejected": self.rejected,
            "ignored": self.ignored,
        }


@dataclass
class IngestWindow:
    """Documents collected from one window of notifications, in arrival order.

    ``add`` does the per-document work (read, convert) so that a transient failure fails only
    that notification; ``submit`` then sends everything collected as one batch.
    """

    store: DocumentStore
    profiles: ProfileCatalog
    entries: list[ManifestEntry] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    ignored: int = 0
    _seen: set[tuple[str, str | None]] = field(default_factory=set)

    def add(self, ref: S3ObjectRef) -> None:
        doc = documents.parse_inbox_key(ref.key)
        if ref.bucket != self.store.bucket or doc is None:
            # Only inbox/ of our own bucket starts work; results and jobs must never loop back.
            logger.info("ignored object outside the inbox", extra={"bucket": ref.bucket, "key": ref.key})
            self.ignored += 1
            return
        if (ref.key, ref.version_id) in self._seen:
            self.ignored += 1
            return
        self._seen.add((ref.key, ref.version_id))

        custom_id = documents.custom_id(len(self.entries) + 1, ref.key, ref.version_id)
        base = ManifestEntry(
            custom_id=custom_id,
            source_key=ref.key,
            version_id=ref.version_id,
            etag=ref.etag,
            profile=doc.profile,
            error_key=documents.error_key(doc),
        )
        try:
            profile = self.profiles.get(doc.profile)
            stored = self.store.get_document(ref.key, ref.version_id)
            text = documents.decode_text(doc, stored.body)
        except (UnknownProfile, documents.DocumentRejected) as exc:
            self._reject(base, str(exc))
            return
        except DocumentGone:
            self._reject(base, "the document was deleted before it could be read")
            return
        self.entries.append(
            ManifestEntry(
                **{
                    **base.__dict__,
                    "version_id": stored.version_id,
                    "etag": stored.etag or ref.etag,
                    "model": profile.model,
                    "result_key": documents.result_key(doc, profile),
                }
            )
        )
        self.requests.append({"custom_id": custom_id, "params": documents.message_params(profile, doc, text)})

    def _reject(self, entry: ManifestEntry, reason: str) -> None:
        logger.warning("document rejected", extra={"key": entry.source_key, "reason": reason})
        self.entries.append(ManifestEntry(**{**entry.__dict__, "status": REJECTED, "reason": reason}))

    @property
    def rejected(self) -> list[ManifestEntry]:
        return [e for e in self.entries if e.status == REJECTED]

    def submit(self, jobs: JobStore, batches: MessageBatches, now: datetime) -> SubmitOutcome:
        """Write the manifest and the rejections, record the job, create the batch."""
        if not self.entries:
            return SubmitOutcome(None, None, 0, 0, self.ignored)
        job_id = new_job_id(now)
        rejected = self.rejected
        for entry in rejected:
            self.store.put_result(
                error_object(job_id, entry, result_type="rejected", reason=entry.reason or "rejected")
            )
        key = manifest_key(job_id)
        self.store.put_bytes(key, dump_manifest(self.entries), "application/x-ndjson")
        if not self.requests:
            logger.warning("no document of the window could be submitted", extra={"job_id": job_id})
            return SubmitOutcome(job_id, None, 0, len(rejected), self.ignored)

        jobs.record_intent(
            job_id,
            key,
            now,
            documents=len(self.entries),
            requests=len(self.requests),
            rejected=len(rejected),
            profiles=sorted({e.profile for e in self.entries}),
        )
        batch = batches.create(self.requests)
        jobs.record_submitted(job_id, batch.id, batch.expires_at, batch.created_at, now)
        logger.info(
            "batch created",
            extra={
                "job_id": job_id,
                "batch_id": batch.id,
                "requests": len(self.requests),
                "rejected": len(rejected),
            },
        )
        return SubmitOutcome(job_id, batch.id, len(self.requests), len(rejected), self.ignored)
