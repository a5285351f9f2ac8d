"""In-memory fakes of the ports (batchdrop.ports), for the use cases' unit tests: no moto, no
HTTP, no threads of their own. Each fake keeps the contract of its adapter where a use case can
tell the difference (a conditional move that loses, a missing object, a lost claim), and records
what was done to it so that a test can assert on it.

The jobs fake moves records only along domain.lifecycle's TRANSITIONS, with the same conditions
as the DynamoDB adapter's conditional writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from batchdrop.domain.job import JobRecord
from batchdrop.domain.lifecycle import BY_ACTION, JobState
from batchdrop.domain.models import ModelFacts
from batchdrop.domain.results import (
    METADATA_JOB,
    METADATA_SEQUENCER,
    METADATA_SOURCE,
    METADATA_VERSION_ID,
    ResultObject,
    Superseded,
)
from batchdrop.domain.summary import Summary
from batchdrop.domain.times import iso, iso_ms
from batchdrop.ports.batches import BatchInfo
from batchdrop.ports.bucket import DocumentGone, DocumentHead, DocumentTooLarge, StoredDocument
from batchdrop.ports.jobs import HoldChanged

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when told: ``clock()`` is now, ``advance`` moves it on."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class CrashAt:
    """A crash hook that raises at one named point, once (as a dying container would)."""

    class Crashed(BaseException):
        pass

    def __init__(self, point: str) -> None:
        self.point = point
        self.fired = False
        self.seen: list[str] = []

    def __call__(self, point: str) -> None:
        self.seen.append(point)
        if point == self.point and not self.fired:
            self.fired = True
            raise CrashAt.Crashed(point)


# --- the jobs store and its claims ----------------------------------------------------------------


@dataclass
class FakeJobs:
    """JobsStore and Claims in memory. ``moves`` lists every move made, as (action, job_id)."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    document_claims: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch_claims: dict[str, str] = field(default_factory=dict)
    moves: list[tuple[str, str]] = field(default_factory=list)
    writes: int = 0

    # reading
    def get(self, job_id: str) -> JobRecord | None:
        item = self.items.get(job_id)
        return JobRecord.from_attributes(json.loads(json.dumps(item))) if item else None

    def open_jobs(self) -> Iterator[JobRecord]:
        for job_id in sorted(self.items, key=lambda j: self.items[j]["created_at"]):
            if self.items[job_id].get("open_flag"):
                record = self.get(job_id)
                assert record is not None
                yield record

    def state(self, job_id: str) -> JobState:
        return JobState(self.items[job_id]["status"])

    # the moves
    def _move(self, action: str, job_id: str, condition: bool, **changes: Any) -> bool:
        """Make ``action``'s move when the record is in one of its source states and
        ``condition`` holds; the target state is the lifecycle's."""
        item = self.items.get(job_id)
        transition = BY_ACTION[action]
        if item is None or JobState(item["status"]) not in transition.source or not condition:
            return False
        item.update(changes, status=transition.target.value)
        for name in [k for k, v in changes.items() if v is _REMOVE]:
            del item[name]
        self.moves.append((action, job_id))
        self.writes += 1
        return True

    def _held(self, job_id: str, owner: str) -> bool:
        item = self.items.get(job_id, {})
        return "batch_id" not in item and item.get("creation_owner") == owner

    def record_intent(
        self,
        job_id: str,
        manifest_key: str,
        now: datetime,
        lease: timedelta,
        owner: str | None = None,
        **attributes: Any,
    ) -> None:
        if job_id in self.items:
            raise AssertionError(f"record_intent: {job_id} exists (the adapter's condition fails)")
        self.items[job_id] = {
            **{k: (float(v) if isinstance(v, Decimal) else v) for k, v in attributes.items()},
            "job_id": job_id,
            "status": JobState.SUBMITTING.value,
            "manifest_key": manifest_key,
            "created_at": iso(now),
            "updated_at": iso(now),
            "creation_lease_until": iso(now + lease),
            "open_flag": "OPEN",
            **({"creation_owner": owner} if owner is not None else {}),
        }
        self.moves.append(("record_intent", job_id))
        self.writes += 1

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
        """The adapter's transaction: all or nothing."""
        if any(self.items.get(held, {}).get("status") != JobState.HELD for held in merges):
            raise HoldChanged(f"a held job of {', '.join(merges)} is no longer held")
        self.record_intent(job_id, manifest_key, now, lease, owner, **attributes)
        if held_until is not None:
            self.items[job_id].update(status=JobState.HELD.value, held_until=iso(held_until))
            self.moves[-1] = ("record_held", job_id)
        if merges:
            self.items[job_id]["merged"] = list(merges)
        for held in merges:
            assert self._move(
                "merge_held", held, True, merged_into=job_id, open_flag=_REMOVE, updated_at=iso(now)
            )

    def release_hold(
        self, job_id: str, now: datetime, lease: timedelta, owner: str, backend: str | None = None
    ) -> bool:
        item = self.items.get(job_id, {})
        return self._move(
            "release_hold",
            job_id,
            str(item.get("held_until", "")) <= iso(now),
            creation_owner=owner,
            creation_lease_until=iso(now + lease),
            released_at=iso(now),
            updated_at=iso(now),
            **({"backend": backend} if backend else {}),
        )

    def claim_creation(self, job_id: str, now: datetime, lease: timedelta, owner: str) -> bool:
        item = self.items.get(job_id, {})
        if item.get("status") != JobState.SUBMITTING or "batch_id" in item:
            return False
        until = item.get("creation_lease_until")
        if until is not None and until > iso(now):
            return False
        item.update(creation_lease_until=iso(now + lease), creation_owner=owner, updated_at=iso(now))
        self.writes += 1
        return True

    def note_create_call(self, job_id: str, now: datetime, owner: str, lease: timedelta) -> bool:
        item = self.items.get(job_id, {})
        if item.get("status") != JobState.SUBMITTING or not self._held(job_id, owner):
            return False
        item.setdefault("create_calls", []).append(iso_ms(now))
        item.update(creation_lease_until=iso(now + lease), updated_at=iso(now))
        self.writes += 1
        return True

    def settle_create_call(self, job_id: str, called: datetime) -> None:
        self.items[job_id].setdefault("settled_calls", []).append(iso_ms(called))
        self.writes += 1

    def record_waiting(self, job_id: str, now: datetime, until: datetime, reason: str, owner: str) -> bool:
        item = self.items.get(job_id, {})
        if item.get("status") != JobState.SUBMITTING or not self._held(job_id, owner):
            return False
        item.setdefault("waiting_since", iso(now))
        item.update(
            creation_lease_until=iso(until),
            last_refusal=reason[:1000],
            create_refusals=int(item.get("create_refusals", 0)) + 1,
            updated_at=iso(now),
        )
        self.writes += 1
        return True

    def give_up_creation(self, job_id: str, now: datetime, reason: str, owner: str) -> bool:
        return self._move(
            "give_up_creation",
            job_id,
            self._held(job_id, owner),
            end_reason=reason[:2000],
            updated_at=iso(now),
            creation_lease_until=_REMOVE,
        )

    def abandon(self, job_id: str, now: datetime, reason: str) -> bool:
        return self._move(
            "abandon", job_id, True, abandoned_reason=reason, updated_at=iso(now), open_flag=_REMOVE
        )

    def record_submitted(
        self,
        job_id: str,
        batch_id: str,
        batch_expires_at: str,
        created_at: str,
        now: datetime,
        adopted: bool = False,
    ) -> bool:
        return self._move(
            "record_submitted",
            job_id,
            True,
            batch_id=batch_id,
            batch_expires_at=batch_expires_at,
            open_flag="OPEN",
            open_since=created_at,
            processing_status="in_progress",
            updated_at=iso(now),
            adopted=adopted,
            creation_lease_until=_REMOVE,
        )

    def update_progress(
        self, job_id: str, processing_status: str, request_counts: dict[str, int], now: datetime
    ) -> bool:
        item = self.items.get(job_id, {})
        if item.get("status") != JobState.SUBMITTED:
            return False
        item.update(
            processing_status=processing_status,
            request_counts=dict(request_counts),
            polled_at=iso(now),
            updated_at=iso(now),
        )
        self.writes += 1
        return True

    def claim_ended(self, job_id: str, now: datetime, lease: timedelta) -> bool:
        item = self.items.get(job_id, {})
        stale = item.get("status") != JobState.ENDING or item.get("ending_claimed_at", "") < iso(now - lease)
        return self._move("claim_ended", job_id, stale, ending_claimed_at=iso(now), updated_at=iso(now))

    def release_ended(self, job_id: str, now: datetime) -> bool:
        return self._move("release_ended", job_id, True, updated_at=iso(now), ending_claimed_at=_REMOVE)

    def claim_redrive(self, job_id: str, now: datetime, every: timedelta) -> bool:
        item = self.items.get(job_id, {})
        stale = iso(now - every)
        if item.get("status") not in (JobState.ENDED, JobState.COMPLETING) or item["updated_at"] >= stale:
            return False
        if item.get("redriven_at", "") >= stale:
            return False
        item["redriven_at"] = iso(now)
        self.writes += 1
        return True

    def mark_ended(self, job_id: str, now: datetime) -> bool:
        return self._move("mark_ended", job_id, True, ended_at=iso(now), updated_at=iso(now))

    def claim_completion(self, job_id: str, now: datetime, lease: timedelta) -> bool:
        item = self.items.get(job_id, {})
        free = item.get("status") != JobState.COMPLETING or item.get("completing_claimed_at", "") < iso(
            now - lease
        )
        return self._move(
            "claim_completion", job_id, free, completing_claimed_at=iso(now), updated_at=iso(now)
        )

    def mark_cancel_requested(self, job_id: str, now: datetime) -> bool:
        item = self.items.get(job_id)
        if item is None:
            return False
        item.setdefault("cancel_requested_at", iso(now))
        item["updated_at"] = iso(now)
        self.writes += 1
        return True

    def disown_batch(self, job_id: str, batch_id: str, now: datetime) -> bool:
        item = self.items.get(job_id, {})
        removed = dict.fromkeys(
            (
                "batch_id",
                "batch_expires_at",
                "adopted",
                "completing_claimed_at",
                "ending_claimed_at",
                "ended_at",
                "waiting_since",
                "create_refusals",
            ),
            _REMOVE,
        )
        disowned = self._move(
            "disown_batch",
            job_id,
            item.get("batch_id") == batch_id,
            creation_lease_until=iso(now),
            updated_at=iso(now),
            disowned_batches=[*item.get("disowned_batches", []), batch_id],
            **{k: v for k, v in removed.items() if k in item},
        )
        if disowned and self.batch_claims.get(batch_id) == job_id:
            del self.batch_claims[batch_id]
        return disowned

    def release_completion(self, job_id: str, now: datetime) -> bool:
        return self._move(
            "release_completion", job_id, True, updated_at=iso(now), completing_claimed_at=_REMOVE
        )

    def mark_completed(self, job_id: str, now: datetime, summary: Summary) -> bool:
        if self.items.get(job_id, {}).get("status") != JobState.COMPLETING:
            return False
        cost, total = summary.cost, (summary.workflow.total_cost if summary.workflow else summary.cost)
        return self._move(
            "mark_completed",
            job_id,
            True,
            completed_at=iso(now),
            updated_at=iso(now),
            result_counts=dict(summary.counts),
            cost_batch=cost.batch,
            cost_standard=cost.standard,
            cost_complete=cost.complete,
            cost_by_profile={profile: dict(costs) for profile, costs in summary.cost_by_profile.items()},
            tokens=summary.tokens.as_dict(),
            summary_key=summary.summary_key,
            workflow_cost_batch=total.money.batch,
            workflow_cost_standard=total.money.standard,
            workflow_cost_complete=total.complete,
            open_flag=_REMOVE,
        )

    # claims
    def claim_document(self, identity: str, job_id: str, source_key: str, now: datetime) -> str | None:
        held = self.document_claims.get(identity)
        if held is not None:
            return str(held["claimed_by"])
        self.document_claims[identity] = {"claimed_by": job_id, "source_key": source_key, "at": now}
        self.writes += 1
        return None

    def claim_documents(self, claims: list[tuple[str, str]], job_id: str, now: datetime) -> list[str | None]:
        answers: list[str | None] = []
        seen: set[str] = set()
        for identity, key in claims:
            answers.append(job_id if identity in seen else self.claim_document(identity, job_id, key, now))
            seen.add(identity)
        return answers

    def claim_age(self, identity: str, now: datetime) -> timedelta | None:
        held = self.document_claims.get(identity)
        return None if held is None else now - held["at"]

    def take_over_claim(self, identity: str, from_job: str, to_job: str, now: datetime) -> bool:
        held = self.document_claims.get(identity)
        if held is None or held["claimed_by"] != from_job:
            return False
        held.update(claimed_by=to_job, at=now)
        return True

    def claim_batch(self, batch_id: str, job_id: str, now: datetime, force: bool = False) -> bool:
        if force or self.batch_claims.get(batch_id) in (None, job_id):
            self.batch_claims[batch_id] = job_id
            return True
        return False

    def batch_holder(self, batch_id: str) -> str | None:
        return self.batch_claims.get(batch_id)


