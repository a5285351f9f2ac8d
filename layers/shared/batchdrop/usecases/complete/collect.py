"""Collecting an ended batch: its results streamed, each line parsed once (domain.result_line),
mapped to its document through the manifest index, and its result object written through the
bucket (in parallel); then the documents the results do not answer. Resumable: every document
confirmed is in the checkpoint (checkpoint.Progress)."""

from __future__ import annotations

import json
import sys
from functools import partial
from typing import IO, Any

from batchdrop.domain.documents_table import RowFacts
from batchdrop.domain.job import JobRecord
from batchdrop.domain.manifest import REJECTED, ManifestEntry, follow_up_job_id
from batchdrop.domain.manifest_facts import ManifestFacts
from batchdrop.domain.manifest_index import LOOKUP_CHUNK, ManifestIndex
from batchdrop.domain.result_line import ResultLine
from batchdrop.domain.results import (
    ResultObject,
    ResultsArchived,
    Superseded,
    archived_object,
    error_object,
    missing_object,
    result_object,
)
from batchdrop.domain.structured import AnswerCheck, Feedback, SchemaCache, check_answer
from batchdrop.observability import logger
from batchdrop.ports import BatchBackend
from batchdrop.usecases.complete.checkpoint import Progress
from batchdrop.usecases.complete.context import CompletionContext, WrongBatch
from batchdrop.usecases.complete.workflow import hand_to_next_stage
from batchdrop.usecases.complete.writer import ParallelWriter, chunks

# Save progress this often (results); and hand the job over with this much time left.
CHECKPOINT_EVERY = 1000
HANDOVER_MARGIN_SECONDS = 60.0


