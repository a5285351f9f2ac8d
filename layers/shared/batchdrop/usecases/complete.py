"""Complete: write every document's answer (or error), the job's summary, and tell people."""

from __future__ import annotations

import bisect
import json
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from batchdrop.adapters.anthropic_backend import MessageBatches
from batchdrop.adapters.dynamodb_jobs import JobRecord, JobStore
from batchdrop.adapters.messaging import BATCH_ENDED, JOB_COMPLETED, JobEvents, Notifier
from batchdrop.adapters.s3_bucket import DocumentStore
from batchdrop.domain.documents import (
    METADATA_ORIGIN,
    METADATA_PREVIOUS_JOB,
    METADATA_STAGE,
    METADATA_WORKFLOW,
)
from batchdrop.domain.documents_table import RowFacts, document_row, job_day, row_line
from batchdrop.domain.keys import (
    checkpoint_key,
    documents_key,
    manifest_key,
    next_stage_key,
    requests_key,
    results_key,
    rows_part_key,
    summary_key,
    table_key,
)
from batchdrop.domain.lifecycle import COMPLETED, COMPLETING
from batchdrop.domain.manifest import REJECTED, ManifestEntry, dump_manifest, follow_up_job_id
from batchdrop.domain.manifest_index import LOOKUP_CHUNK, ManifestIndex, PositionSet
from batchdrop.domain.pricing import PriceTable
from batchdrop.domain.results import (
    JobSummary,
    ResultObject,
    ResultsArchived,
    Superseded,
    answer_text,
    archived_object,
    error_object,
    is_retryable,
    metadata_value,
    missing_object,
    result_object,
)
from batchdrop.domain.structured import AnswerCheck, Feedback, SchemaCache, check_answer, with_feedback
from batchdrop.domain.times import iso
from batchdrop.observability import logger
from batchdrop.ports.runtime import CrashHook, no_crash
from batchdrop.usecases.batch_creation import BatchCreation, CreationPolicy, JobToCreate, new_owner

T = TypeVar("T")

# A Complete invocation that holds a job longer than this without finishing is presumed dead.
COMPLETING_LEASE = timedelta(minutes=20)
# Save progress this often (results); and hand the job over with this much time left.
CHECKPOINT_EVERY = 1000
HANDOVER_MARGIN_SECONDS = 60.0
# Documents a workflow's summary names as where it started.
MAX_ORIGINS = 20
# Documents with shortened keys a summary names.
MAX_SHORTENED = 100


class WrongBatch(RuntimeError):
    """An adopted batch's results name none of the job's documents: it was another's."""


class JobNotEnded(RuntimeError):
    """A "Batch Ended" for a job that is not (or no longer) waiting to be completed."""