_REMOVE: Any = object()  # a change that removes the attribute (DynamoDB's REMOVE)


# --- the bucket -----------------------------------------------------------------------------------


@dataclass
class StoredObject:
    body: bytes
    content_type: str = "application/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)
    version_id: str | None = None


@dataclass
class FakeBucket:
    """The Bucket port over a dict of key -> object. ``writes`` lists every key written, in order."""

    bucket: str = "documents"
    objects: dict[str, StoredObject] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)
    _versions: int = 0

    def put(self, key: str, body: bytes | str, content_type: str = "text/plain", **metadata: str) -> str:
        """Put an object as a user would; returns its version id."""
        self._versions += 1
        version = f"v{self._versions}"
        raw = body.encode() if isinstance(body, str) else body
        self.objects[key] = StoredObject(raw, content_type, dict(metadata), version)
        return version

    def text(self, key: str) -> str:
        return self.objects[key].body.decode()

    def json(self, key: str) -> Any:
        return json.loads(self.objects[key].body)

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _found(self, key: str, version_id: str | None) -> StoredObject:
        obj = self.objects.get(key)
        if obj is None or (version_id is not None and obj.version_id != version_id):
            raise DocumentGone(f"{key} ({version_id or 'current'}) is gone")
        return obj

    def head_document(self, key: str, version_id: str | None = None) -> DocumentHead:
        obj = self._found(key, version_id)
        return DocumentHead(key, len(obj.body), obj.version_id, f"etag-{key}", "STANDARD", None, None)

    def get_document(
        self,
        key: str,
        version_id: str | None = None,
        *,
        max_bytes: int | None = None,
        size: int | None = None,
    ) -> StoredDocument:
        obj = self._found(key, version_id)
        if max_bytes is not None and len(obj.body) > max_bytes:
            raise DocumentTooLarge(f"the document is {len(obj.body)} bytes; the limit is {max_bytes}")
        return StoredDocument(
            key, obj.body, obj.version_id, f"etag-{key}", obj.content_type, dict(obj.metadata)
        )

    def _write(
        self, key: str, body: bytes, content_type: str, metadata: dict[str, str] | None = None
    ) -> None:
        self._versions += 1
        self.objects[key] = StoredObject(body, content_type, dict(metadata or {}), f"v{self._versions}")
        self.writes.append(key)

    def put_result(self, obj: ResultObject, **condition: str) -> None:
        if condition.get("IfNoneMatch") == "*" and obj.key in self.objects:
            raise AssertionError(f"{obj.key} exists: the conditional put would fail")
        self._write(obj.key, obj.body, obj.content_type, obj.metadata)

    def put_newest(self, obj: ResultObject, sibling: str | None = None) -> Superseded | None:
        """The adapter's rule in short: a key holding the outcome of a newer version of the same
        source (by its S3 sequencer) is kept, and who holds it is said."""
        for key in (obj.key, sibling):
            held = self.objects.get(key) if key else None
            if held is None:
                continue
            mine, theirs = obj.metadata, held.metadata
            same_source = mine.get(METADATA_SOURCE) == theirs.get(METADATA_SOURCE)
            if same_source and theirs.get(METADATA_SEQUENCER, "") > mine.get(METADATA_SEQUENCER, ""):
                return Superseded(
                    key=str(key),
                    version_id=theirs.get(METADATA_VERSION_ID),
                    sequencer=theirs.get(METADATA_SEQUENCER),
                    job_id=theirs.get(METADATA_JOB),
                )
        self._write(obj.key, obj.body, obj.content_type, obj.metadata)
        return None

    def put_once(
        self, key: str, body: bytes, content_type: str, metadata: dict[str, str], owner: str
    ) -> bool:
        held = self.objects.get(key)
        if held is not None and held.metadata.get("batchdrop-previous-job") == owner:
            return False
        self._write(key, body, content_type, metadata)
        return True

    def put_bytes(self, key: str, body: bytes, content_type: str) -> None:
        self._write(key, body, content_type)

    def put_json(self, key: str, data: Any) -> None:
        self._write(key, json.dumps(data, ensure_ascii=False, indent=2).encode(), "application/json")

    def get_json(self, key: str) -> Any:
        obj = self.objects.get(key)
        return None if obj is None else json.loads(obj.body)

    def upload_file(self, key: str, path: str, content_type: str) -> None:
        with open(path, "rb") as file:
            self._write(key, file.read(), content_type)

    def objects_under(self, prefix: str, suffixes: tuple[str, ...]) -> dict[str, bytes]:
        return {k: o.body for k, o in self.objects.items() if k.startswith(prefix) and k.endswith(suffixes)}

    def exists(self, key: str) -> bool:
        return key in self.objects

    def read_lines(self, key: str) -> Iterator[str]:
        yield from self.objects[key].body.decode().splitlines()