class Collection:
    """One invocation's work on one job's results, resumable from its checkpoint."""

    def __init__(self, job: JobRecord, ctx: CompletionContext, manifest: ManifestIndex) -> None:
        self.job = job
        self.ctx = ctx
        self.manifest = manifest
        self.progress = Progress(job, ctx.store, ctx.prices, len(manifest), ctx.crash)
        self.facts = ManifestFacts.of(manifest)
        self.attempt = self.facts.attempt
        self.archived: ResultsArchived | None = None
        # The job's own copies of its schemas, each read once.
        self.schemas = SchemaCache(ctx.store.get_json)
        # Where what is asked again goes (the id is derived, so it is known before it exists).
        self.follow_up = follow_up_job_id(job.job_id, self.attempt + 1)

    def collect(self, raw: IO[str]) -> bool:
        """Stream the results (each line as sent also to ``raw``); False when time ran short
        and the job was handed over."""
        writer = ParallelWriter(self.ctx.write_concurrency)
        try:
            try:
                if not self._lines(writer, raw):
                    return False
            except Exception as exc:
                archived = _archival(exc, self.job, self.ctx.batches)
                if archived is None:
                    raise
                self.archived = archived
                logger.warning("the batch's results were archived by the API", extra=archived.as_dict())
            # Every result line's write confirmed before deciding which documents have none.
            self.progress.save(writer)
            writer.check()
            self._unanswered(writer)
            self.progress.save(writer)
            writer.check()
        except Exception:
            # A cut results stream, a throttled write: keep what was confirmed for the retry.
            self.progress.save(writer)
            raise
        finally:
            writer.close()
        return True

    def _lines(self, writer: ParallelWriter, raw: IO[str]) -> bool:
        """Each result line to its document; False when time ran short (progress saved)."""
        job_id = self.job.job_id
        done = self.progress.done
        self.progress.since_save = 0
        # A job no batch was made for (end_reason) has no results: its documents get errors.
        lines = self.ctx.batches.results(str(self.job.batch_id)) if self.job.batch_id else iter(())
        for chunk in chunks(lines, LOOKUP_CHUNK):
            parsed = [(text, ResultLine.of(data)) for text, data in chunk]
            entries = self.manifest.get_many([line.custom_id for _, line in parsed])
            if not entries and self.job.adopted:
                # Found by listing (size and time), not named by a create's answer: its
                # custom_ids prove whose it is. None of this job's: give it back.
                raise WrongBatch(f"batch {self.job.batch_id} holds none of job {job_id}'s requests")
            for text, line in parsed:
                raw.write(text + "\n")
                found = entries.get(line.custom_id)
                if found is None:
                    logger.warning(
                        "result line for no document of this job", extra={"custom_id": line.custom_id}
                    )
                    continue
                position, entry = found
                if position in done or writer.pending(position):
                    continue  # written before a hand-over or a crash
                self._line(writer, position, entry, line)
                if self.progress.since_save >= CHECKPOINT_EVERY or self._time_short():
                    self.progress.save(writer)
                    writer.check()
                    if self._time_short():
                        return False
        return True

    def _line(self, writer: ParallelWriter, position: int, entry: ManifestEntry, line: ResultLine) -> None:
        """One document's result line: asked again, or its object written."""
        check = self._check(entry, line)
        again = entry.attempt < self.ctx.max_attempts
        if line.retryable and again:
            self._ask_again(position, entry, line, RowFacts("retried", line, retried_in=self.follow_up), None)
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
            obj = result_object(self.job.job_id, entry, line, check)
            self._submit(
                writer,
                position,
                entry,
                obj,
                partial(self._record_result, entry, line, obj),
                line,
                extracted=check.value if check is not None and check.valid else None,
            )

    def _unanswered(self, writer: ParallelWriter) -> None:
        """The documents no result line answered: rejected at submit, never submitted, their
        results archived by the API, or missing from the results."""
        job_id = self.job.job_id
        end_reason = None if self.job.batch_id else str(self.job.end_reason or "")
        summary = self.progress.summary
        for position, entry in self.manifest.entries():
            if position in self.progress.done:
                continue
            if entry.status == REJECTED:
                summary.record_failure(entry, "rejected", entry.reason or "rejected")
                self.progress.row(position, entry, RowFacts("rejected", result_key=entry.error_key))
                self.progress.confirm(position)
            elif end_reason:
                self._submit(
                    writer,
                    position,
                    entry,
                    error_object(job_id, entry, result_type="not_submitted", reason=end_reason),
                    partial(summary.record_failure, entry, "not_submitted", end_reason),
                )
            elif self.archived is not None:
                self._submit(
                    writer,
                    position,
                    entry,
                    archived_object(job_id, entry, self.archived),
                    partial(summary.record_failure, entry, "archived", self.archived.reason),
                )
            else:
                self._submit(
                    writer,
                    position,
                    entry,
                    missing_object(job_id, entry),
                    partial(summary.record_failure, entry, "missing", "no result line for this request"),
                )

    def _check(self, entry: ManifestEntry, line: ResultLine) -> AnswerCheck | None:
        """A schema profile's answer checked against the job's copy of its schema; else None."""
        if entry.schema_key is None or not line.succeeded or not entry.result_key:
            return None
        validator = self.schemas.validator(entry.schema_key)
        return check_answer(line.text, line.stop_reason, validator)

    def _record_result(self, entry: ManifestEntry, line: ResultLine, obj: ResultObject) -> None:
        reason = json.loads(obj.body)["error"]["message"] if obj.outcome == "invalid_output" else None
        self.progress.summary.record_result(entry, line, obj.outcome, reason)

    def _ask_again(
        self,
        position: int,
        entry: ManifestEntry,
        line: ResultLine,
        facts: RowFacts,
        feedback: Feedback | None,
    ) -> None:
        """A request to be sent again in the follow-up job (with its feedback, if any)."""
        self.progress.checkpoint.retry.add(position)
        self.progress.summary.record_retry(entry, line)
        self.progress.row(position, entry, facts, feedback)
        self.progress.confirm(position)

    def _write(self, entry: ManifestEntry, obj: ResultObject) -> Superseded | None:
        """A document's writes (in a writer thread): its result object, unless a newer version
        of the document holds the key, then its answer as the next stage's document."""
        sibling = entry.result_key if entry.result_key and obj.key != entry.result_key else None
        held = self.ctx.store.put_newest(obj, sibling=sibling)
        if held is None and entry.next_profile and obj.outcome == "succeeded":
            hand_to_next_stage(self.ctx.store, self.job, entry, obj)
        return held

    def _submit(
        self,
        writer: ParallelWriter,
        position: int,
        entry: ManifestEntry,
        obj: ResultObject,
        record: Any,
        line: ResultLine | None = None,
        extracted: Any = None,
    ) -> None:
        """Write a document's object; once confirmed, ``record`` it (or count it superseded),
        with its row."""

        def confirm(held: Superseded | None) -> None:
            if held is None:
                record()
                facts = RowFacts(obj.outcome, line, result_key=obj.key, extracted=extracted)
                self.progress.row(position, entry, facts)
            else:
                self.progress.summary.record_superseded(entry, obj.outcome, held, line)
                self.progress.row(position, entry, RowFacts("superseded", line))
            self.progress.confirm(position)

        writer.submit(position, lambda: self._write(entry, obj), confirm)

    def _time_short(self) -> bool:
        return self.ctx.remaining is not None and self.ctx.remaining() < HANDOVER_MARGIN_SECONDS


def _archival(exc: Exception, job: JobRecord, batches: BatchBackend) -> ResultsArchived | None:
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
        archived_at=batch.archived_at,
    )
