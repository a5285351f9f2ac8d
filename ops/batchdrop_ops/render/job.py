"""``batchdrop job JOB_ID``: the job's record, its documents and where their results are, and
its summary once completed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from batchdrop.domain.job import JobRecord
from batchdrop.domain.keys import manifest_key, summary_key
from batchdrop.domain.lifecycle import FINAL_STATES, JobState
from batchdrop.domain.summary import Summary
from batchdrop_ops.reading import Manifest
from batchdrop_ops.render.progress import (
    COLLECTING,
    cost_complete,
    progress_text,
    request_progress,
    status_text,
)
from batchdrop_ops.render.summary import summary_lines
from batchdrop_ops.render.text import cost_text, progress_bar, table
from batchdrop_ops.times import humanise_age


def field_lines(job: JobRecord, summary: Summary | None, now: datetime) -> list[str]:
    """The record's ``label  value`` lines."""
    final = job.status in FINAL_STATES
    rows: list[tuple[str, str]] = [
        ("status", status_text(job)),
        ("profiles", ", ".join(job.profiles) or "-"),
        ("batch", job.batch_id or "-"),
    ]
    if job.processing_status and job.status not in COLLECTING and not final:
        # recorded by each poll while the batch runs; stale once it has ended
        rows.append(("batch status", job.processing_status))
    rows.append(("attempt", str(job.attempt)))
    if job.previous_job_id:
        rows.append(("previous attempt", job.previous_job_id))
    if summary and summary.retried_in:
        rows.append(("retried in", summary.retried_in))
    if job.documents:  # recorded by Submit; jobs of older versions may lack it
        detail = f"{job.requests} request{'' if job.requests == 1 else 's'}, {job.rejected} rejected"
        rows.append(("documents", f"{job.documents} ({detail})"))
    created = job.created_at
    rows.append(("created", f"{created} ({humanise_age(created, now)} ago)" if created else "-"))
    for label, value in (
        ("progress last moved", None if final else job.polled_at),
        ("batch expires", job.batch_expires_at),
        ("ended", job.ended_at),
        ("completed", job.completed_at),
        ("cancel requested", job.cancel_requested_at),
        ("abandoned", job.abandoned_reason),
    ):
        if value:
            rows.append((label, value))
    if job.estimate_batch is not None:
        estimate = cost_text(job.estimate_batch, job.estimate_complete)
        rows.append(("estimate", f"{estimate} at batch price (before submitting; output at max_tokens)"))
    if not final:
        done, total = request_progress(job)
        detail = progress_text(job).partition(" ")[2]
        rows.append(("progress", f"{progress_bar(done, total)} {detail}".rstrip()))
    elif job.status == JobState.COMPLETED:
        rows.append(("results", progress_text(job)))
        if summary is None and job.cost is not None:
            complete = cost_complete(job)
            rows.append(
                (
                    "cost",
                    f"{cost_text(job.cost.batch, complete)} at batch price, "
                    f"{cost_text(job.cost.standard, complete)} at standard price",
                )
            )
    width = max(len(label) for label, _ in rows)
    return [f"  {label.ljust(width)}  {value}" for label, value in rows]


def _source(entry: dict[str, Any]) -> str:
    source = str(entry.get("source_key", "?"))
    return f"{source}#{entry['item']}" if entry.get("item") else source


def render_job(
    job: JobRecord,
    manifest: Manifest,
    results: list[str],
    summary: Summary | None,
    now: datetime,
    bucket: str,
) -> str:
    """The job in detail; ``results`` says where each of ``manifest.entries``' results is."""
    lines = [f"Job {job.job_id}", *field_lines(job, summary, now), ""]
    key = job.manifest_key or manifest_key(job.job_id)
    if not manifest.found:
        lines.append(f"Documents: no manifest at s3://{bucket}/{key}")
    else:
        by_profile = ", ".join(f"{p} {n}" for p, n in sorted(manifest.by_profile.items()))
        lines.append(f"Documents ({key}): {manifest.total}" + (f" ({by_profile})" if by_profile else ""))
        rows = [
            (
                _source(e),
                str(e.get("profile", "-")),
                str(e.get("model") or "-"),
                str(e.get("status", "-")),
                result,
            )
            for e, result in zip(manifest.entries, results, strict=True)
        ]
        if rows:
            lines += table(("SOURCE", "PROFILE", "MODEL", "STATUS", "RESULT"), rows, "  ")
        if manifest.total > len(manifest.entries):
            lines.append(
                f"  ... and {manifest.total - len(manifest.entries)} more (all in s3://{bucket}/{key})"
            )
    if summary is not None:
        lines += ["", *summary_lines(summary, job.summary_key or summary_key(job.job_id))]
    return "\n".join(lines)