@dataclass(frozen=True)
class CompletionContext:
    jobs: JobStore
    store: DocumentStore
    batches: MessageBatches
    notifier: Notifier
    events: JobEvents
    prices: PriceTable
    now: Callable[[], datetime]
    write_concurrency: int = 16
    crash: CrashHook = no_crash  # the local stack and the tests inject one; deployed, nothing
    lease: timedelta = COMPLETING_LEASE
    # Attempts a request gets in all (the first and the follow-ups) before it gets an error.
    max_attempts: int = 3
    # Seconds this invocation has left (Lambda's context); None: no limit.
    remaining: Callable[[], float] | None = None
    # How a follow-up job's batch is created (leases, waiting for queue capacity).
    creation: CreationPolicy = field(default_factory=CreationPolicy)


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _ParallelWriter:
    """Runs each document's writes with bounded concurrency and bounded memory, and says which
    were confirmed.

    A document's writes (its result object, and in a workflow its next-stage document) are one
    task. Its ``confirm`` runs in the caller's thread, in the order the tasks were submitted, and
    only once the task has returned: that is when a document may be called done and counted. A
    task that raised leaves its document unconfirmed (done by a later run); the first failure
    stops new submissions and is raised by ``check``.
    """

    def __init__(self, concurrency: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="result-writer")
        self._limit = concurrency * 4
        self._pending: deque[tuple[int, Future[Any], Callable[[Any], None]]] = deque()
        self._positions: set[int] = set()
        self.failures: list[Exception] = []

    def submit(self, position: int, task: Callable[[], T], confirm: Callable[[T], None]) -> None:
        self.check()
        while len(self._pending) >= self._limit:
            self._settle_oldest()
            self.check()
        self._positions.add(position)
        self._pending.append((position, self._pool.submit(task), confirm))

    def pending(self, position: int) -> bool:
        """Whether a task of this position was submitted and is not settled yet."""
        return position in self._positions

    def _settle_oldest(self) -> None:
        position, future, confirm = self._pending.popleft()
        self._positions.discard(position)
        try:
            value = future.result()
        except Exception as exc:  # that document stays undone; the others still settle
            logger.warning("a result write failed", extra={"position": position, "error": repr(exc)})
            self.failures.append(exc)
            return
        confirm(value)

    def drain(self) -> None:
        """Wait for every task submitted; confirm those that succeeded (failures are kept)."""
        while self._pending:
            self._settle_oldest()

    def check(self) -> None:
        if self.failures:
            raise self.failures[0]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class Checkpoint:
    """How far a completion got: the requests done, the summary so far, what is to be retried.

    Saved every CHECKPOINT_EVERY results and before handing over, so that a Complete that times
    out or dies is resumed by the next one without losing or repeating a result. Requests are
    named by their position in the manifest, in bitmaps: a few KB however large the job.
    """

    done: PositionSet
    retry: PositionSet
    summary: dict[str, Any] | None = None
    notified: bool = False
    # The documents-table rows of the requests done are in this many parts (rows_part_key),
    # each written before the checkpoint that counts it; with them, the feedback of the
    # answers to be asked again.
    row_parts: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "done": self.done.to_text(),
            "retry": self.retry.to_text(),
            "summary": self.summary,
            "notified": self.notified,
            "row_parts": self.row_parts,
        }

    @classmethod
    def load(cls, store: DocumentStore, job_id: str, size: int) -> Checkpoint:
        data = store.get_json(checkpoint_key(job_id))
        if data is None:
            return cls(PositionSet(size), PositionSet(size))
        return cls(
            PositionSet.from_text(size, data["done"]),
            PositionSet.from_text(size, data["retry"]),
            data["summary"],
            bool(data["notified"]),
            int(data.get("row_parts", 0)),
        )


@dataclass
class _ManifestFacts:
    """What the summary needs of the manifest as a whole, gathered in one streamed pass."""

    attempt: int = 1
    notify_each_stage: bool = False
    profiles: set[str] = field(default_factory=set)
    # Of the submitted entries (not the rejected ones): where the job stands in a workflow.
    in_workflow: bool = False
    workflow_id: str | None = None
    stage: int = 0
    previous_jobs: set[str] = field(default_factory=set)
    next_profiles: set[str] = field(default_factory=set)
    final: bool = False
    origins: list[str] = field(default_factory=list)  # the first MAX_ORIGINS, sorted
    estimated: float = 0.0  # the submitted requests' estimated cost at batch price
    estimated_in_full: bool = True  # every one of them had an estimate
    # Documents whose keys were shortened to fit S3 (the first MAX_SHORTENED), and how many.
    shortened: list[dict[str, Any]] = field(default_factory=list)
    shortened_count: int = 0
    # Deprecated models the job's requests were sent to: model -> (retires_at, profiles, documents).
    deprecated: dict[str, tuple[str, set[str], int]] = field(default_factory=dict)

    @classmethod
    def of(cls, manifest: ManifestIndex) -> _ManifestFacts:
        facts = cls(attempt=0)
        for _, e in manifest.entries():
            facts.attempt = max(facts.attempt, e.attempt)
            facts.notify_each_stage = facts.notify_each_stage or e.notify_stage
            facts.profiles.add(e.profile)
            if e.full_keys:
                facts.shortened_count += 1
                if len(facts.shortened) < MAX_SHORTENED:
                    kept = {"result_key": e.result_key, "error_key": e.error_key}
                    facts.shortened.append(
                        {
                            "document": e.source_key,
                            **({"item": e.item} if e.item is not None else {}),
                            **{
                                field: {"key": kept[field], "full_key": full}
                                for field, full in e.full_keys.items()
                            },
                        }
                    )
            if e.status == REJECTED:
                continue
            if e.model_retires_at and e.model:
                retires_at, profiles, count = facts.deprecated.get(e.model, (e.model_retires_at, set(), 0))
                facts.deprecated[e.model] = (
                    min(retires_at, e.model_retires_at),
                    profiles | {e.profile},
                    count + 1,
                )
            facts.estimated += e.estimated_cost or 0.0
            facts.estimated_in_full = facts.estimated_in_full and e.estimated_cost is not None
            facts.in_workflow = facts.in_workflow or bool(e.next_profile or e.workflow_id)
            facts.workflow_id = facts.workflow_id or e.workflow_id
            facts.stage = max(facts.stage, e.stage)
            facts.final = facts.final or e.next_profile is None
            if e.previous_job_id:
                facts.previous_jobs.add(e.previous_job_id)
            if e.next_profile:
                facts.next_profiles.add(e.next_profile)
            if e.origin_key and e.origin_key not in facts.origins:
                bisect.insort(facts.origins, e.origin_key)
                del facts.origins[MAX_ORIGINS:]
        facts.attempt = facts.attempt or 1
        return facts

    def deprecated_models(self) -> list[dict[str, Any]]:
        """Each deprecated model the job used, soonest retirement first: what to move off."""
        return [
            {"model": model, "retires_at": retires_at, "profiles": sorted(profiles), "documents": count}
            for model, (retires_at, profiles, count) in sorted(
                self.deprecated.items(), key=lambda m: (m[1][0], m[0])
            )
        ]


