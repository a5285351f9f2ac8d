"""The documents table: one row per document of a job, saying what happened to it. Pure, no I/O.

Each job writes its rows twice, the same bytes: ``jobs/<job-id>/documents.jsonl`` (beside the
job's other files) and ``tables/documents/day=<YYYY-MM-DD>/<job-id>.jsonl``, the copy the Glue
table reads. The table is partitioned by the day the job was created, with Athena's ``date``
partition projection: a query over every job ever run needs no partition filter (an
``injected`` projection on the random job id would need an equality filter in every query), and
a query of a few days reads only those days' prefixes.

Rows are one JSON object per line, flat (what a JSON SerDe maps to columns). ``extracted``, the
validated answer of a schema profile, is the JSON text of that object, since each profile has its
own fields: Athena reads it with ``json_extract_scalar(extracted, '$.total')``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from batchdrop.domain.manifest import ManifestEntry
from batchdrop.domain.pricing import PriceTable, TokenUsage
from batchdrop.domain.result_line import ResultLine

# The columns, in order (the Glue table's, and the local command's). The partition, day, is
# not in the rows: Athena takes it from the key.
COLUMNS = (
    "job_id",
    "source_key",
    "item",
    "version_id",
    "etag",
    "content_sha256",
    "profile",
    "settings_hash",
    "model",
    "batch_id",
    "custom_id",
    "attempt",
    "outcome",
    "error_type",
    "stop_reason",
    "input_tokens",
    "output_tokens",
    "thinking_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
    "cost_batch_usd",
    "cost_standard_usd",
    "result_key",
    "retried_in",
    "extracted",
)


def job_day(created_at: str | None, job_id: str) -> str:
    """The day a job was created (its partition): from its record's ``created_at``, else from its
    id, which begins with the creation time (``20261125T152301Z-...``)."""
    if created_at and len(created_at) >= 10 and created_at[4] == "-":
        return created_at[:10]
    stamp = job_id[:8]
    if len(stamp) == 8 and stamp.isdigit():
        return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"
    raise ValueError(f"job {job_id} has no creation date (created_at {created_at!r})")


@dataclass(frozen=True)
class RowFacts:
    """What one document's row says beyond its manifest entry."""

    outcome: str
    line: ResultLine | None = None  # the result line, when there was one
    result_key: str | None = None  # the key written: the answer, or the .error.json
    error_type: str | None = None
    extracted: Any = None  # a schema profile's validated answer
    retried_in: str | None = None  # the follow-up job that asks again


def document_row(
    job_id: str, batch_id: str | None, entry: ManifestEntry, facts: RowFacts, prices: PriceTable
) -> dict[str, Any]:
    """The row of one document: its source, request, outcome, tokens and the cost of its request.

    Cost is of this request's own usage (tiered prices depend on each request's prompt size):
    None when its model has no known price, 0 when nothing was billed (only succeeded lines are).
    """
    line = facts.line
    billed = line is not None and line.succeeded and bool(line.message)
    tokens = line.usage if line is not None and billed else TokenUsage()
    model = str((line.model if line is not None and billed else None) or entry.model or "") or None
    cost = prices.cost(model, tokens) if billed and model else None
    if not billed:  # nothing billed: a zero that is known, not an unknown price
        cost_batch: float | None = 0.0
        cost_standard: float | None = 0.0
    else:
        cost_batch = None if cost is None else round(cost.batch, 9)
        cost_standard = None if cost is None else round(cost.standard, 9)
    return {
        "job_id": job_id,
        "source_key": entry.source_key,
        "item": entry.item,
        "version_id": entry.version_id,
        "etag": entry.etag,
        "content_sha256": entry.content_sha256,
        "profile": entry.profile,
        "settings_hash": entry.settings_hash,
        "model": model,
        # A document rejected at submit was never part of a batch.
        "batch_id": batch_id if entry.status != "rejected" else None,
        "custom_id": entry.custom_id,
        "attempt": entry.attempt,
        "outcome": facts.outcome,
        "error_type": facts.error_type or (line.error_type if line is not None else None),
        "stop_reason": line.message.get("stop_reason") if line is not None and billed else None,
        "input_tokens": tokens.input_tokens,
        "output_tokens": tokens.output_tokens,
        "thinking_tokens": tokens.thinking_tokens,
        "cache_write_5m_tokens": tokens.cache_write_5m_tokens,
        "cache_write_1h_tokens": tokens.cache_write_1h_tokens,
        "cache_read_tokens": tokens.cache_read_tokens,
        "cost_batch_usd": cost_batch,
        "cost_standard_usd": cost_standard,
        "result_key": facts.result_key,
        "retried_in": facts.retried_in,
        "extracted": None
        if facts.extracted is None
        else json.dumps(facts.extracted, ensure_ascii=False, separators=(",", ":")),
    }


def row_line(row: dict[str, Any]) -> str:
    """A row as one line of JSON Lines (the JSON SerDes need one object per line)."""
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))
