"""``batchdrop documents JOB_ID``: a completed job's documents table, a line per document, what
the schema profiles extracted, and the cost per model."""

from __future__ import annotations

from typing import Any

from batchdrop_ops.render.cost import cost_per_model
from batchdrop_ops.render.text import money, number, table

DOCUMENT_HEADERS = (
    "DOCUMENT",
    "PROFILE",
    "MODEL",
    "TRY",
    "OUTCOME",
    "INPUT",
    "OUTPUT",
    "THINKING",
    "CACHE W/R",
    "BATCH",
    "STANDARD",
    "RESULT",
)
EXTRACTED_WIDTH = 100


def _row_cost(value: Any) -> str:
    return "unknown" if value is None else money(float(value))


def _outcome_text(row: dict[str, Any]) -> str:
    error = row.get("error_type")
    return f"{row['outcome']} ({error})" if error and error != row["outcome"] else str(row["outcome"])


def document_cells(row: dict[str, Any]) -> tuple[str, ...]:
    """One documents-table row as the cells of the local table."""
    source = str(row["source_key"]) + (f" #{row['item']}" if row.get("item") else "")
    cache = f"{number(row.get('cache_write_5m_tokens')) + number(row.get('cache_write_1h_tokens')):,}"
    cache += f"/{number(row.get('cache_read_tokens')):,}"
    result = row.get("result_key") or (f"-> {row['retried_in']}" if row.get("retried_in") else "-")
    return (
        source,
        str(row["profile"]),
        str(row.get("model") or "-"),
        str(row["attempt"]),
        _outcome_text(row),
        f"{number(row.get('input_tokens')):,}",
        f"{number(row.get('output_tokens')):,}",
        f"{number(row.get('thinking_tokens')):,}",
        cache,
        _row_cost(row.get("cost_batch_usd")),
        _row_cost(row.get("cost_standard_usd")),
        str(result),
    )


def render_documents(job_id: str, rows: list[dict[str, Any]]) -> str:
    """A job's documents table: a line per document, what the schema profiles extracted, and
    the cost per model and in all, summed from each request's own cost."""
    lines = [f"Job {job_id}: {len(rows)} documents", ""]
    ordered = sorted(rows, key=lambda r: (str(r["source_key"]), str(r.get("item") or "")))
    lines += table(DOCUMENT_HEADERS, (document_cells(row) for row in ordered), indent="  ")
    extracted = [(row["source_key"], str(row["extracted"])) for row in ordered if row.get("extracted")]
    if extracted:
        lines += ["", "  Extracted (schema profiles):"]
        for source, text in extracted:
            shown = text if len(text) <= EXTRACTED_WIDTH else text[: EXTRACTED_WIDTH - 3] + "..."
            lines.append(f"    {source}: {shown}")
    lines += cost_per_model(rows)
    return "\n".join(lines)