class _Completion:
    """One invocation's work on one job, resumable from its checkpoint."""

    def __init__(self, job: JobRecord, ctx: CompletionContext, manifest: ManifestIndex) -> None:
        self.job = job
        self.ctx = ctx
        self.manifest = manifest
        self.checkpoint = Checkpoint.load(ctx.store, job.job_id, len(manifest))
        state = self.checkpoint.summary
        self.summary = (
            JobSummary.from_state(job.job_id, job.batch_id, ctx.prices, state)
            if state
            else JobSummary(job_id=job.job_id, batch_id=job.batch_id, prices=ctx.prices)
        )
        self.facts = _ManifestFacts.of(manifest)
        self.attempt = self.facts.attempt
        self.archived: ResultsArchived | None = None
        self._since_save = 0
        # The job's own copies of its schemas, each read once.
        self.schemas = SchemaCache(ctx.store.get_json)
        # Rows (and feedback) of the requests confirmed since the last checkpoint.
        self._rows: list[dict[str, Any]] = []
        # Where what is asked again goes (the id is derived, so it is known before it exists).
        self.follow_up = follow_up_job_id(job.job_id, self.attempt + 1)

    def save(self, writer: _ParallelWriter) -> None:
        """Checkpoint what is confirmed: what the checkpoint calls done is written, and the
        summary and the rows saved with it are exactly those documents'.

        The rows go first, as the next part; the checkpoint then counts that part. A crash
        between the two leaves a part no checkpoint counts: its documents are done again and
        their rows written over it.
        """
        writer.drain()
        if self._rows:
            part = self.checkpoint.row_parts
            body = "".join(
                json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in self._rows
            )
            self.ctx.store.put_bytes(
                rows_part_key(self.job.job_id, part), body.encode(), "application/x-ndjson"
            )
            self.ctx.crash("complete:after-rows-part")
            self.checkpoint.row_parts = part + 1
            self._rows = []
        self.checkpoint.summary = self.summary.to_state()
        self.ctx.store.put_json(checkpoint_key(self.job.job_id), self.checkpoint.to_json())
        self._since_save = 0

    def _row(
        self, position: int, entry: ManifestEntry, facts: RowFacts, feedback: Feedback | None = None
    ) -> None:
        """The document's row in the documents table (kept with the next checkpoint)."""
        record: dict[str, Any] = {
            "position": position,
            "row": document_row(self.job.job_id, self.job.batch_id, entry, facts, self.ctx.prices),
        }
        if feedback is not None:
            record["feedback"] = feedback.to_json()
        self._rows.append(record)

    def _check(self, entry: ManifestEntry, line: dict[str, Any]) -> AnswerCheck | None:
        """A schema profile's answer checked against the job's copy of its schema; else None."""
        result = line["result"]
        if entry.schema_key is None or result["type"] != "succeeded" or not entry.result_key:
            return None
        message = result["message"]
        validator = self.schemas.validator(entry.schema_key)
        return check_answer(answer_text(message), message.get("stop_reason"), validator)

    def _record_result(self, entry: ManifestEntry, line: dict[str, Any], obj: ResultObject) -> None:
        reason = json.loads(obj.body)["error"]["message"] if obj.outcome == "invalid_output" else None
        self.summary.record_result(entry, line, obj.outcome, reason)

    def _ask_again(
        self,
        position: int,
        entry: ManifestEntry,
        line: dict[str, Any],
        facts: RowFacts,
        feedback: Feedback | None,
    ) -> None:
        """A request to be sent again in the follow-up job (with its feedback, if any)."""
        self.checkpoint.retry.add(position)
        self.summary.record_retry(entry, line)
        self._row(position, entry, facts, feedback)
        self._confirmed(position)

    def _confirmed(self, position: int) -> None:
        self.checkpoint.done.add(position)
        self._since_save += 1
        if len(self.checkpoint.done) * 2 >= len(self.manifest) > 1:
            self.ctx.crash("complete:halfway")

    def _write(self, entry: ManifestEntry, obj: ResultObject) -> Superseded | None:
        """A document's writes (in a writer thread): its result object, unless a newer version
        of the document holds the key, then its answer as the next stage's document."""
        sibling = entry.result_key if entry.result_key and obj.key != entry.result_key else None
        held = self.ctx.store.put_newest(obj, sibling=sibling)
        if held is None and entry.next_profile and obj.outcome == "succeeded":
            self._hand_to_next_stage(entry, obj)
        return held

    def _submit(
        self,
        writer: _ParallelWriter,
        position: int,
        entry: ManifestEntry,
        obj: ResultObject,
        record: Callable[[], None],
        line: dict[str, Any] | None = None,
        extracted: Any = None,
    ) -> None:
        """Write a document's object; once confirmed, ``record`` it (or count it superseded),
        with its row."""

        def confirm(held: Superseded | None) -> None:
            if held is None:
                record()
                self._row(
                    position, entry, RowFacts(obj.outcome, line, result_key=obj.key, extracted=extracted)
                )
            else:
                self.summary.record_superseded(entry, obj.outcome, held, line)
                self._row(position, entry, RowFacts("superseded", line))
            self._confirmed(position)

        writer.submit(position, lambda: self._write(entry, obj), confirm)

    def collect(self, raw: Any) -> bool:
        """Stream the results; False when time ran short and the job was handed over."""
        job_id = self.job.job_id
        done = self.checkpoint.done
        end_reason = None if self.job.batch_id else str(self.job.end_reason or "")
        self._since_save = 0
        writer = _ParallelWriter(self.ctx.write_concurrency)
        try:
            try:
                # A job no batch was made for (end_reason) has no results: its documents get errors.
                lines = self.ctx.batches.results(str(self.job.batch_id)) if self.job.batch_id else iter(())
                for chunk in _chunks(lines, LOOKUP_CHUNK):
                    entries = self.manifest.get_many([str(line.get("custom_id", "")) for _, line in chunk])
                    if not entries and self.job.adopted:
                        # Found by listing (size and time), not named by a create's answer: its
                        # custom_ids prove whose it is. None of this job's: give it back.
                        raise WrongBatch(f"batch {self.job.batch_id} holds none of job {job_id}'s requests")
                    for text, line in chunk:
                        raw.write(text + "\n")
                        found = entries.get(str(line.get("custom_id", "")))
                        if found is None:
                            logger.warning(
                                "result line for no document of this job",
                                extra={"custom_id": line.get("custom_id")},
                            )
                            continue
                        position, entry = found
                        if position in done or writer.pending(position):
                            continue  # written before a hand-over or a crash
                        check = self._check(entry, line)
                        again = entry.attempt < self.ctx.max_attempts
                        if is_retryable(line) and again:
                            self._ask_again(
                                position,
                                entry,
                                line,
                                RowFacts("retried", line, retried_in=self.follow_up),
                                None,
                            )
                        elif check is not None and not check.valid and again:
                            # Billed, and asked again with its errors (durable with the checkpoint).
                            self._ask_again(
                                position,
                                entry,
                                line,
                                RowFacts("retried", line, error_type=check.kind, retried_in=self.follow_up),
                                Feedback.of(entry.custom_id, check),
                            )
                        else:
                            obj = result_object(job_id, entry, line, check)
                            self._submit(
                                writer,
                                position,
                                entry,
                                obj,
                                partial(self._record_result, entry, line, obj),
                                line,
                                extracted=check.value if check is not None and check.valid else None,
                            )
                        if self._since_save >= CHECKPOINT_EVERY or self._time_short():
                            self.save(writer)
                            writer.check()
                            if self._time_short():
                                return False
            except Exception as exc:
                archived = _archival(exc, self.job, self.ctx.batches)
                if archived is None:
                    raise
                self.archived = archived
                logger.warning("the batch's results were archived by the API", extra=archived.as_dict())
            # Every result line's write confirmed before deciding which documents have none.
            self.save(writer)
            writer.check()
            for position, entry in self.manifest.entries():
                if position in done:
                    continue
                if entry.status == REJECTED:
                    self.summary.record_failure(entry, "rejected", entry.reason or "rejected")
                    self._row(position, entry, RowFacts("rejected", result_key=entry.error_key))
                    self._confirmed(position)
                elif end_reason:
                    self._submit(
                        writer,
                        position,
                        entry,
                        error_object(job_id, entry, result_type="not_submitted", reason=end_reason),
                        partial(self.summary.record_failure, entry, "not_submitted", end_reason),
                    )
                elif self.archived is not None:
                    reason = self.archived.reason
                    self._submit(
                        writer,
                        position,
                        entry,
                        archived_object(job_id, entry, self.archived),
                        partial(self.summary.record_failure, entry, "archived", reason),
                    )
                else:
                    reason = "no result line for this request"
                    self._submit(
                        writer,
                        position,
                        entry,
                        missing_object(job_id, entry),
                        partial(self.summary.record_failure, entry, "missing", reason),
                    )
            self.save(writer)
            writer.check()
        except Exception:
            # A cut results stream, a throttled write: keep what was confirmed for the retry.
            self.save(writer)
            raise
        finally:
            writer.close()
        return True

    def _hand_to_next_stage(self, entry: ManifestEntry, answer: ResultObject) -> None:
        """The answer becomes a document of the workflow's next stage (written to its inbox
        folder, so the next stage is batched like any upload), linked to where it started."""
        assert entry.next_profile is not None
        key = next_stage_key(answer.key, entry.profile, entry.next_profile)
        metadata = {
            METADATA_WORKFLOW: entry.workflow_id or self.job.job_id,
            METADATA_STAGE: str(entry.stage + 1),
            METADATA_ORIGIN: metadata_value(entry.origin_key or entry.source_key),
            METADATA_PREVIOUS_JOB: self.job.job_id,
        }
        self.ctx.store.put_once(key, answer.body, answer.content_type, metadata, owner=self.job.job_id)

    def workflow(self) -> dict[str, Any] | None:
        """Where this job stands in its workflow, with the cost of the stages so far."""
        facts = self.facts
        if not facts.in_workflow:
            return None
        batch, standard = self.summary.cost()[0].batch, self.summary.cost()[0].standard
        complete = not self.summary.cost()[1]
        stages = []
        for job_id in sorted(facts.previous_jobs):
            record = self.ctx.jobs.get(job_id)
            if record is None or record.workflow_cost is None:
                complete = False
                continue
            batch += record.workflow_cost.batch
            standard += record.workflow_cost.standard
            complete = complete and record.workflow_cost.complete
            stages.append({"job_id": job_id, "summary_key": record.summary_key})
        return {
            "id": facts.workflow_id or self.job.job_id,
            "stage": facts.stage,
            "previous_jobs": stages,
            "next_profiles": sorted(facts.next_profiles),
            "final": facts.final,
            "origins": facts.origins,
            "total_cost": {
                "batch": round(batch, 9),
                "standard": round(standard, 9),
                "savings": round(standard - batch, 9),
                "complete": complete,
            },
        }

    def _time_short(self) -> bool:
        return self.ctx.remaining is not None and self.ctx.remaining() < HANDOVER_MARGIN_SECONDS

    def write_documents(self) -> dict[str, Feedback]:
        """The documents table of the job, from the rows checkpointed: ``documents.jsonl`` and
        its copy under ``tables/documents/``; the feedback of the answers to ask again.

        Both are written whole each time (the same rows in the same order), so a completion that
        dies after writing them and runs again writes the same bytes.
        """
        job_id = self.job.job_id
        feedback: dict[str, Feedback] = {}
        seen = PositionSet(len(self.manifest))
        with tempfile.NamedTemporaryFile("w+", encoding="utf-8", suffix=".jsonl") as rows:
            for part in range(self.checkpoint.row_parts):
                for text in self.ctx.store.read_lines(rows_part_key(job_id, part)):
                    if not text.strip():
                        continue
                    record = json.loads(text)
                    if record["position"] in seen:
                        logger.error(
                            "a document's row was recorded twice", extra={"position": record["position"]}
                        )
                        continue
                    seen.add(record["position"])
                    rows.write(row_line(record["row"]) + "\n")
                    if "feedback" in record:
                        found = Feedback.from_json(record["feedback"])
                        feedback[found.custom_id] = found
            rows.flush()
            if len(seen) != len(self.manifest):
                logger.error(
                    "documents table rows do not cover the job",
                    extra={"job_id": job_id, "rows": len(seen), "documents": len(self.manifest)},
                )
            self.ctx.store.upload_file(documents_key(job_id), rows.name, "application/x-ndjson")
            self.ctx.store.upload_file(self.table_key, rows.name, "application/x-ndjson")
        return feedback

    @property
    def table_key(self) -> str:
        return table_key(job_day(self.job.created_at, self.job.job_id), self.job.job_id)

    def resubmit(self, feedback: dict[str, Feedback]) -> str | None:
        """Send the transient failures and the invalid answers again, as a follow-up job of the
        next attempt (an invalid answer with its errors)."""
        if not self.checkpoint.retry:
            return None
        entries = [self.manifest.at(position) for position in self.checkpoint.retry]
        follow_up = resubmit(self.job, entries, self.attempt + 1, self.ctx, feedback)
        assert follow_up == self.follow_up
        return follow_up


