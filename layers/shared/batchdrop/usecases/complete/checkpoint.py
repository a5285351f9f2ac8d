"""How far a completion got, saved so that the next invocation resumes without losing or
repeating a result: the Checkpoint record, the documents-table rows in parts, and the table
written whole from those parts at the end."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from typing import Any

from batchdrop.domain.documents_table import RowFacts, document_row, job_day, row_line
from batchdrop.domain.job import JobRecord
from batchdrop.domain.job_summary import JobSummary
from batchdrop.domain.keys import checkpoint_key, documents_key, rows_part_key, table_key
from batchdrop.domain.manifest import ManifestEntry
from batchdrop.domain.manifest_index import PositionSet
from batchdrop.domain.pricing import PriceTable
from batchdrop.domain.structured import Feedback
from batchdrop.observability import logger
from batchdrop.ports import Bucket, CrashHook
from batchdrop.usecases.complete.writer import ParallelWriter


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
    def load(cls, store: Bucket, job_id: str, size: int) -> Checkpoint:
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

    def save(self, store: Bucket, job_id: str) -> None:
        store.put_json(checkpoint_key(job_id), self.to_json())


class Progress:
    """What one invocation has confirmed of a job: the checkpoint it resumed from, the summary
    so far, and the rows of the documents confirmed since the last save."""

    def __init__(
        self, job: JobRecord, store: Bucket, prices: PriceTable, size: int, crash: CrashHook
    ) -> None:
        self.job = job
        self.store = store
        self.prices = prices
        self.size = size
        self.crash = crash
        self.checkpoint = Checkpoint.load(store, job.job_id, size)
        state = self.checkpoint.summary
        self.summary = (
            JobSummary.from_state(job.job_id, job.batch_id, prices, state)
            if state
            else JobSummary(job_id=job.job_id, batch_id=job.batch_id, prices=prices)
        )
        # Documents confirmed since the last save, and their rows (and feedback).
        self.since_save = 0
        self._rows: list[dict[str, Any]] = []

    @property
    def done(self) -> PositionSet:
        return self.checkpoint.done

    def row(
        self, position: int, entry: ManifestEntry, facts: RowFacts, feedback: Feedback | None = None
    ) -> None:
        """The document's row in the documents table (kept with the next checkpoint)."""
        record: dict[str, Any] = {
            "position": position,
            "row": document_row(self.job.job_id, self.job.batch_id, entry, facts, self.prices),
        }
        if feedback is not None:
            record["feedback"] = feedback.to_json()
        self._rows.append(record)

    def confirm(self, position: int) -> None:
        """The document is done: its writes returned, its summary and row are recorded."""
        self.checkpoint.done.add(position)
        self.since_save += 1
        if len(self.checkpoint.done) * 2 >= self.size > 1:
            self.crash("complete:halfway")

    def save(self, writer: ParallelWriter) -> None:
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
            self.store.put_bytes(rows_part_key(self.job.job_id, part), body.encode(), "application/x-ndjson")
            self.crash("complete:after-rows-part")
            self.checkpoint.row_parts = part + 1
            self._rows = []
        self.checkpoint.summary = self.summary.to_state()
        self.checkpoint.save(self.store, self.job.job_id)
        self.since_save = 0


def documents_table_key(job: JobRecord) -> str:
    """The job's copy of its rows in the documents table (partitioned by the job's day)."""
    return table_key(job_day(job.created_at, job.job_id), job.job_id)


def write_documents(store: Bucket, job: JobRecord, checkpoint: Checkpoint, size: int) -> dict[str, Feedback]:
    """The documents table of the job, from the rows checkpointed: ``documents.jsonl`` and its
    copy under ``tables/documents/``; the feedback of the answers to ask again.

    Both are written whole each time (the same rows in the same order), so a completion that
    dies after writing them and runs again writes the same bytes.
    """
    job_id = job.job_id
    feedback: dict[str, Feedback] = {}
    seen = PositionSet(size)
    with tempfile.NamedTemporaryFile("w+", encoding="utf-8", suffix=".jsonl") as rows:
        for part in range(checkpoint.row_parts):
            for text in store.read_lines(rows_part_key(job_id, part)):
                if not text.strip():
                    continue
                record = json.loads(text)
                if record["position"] in seen:
                    position = record["position"]
                    logger.error("a document's row was recorded twice", extra={"position": position})
                    continue
                seen.add(record["position"])
                rows.write(row_line(record["row"]) + "\n")
                if "feedback" in record:
                    found = Feedback.from_json(record["feedback"])
                    feedback[found.custom_id] = found
        rows.flush()
        if len(seen) != size:
            logger.error(
                "documents table rows do not cover the job",
                extra={"job_id": job_id, "rows": len(seen), "documents": size},
            )
        store.upload_file(documents_key(job_id), rows.name, "application/x-ndjson")
        store.upload_file(documents_table_key(job), rows.name, "application/x-ndjson")
    return feedback
