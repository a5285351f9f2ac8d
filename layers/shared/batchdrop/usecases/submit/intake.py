"""Intake: the notifications of a window become pending requests and rejections, in arrival order.

Each notified document of the inbox is read (ahead, a few at a time: read_ahead), once per
version (a repeated notification is ignored), converted per its kind (domain.convert) or read
as a request list, built into a request by its profile, estimated and priced. What cannot be
sent is rejected with a reason a person understands. Cancel markers are collected; objects
outside the inbox are ignored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from batchdrop.domain import documents, estimate, keys
from batchdrop.domain.convert import DocumentLimits, convert, max_source_bytes
from batchdrop.domain.documents import S3ObjectRef
from batchdrop.domain.keys import cancel_marker_job
from batchdrop.domain.manifest import REJECTED, ManifestEntry
from batchdrop.domain.pricing import PriceTable
from batchdrop.domain.profiles import InvalidProfile, Profile, ProfileCatalog, UnknownProfile
from batchdrop.domain.request_lists import LIST_EXTENSION, ListedError, parse_request_list
from batchdrop.observability import logger
from batchdrop.ports.bucket import Bucket, DocumentGone, StoredDocument
from batchdrop.usecases.submit.read_ahead import ReadAhead
from batchdrop.usecases.submit.values import BODY_OVERHEAD, BatchLimits, PendingRequest


@dataclass
class Intake:
    """Documents collected from one window of notifications, in arrival order.

    ``add`` does the per-document work (read, convert) so that a transient failure fails only
    that notification (it raises, for that notification alone).
    """

    store: Bucket
    load_profiles: Callable[[], ProfileCatalog]
    document_limits: DocumentLimits = field(default_factory=DocumentLimits)
    batch_limits: BatchLimits = field(default_factory=BatchLimits)
    prices: PriceTable = field(default_factory=PriceTable.bundled)
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
            self.reject(replace(base, custom_id=self._next_custom_id(ref.key, ref.version_id)), str(exc))
        except DocumentGone:
            self.reject(
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
        schema = _schema_of(profile, params)
        self._append(entry, params, converted.detail, profile.max_job_cost_usd, schema, profile)

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
                self.reject(entry, line.reason)
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
                entry,
                line.params,
                None,
                line.profile.max_job_cost_usd,
                _schema_of(line.profile, line.params),
                line.profile,
            )

    def _append(
        self,
        entry: ManifestEntry,
        params: dict[str, Any],
        detail: dict[str, Any] | None,
        budget: float | None,
        schema: dict[str, Any] | None,
        profile: Profile,
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
        if size + BODY_OVERHEAD > self.batch_limits.max_bytes:
            self.reject(
                entry,
                f"the request for this document is {size / 1e6:.1f} MB, more than a whole batch may hold "
                f"({self.batch_limits.max_bytes / 1e6:.1f} MB)",
            )
            return
        self.pending.append(
            PendingRequest(entry, request, line, budget, schema, profile.backend, profile.below_minimum)
        )

    def reject(self, entry: ManifestEntry, reason: str) -> None:
        logger.warning(
            "document rejected", extra={"key": entry.source_key, "item": entry.item, "reason": reason}
        )
        self.rejected.append(replace(entry, status=REJECTED, reason=reason))


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