def _archival(exc: Exception, job: JobRecord, batches: MessageBatches) -> ResultsArchived | None:
    """The archival of the batch's results, when that is what ``exc`` says; else None.

    The API answers 404 for the results of a batch it archived (29 days after its creation).
    A 404 also comes for a batch not ended yet, so the batch is looked at: ended means archived.
    Only an exception of a loaded SDK can be its NotFoundError, so the SDK is never imported here.
    """
    if isinstance(exc, ResultsArchived):
        return exc
    anthropic = sys.modules.get("anthropic")
    if anthropic is None or not isinstance(exc, anthropic.NotFoundError):
        return None
    batch = batches.retrieve(str(job.batch_id))
    if not batch.ended:
        return None
    return ResultsArchived(
        batch.id,
        created_at=batch.created_at or None,
        ended_at=batch.ended_at or job.ended_at,
        archived_at=getattr(batch, "archived_at", None),
    )


def complete_job(job_id: str, ctx: CompletionContext) -> dict[str, Any]:
    """Collect an ended job's results: the summary (``status`` "completed"), or ``status``
    "duplicate" when another delivery already completed the job, "busy" when another invocation
    holds a live lease on it, or "handed_over" when this invocation ran short of time and passed
    the job on to the next."""
    job = ctx.jobs.get(job_id)
    if job is None:
        raise LookupError(f"no job {job_id} in the jobs table")
    if job.batch_id is None and not job.end_reason:
        raise ValueError(f"job {job_id} has no batch")
    if not ctx.jobs.claim_completion(job_id, ctx.now(), ctx.lease):
        current = ctx.jobs.get(job_id)
        if current is not None and current.status == COMPLETED:
            logger.info("job already completed: duplicate delivery ignored", extra={"job_id": job_id})
            return {"job_id": job_id, "status": "duplicate"}
        if current is not None and current.status == COMPLETING:
            # Another invocation holds a live lease. Not an error: failing would only send this
            # event to the dead-letter queue (and raise its alarm) while the results are being
            # written. If that invocation dies, Poll announces the job again after
            # REDRIVE_AFTER_SECONDS (longer than the lease) and that delivery takes it over.
            logger.info(
                "job being completed by another invocation: delivery ignored", extra={"job_id": job_id}
            )
            return {"job_id": job_id, "status": "busy"}
        raise JobNotEnded(f"job {job_id} is {current.status if current else 'gone'}; not completing it")

    ctx.crash("complete:after-claim")
    with ManifestIndex(ctx.store.read_lines(job.manifest_key)) as manifest:
        try:
            return _collect(job, ctx, manifest)
        except WrongBatch as exc:
            # The adoption was wrong: the job goes back to finding (or creating) its batch.
            assert job.batch_id is not None
            ctx.jobs.disown_batch(job_id, job.batch_id, ctx.now())
            logger.error(
                "adopted batch belongs to no document of the job: disowned", extra={"job_id": job_id}
            )
            return {"job_id": job_id, "status": "wrong_batch", "batch_id": job.batch_id, "reason": str(exc)}