# --- the batch backend, the notifier, the bus -----------------------------------------------------


COUNT_NAMES = ("processing", "succeeded", "errored", "canceled", "expired")


class FakeBatches:
    """The BatchBackend and ModelsApi ports. A created batch runs until ``end`` gives it its
    results (by custom_id: a result dict as the API's JSONL has it, or a default success)."""

    def __init__(self, clock: FakeClock, models: list[ModelFacts] | None = None) -> None:
        self.clock = clock
        self.batches: dict[str, BatchInfo] = {}
        self.requests: dict[str, list[dict[str, Any]]] = {}
        self.outcomes: dict[str, dict[str, dict[str, Any]]] = {}
        self.canceled: list[str] = []
        self.created: list[str] = []
        self.catalogue = {m.id: m for m in models or []}
        self.fail_create: list[BaseException] = []  # raised by the next creates, in order

    def for_job(self, job_id: str) -> FakeBatches:
        return self  # as the Claude API's adapter: its batches are not named after the job

    def create(self, requests: list[dict[str, Any]]) -> BatchInfo:
        if self.fail_create:
            raise self.fail_create.pop(0)
        batch_id = f"msgbatch_{len(self.batches) + 1:04d}"
        now = self.clock()
        counts = dict.fromkeys(COUNT_NAMES, 0) | {"processing": len(requests)}
        info = BatchInfo(batch_id, "in_progress", counts, iso(now), iso(now + timedelta(hours=24)), None)
        self.batches[batch_id] = info
        self.requests[batch_id] = list(requests)
        self.created.append(batch_id)
        return info

    def end(self, batch_id: str, outcomes: dict[str, dict[str, Any]] | None = None) -> None:
        """End the batch: each request gets ``outcomes[custom_id]`` or a short success."""
        results = {
            r["custom_id"]: (outcomes or {}).get(r["custom_id"]) or succeeded(r["custom_id"])
            for r in self.requests[batch_id]
        }
        counts = dict.fromkeys(COUNT_NAMES, 0)
        for result in results.values():
            counts[result["type"]] += 1
        old = self.batches[batch_id]
        self.batches[batch_id] = BatchInfo(
            batch_id, "ended", counts, old.created_at, old.expires_at, iso(self.clock())
        )
        self.outcomes[batch_id] = results

    def retrieve(self, batch_id: str) -> BatchInfo:
        return self.batches[batch_id]

    def cancel(self, batch_id: str) -> BatchInfo | None:
        self.canceled.append(batch_id)
        info = self.batches.get(batch_id)
        if info is None or info.ended:
            return None  # the API refuses to cancel an ended batch; the adapter says None
        canceling = BatchInfo(
            batch_id, "canceling", info.request_counts, info.created_at, info.expires_at, None
        )
        self.batches[batch_id] = canceling
        return canceling

    def created_since(self, since: datetime) -> Iterator[BatchInfo]:
        made = [b for b in self.batches.values() if b.created_at >= iso(since)]
        yield from sorted(made, key=lambda b: b.created_at, reverse=True)

    def results(self, batch_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """As the adapter gives them: each line's text and the line parsed."""
        for custom_id, result in self.outcomes[batch_id].items():
            line = {"custom_id": custom_id, "result": result}
            yield json.dumps(line), line

    def model(self, model_id: str) -> ModelFacts | None:
        return self.catalogue.get(model_id)

    def models(self) -> list[ModelFacts]:
        return list(self.catalogue.values())


def succeeded(custom_id: str, text: str = "An answer.", model: str = "claude-haiku-5-5") -> dict[str, Any]:
    """A succeeded result as the API's results JSONL carries it."""
    return {
        "type": "succeeded",
        "message": {
            "id": f"msg_{custom_id[:12]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 100, "output_tokens": 20},
        },
    }


def errored(error_type: str = "invalid_request_error", message: str = "refused") -> dict[str, Any]:
    return {"type": "errored", "error": {"type": "error", "error": {"type": error_type, "message": message}}}


@dataclass
class FakeNotifier:
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def publish(self, subject: str, message: dict[str, Any]) -> str:
        self.published.append((subject, message))
        return f"message-{len(self.published)}"


@dataclass
class FakeBus:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail_next: list[BaseException] = field(default_factory=list)

    def emit(self, detail_type: str, detail: dict[str, Any]) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.events.append((detail_type, detail))


def summary_of(**fields: Any) -> Summary:
    """A completed job's summary with only ``fields`` set; the rest as summary.json has them when
    absent (Summary.from_json): no documents, no cost."""
    cost = {"batch": 0.0, "standard": 0.0, "savings": 0.0, "complete": True}
    return Summary.from_json({"job_id": "job", "documents": 0, "counts": {}, "cost": cost, **fields})
