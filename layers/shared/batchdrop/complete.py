"""Complete: write every document's answer (or error), the job's summary, and tell people."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from batchdrop.anthropic_batches import MessageBatches
from batchdrop.aws.jobs_table import COMPLETED, JobStore, iso
from batchdrop.aws.messaging import JOB_COMPLETED, JobEvents, Notifier
from batchdrop.aws.storage import DocumentStore
from batchdrop.manifest import REJECTED, ManifestEntry, load_manifest, results_key, summary_key
from batchdrop.observability import logger
from batchdrop.pricing import PriceTable
from batchdrop.results import JobSummary, ResultObject, missing_object, result_object

# A Complete invocation that holds a job longer than this without finishing is presumed dead.
COMPLETING_LEASE = timedelta(minutes=20)


class JobBusy(RuntimeError):
    """Another Complete invocation is working on the job right now."""


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


class _ParallelWriter:
    """Writes result objects with bounded concurrency and bounded memory."""

    def __init__(self, store: DocumentStore, concurrency: int) -> None:
        self._store = store
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="result-writer")
        self._limit = concurrency * 4
        self._pending: set[Future[None]] = set()

    def write(self, obj: ResultObject) -> None:
        if len(self._pending) >= self._limit:
            done, self._pending = wait(self._pending, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()
        self._pending.add(self._pool.submit(self._store.put_result, obj))

    def close(self) -> None:
        try:
            for future in self._pending:
                future.result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


def complete_job(job_id: str, ctx: CompletionContext) -> dict[str, Any] | None:
    """Collect an ended job's results. None when another delivery already has the job."""
    job = ctx.jobs.get(job_id)
    if job is None:
        raise LookupError(f"no job {job_id} in the jobs table")
    if job.batch_id is None:
        raise ValueError(f"job {job_id} has no batch")
    if not ctx.jobs.claim_completion(job_id, ctx.now(), COMPLETING_LEASE):
        current = ctx.jobs.get(job_id)
        if current is not None and current.status == COMPLETED:
            logger.info("job already completed: duplicate delivery ignored", extra={"job_id": job_id})
            return None
        # Another invocation holds a live lease: fail, so that EventBridge retries later and
        # finishes the job if that invocation dies.
        raise JobBusy(f"job {job_id} is {current.status if current else 'gone'}; not completing it now")

    manifest = {e.custom_id: e for e in load_manifest(ctx.store.read_lines(job.manifest_key))}
    summary = JobSummary(job_id=job_id, batch_id=job.batch_id, prices=ctx.prices)
    writer = _ParallelWriter(ctx.store, ctx.write_concurrency)
    with tempfile.NamedTemporaryFile("w+", encoding="utf-8", suffix=".jsonl") as raw:
        try:
            seen = _write_results(job_id, ctx.batches.results(job.batch_id), manifest, summary, writer, raw)
            for entry in manifest.values():
                if entry.custom_id in seen:
                    continue
                if entry.status == REJECTED:
                    summary.record_failure(entry, "rejected", entry.reason or "rejected")
                else:
                    writer.write(missing_object(job_id, entry))
                    summary.record_failure(entry, "missing", "no result line for this request")
        finally:
            writer.close()
        raw.flush()
        ctx.store.upload_file(results_key(job_id), raw.name, "application/x-ndjson")

    body = summary.to_dict(
        status="completed",
        created_at=job.created_at,
        ended_at=job.item.get("ended_at"),
        completed_at=iso(ctx.now()),
        manifest_key=job.manifest_key,
        results_key=results_key(job_id),
        summary_key=summary_key(job_id),
        results_prefixes=sorted({f"results/{e.profile}/" for e in manifest.values()}),
    )
    ctx.store.put_json(summary_key(job_id), body)
    ctx.notifier.publish(notification_subject(body), notification_message(body, ctx.store))
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


def _write_results(
    job_id: str,
    lines: Iterable[dict[str, Any]],
    manifest: dict[str, ManifestEntry],
    summary: JobSummary,
    writer: _ParallelWriter,
    raw: Any,
) -> set[str]:
    seen: set[str] = set()
    for line in lines:
        raw.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        entry = manifest.get(line.get("custom_id", ""))
        if entry is None or entry.custom_id in seen:
            logger.warning(
                "result line for no document of this job", extra={"custom_id": line.get("custom_id")}
            )
            continue
        seen.add(entry.custom_id)
        obj = result_object(job_id, entry, line)
        writer.write(obj)
        summary.record_result(entry, line, obj.outcome)
    return seen


def notification_subject(summary: dict[str, Any]) -> str:
    counts = summary["counts"]
    failed = summary["documents"] - counts["succeeded"]
    answered = f"{counts['succeeded']} of {summary['documents']} documents answered"
    text = f"batchdrop job {summary['job_id']}: {answered}"
    return text + (f", {failed} failed" if failed else "")


def notification_message(summary: dict[str, Any], store: DocumentStore) -> dict[str, Any]:
    cost = summary["cost"]
    return {
        "job_id": summary["job_id"],
        "batch_id": summary["batch_id"],
        "status": summary["status"],
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
        "errors": summary["errors"][:10],
    }