def _collect(job: JobRecord, ctx: CompletionContext, manifest: ManifestIndex) -> dict[str, Any]:
    job_id = job.job_id
    work = _Completion(job, ctx, manifest)
    with tempfile.NamedTemporaryFile("w+", encoding="utf-8", suffix=".jsonl") as raw:
        try:
            collected = work.collect(raw)
        except WrongBatch:
            raise  # the job keeps its claim: complete_job disowns the batch from `completing`
        except Exception:
            # Give the job back at once, so the retry (EventBridge, Lambda) need not wait out the lease.
            ctx.jobs.release_completion(job_id, ctx.now())
            raise
        if not collected:
            ctx.jobs.release_completion(job_id, ctx.now())
            ctx.events.emit(BATCH_ENDED, {"job_id": job_id, "batch_id": job.batch_id, "continuation": True})
            logger.info(
                "time running short: job handed over",
                extra={"job_id": job_id, "done": len(work.checkpoint.done)},
            )
            return {"job_id": job_id, "status": "handed_over", "done": len(work.checkpoint.done)}
        raw.flush()
        ctx.store.upload_file(results_key(job_id), raw.name, "application/x-ndjson")
    try:
        feedback = work.write_documents()
    except Exception:
        # Every row is checkpointed: give the job back at once, the retry writes the table again.
        ctx.jobs.release_completion(job_id, ctx.now())
        raise
    follow_up = work.resubmit(feedback)

    workflow = work.workflow()
    body = work.summary.to_dict(
        status="completed",
        workflow=workflow,
        estimate=compare_with_estimate(work.summary, work.facts.estimated, work.facts.estimated_in_full),
        attempt=work.attempt,
        cancel_requested_at=job.cancel_requested_at,
        results_archived=work.archived.as_dict() if work.archived else None,
        # Why no batch was ever made for the job (its documents each have an .error.json).
        not_submitted=None if job.batch_id else job.end_reason,
        shortened_keys={"count": work.facts.shortened_count, "documents": work.facts.shortened},
        retried_in=follow_up,
        # Models deprecated at submit: what the job's profiles should move off, and by when.
        deprecated_models=work.facts.deprecated_models(),
        previous_attempt=job.previous_job_id,
        created_at=job.created_at,
        ended_at=job.ended_at,
        completed_at=iso(ctx.now()),
        manifest_key=job.manifest_key,
        results_key=results_key(job_id),
        summary_key=summary_key(job_id),
        documents_key=documents_key(job_id),
        documents_table_key=work.table_key,
        results_prefixes=sorted(f"results/{profile}/" for profile in work.facts.profiles),
    )
    ctx.store.put_json(summary_key(job_id), body)
    # In a workflow, one notification at its end (and per stage when the profile asks for it).
    notify = workflow is None or workflow["final"] or work.facts.notify_each_stage
    ctx.crash("complete:before-notify")
    if notify and not work.checkpoint.notified:
        ctx.notifier.publish(notification_subject(body), notification_message(body, ctx.store))
        work.checkpoint.notified = True
        ctx.store.put_json(checkpoint_key(job_id), work.checkpoint.to_json())
    ctx.events.emit(
        JOB_COMPLETED,
        {
            "job_id": job_id,
            "counts": body["counts"],
            "cost": body["cost"],
            "summary_key": body["summary_key"],
        },
    )
    ctx.jobs.mark_completed(job_id, ctx.now(), body)
    logger.info("job completed", extra={"job_id": job_id, "counts": body["counts"], "cost": body["cost"]})
    return body


def compare_with_estimate(summary: JobSummary, estimated: float, estimated_in_full: bool) -> dict[str, Any]:
    """The cost estimated before submitting (of the submitted requests; ``estimated_in_full``
    when each had a price) against the cost the job had."""
    actual, unknown = summary.cost()
    complete = estimated_in_full and not unknown
    return {
        "batch": round(estimated, 9),
        "complete": complete,
        "actual_batch": round(actual.batch, 9),
        # Output is estimated at max_tokens, so actual/estimate is usually well below 1.
        "actual_to_estimate": round(actual.batch / estimated, 4) if complete and estimated else None,
    }


def resubmit(
    job: JobRecord,
    failed: list[ManifestEntry],
    attempt: int,
    ctx: CompletionContext,
    feedback: dict[str, Feedback] | None = None,
) -> str:
    """A follow-up job for the requests that failed transiently, with the same params, and for
    the answers that failed their schema, with the answer and its errors added (``feedback``,
    by custom_id: see structured.with_feedback).

    Its id is derived from the job's, so a Complete that dies and runs again finds it instead
    of making a second one. It is recorded (manifest, requests, job) before its batch is
    created, through the same routine as Submit's: if the create fails or this invocation dies,
    Poll finds the follow-up once its lease runs out and creates (or adopts) its batch, so its
    documents cannot be orphaned.
    """
    follow_up = follow_up_job_id(job.job_id, attempt)
    if ctx.jobs.get(follow_up) is not None:
        return follow_up  # recorded by an earlier run of this completion; Poll sees it through
    wanted = {e.custom_id for e in failed}
    asked_again = feedback or {}
    lines = []
    for line in ctx.store.read_lines(requests_key(job.job_id)):
        request = json.loads(line)
        if request["custom_id"] not in wanted:
            continue
        found = asked_again.get(request["custom_id"])
        lines.append(line if found is None else json.dumps(with_feedback(request, found), ensure_ascii=False))
    entries = [replace(e, attempt=attempt) for e in failed]
    ctx.store.put_bytes(manifest_key(follow_up), dump_manifest(entries), "application/x-ndjson")
    ctx.store.put_bytes(
        requests_key(follow_up), "".join(line + "\n" for line in lines).encode(), "application/x-ndjson"
    )
    owner = new_owner()
    ctx.jobs.record_intent(
        follow_up,
        manifest_key(follow_up),
        ctx.now(),
        ctx.creation.lease,
        owner,
        documents=len(entries),
        requests=len(lines),
        rejected=0,
        profiles=sorted({e.profile for e in entries}),
        attempt=attempt,
        previous_job_id=job.job_id,
    )
    ctx.crash("complete:after-follow-up-intent")
    outcome = BatchCreation(ctx.jobs, ctx.batches, ctx.now, ctx.creation, crash=ctx.crash).run(
        JobToCreate(follow_up, len(lines), owner), [json.loads(line) for line in lines]
    )
    logger.info(
        "transient failures resubmitted",
        extra={"job_id": follow_up, "requests": len(entries), "creation": type(outcome).__name__},
    )
    return follow_up


# SNS subjects must be shorter than 100 characters.
MAX_SUBJECT = 99


def notification_subject(summary: dict[str, Any]) -> str:
    counts = summary["counts"]
    retried = counts.get("retried", 0)
    superseded = counts.get("superseded", 0)
    failed = summary["documents"] - counts["succeeded"] - retried - superseded
    answered = f"{counts['succeeded']} of {summary['documents']} documents answered"
    marks = (
        ("(results archived) " if summary.get("results_archived") else "")
        + ("(not submitted) " if summary.get("not_submitted") else "")
        + ("(canceled) " if summary.get("cancel_requested_at") else "")
        + ("(deprecated model) " if summary.get("deprecated_models") else "")
    )
    text = f"batchdrop job {summary['job_id']} {marks}".rstrip() + f": {answered}"
    for count, word in ((failed, "failed"), (retried, "retried"), (superseded, "superseded")):
        if count:
            text += f", {count} {word}"
    return text if len(text) <= MAX_SUBJECT else text[: MAX_SUBJECT - 3] + "..."


def notification_message(summary: dict[str, Any], store: DocumentStore) -> dict[str, Any]:
    cost = summary["cost"]
    return {
        "job_id": summary["job_id"],
        "batch_id": summary["batch_id"],
        "status": summary["status"],
        "attempt": summary.get("attempt", 1),
        "retried_in": summary.get("retried_in"),
        "cancel_requested_at": summary.get("cancel_requested_at"),
        "results_archived": summary.get("results_archived"),
        "not_submitted": summary.get("not_submitted"),
        "documents": summary["documents"],
        "counts": summary["counts"],
        "tokens": summary["tokens"],
        "cost": {
            "currency": cost["currency"],
            "batch": cost["batch"],
            "standard": cost["standard"],
            "savings": cost["savings"],
            "complete": cost["complete"],
        },
        "results": [store.uri(prefix) for prefix in summary["results_prefixes"]],
        "summary": store.uri(summary["summary_key"]),
        "documents_table": store.uri(summary["documents_key"]) if summary.get("documents_key") else None,
        "workflow": None
        if not summary.get("workflow")
        else {k: summary["workflow"][k] for k in ("id", "stage", "final", "total_cost")},
        "errors": summary["errors"][:10],
        # Each deprecated model the job used and the day it retires (profiles to move off it).
        "deprecated_models": [
            {
                **model,
                "warning": (
                    f"{model['model']} is deprecated and retires on {model['retires_at'][:10]}: move "
                    f"profile{'s' if len(model['profiles']) != 1 else ''} {', '.join(model['profiles'])} "
                    "to a current model before then"
                ),
            }
            for model in summary.get("deprecated_models") or []
        ],
    }
