"""Complete, in order: claim the ended job, collect its results (collect), write its documents
table (checkpoint), ask again what failed transiently (resubmit), sum it up (a typed Summary),
tell people once, and mark it completed."""

from __future__ import annotations

import tempfile
from datetime import datetime
from typing import Any

from batchdrop.domain.job import JobRecord
from batchdrop.domain.keys import documents_key, results_key, summary_key
from batchdrop.domain.lifecycle import JobState
from batchdrop.domain.manifest_index import ManifestIndex
from batchdrop.domain.notification import notification_message, notification_subject
from batchdrop.domain.summary import Summary
from batchdrop.observability import logger
from batchdrop.ports.messages import BATCH_ENDED, JOB_COMPLETED
from batchdrop.usecases.complete.checkpoint import documents_table_key, write_documents
from batchdrop.usecases.complete.collect import Collection
from batchdrop.usecases.complete.context import CompletionContext, JobNotEnded, WrongBatch
from batchdrop.usecases.complete.resubmit import resubmit
from batchdrop.usecases.complete.workflow import compare_with_estimate, workflow_standing


def complete_job(job_id: str, ctx: CompletionContext) -> dict[str, Any]:
    """Collect an ended job's results: the summary (``status`` "completed"), or ``status``
    "duplicate" when another delivery already completed the job, "busy" when another invocation
    holds a live lease on it, or "handed_over" when this invocation ran short of time and passed
    the job on to the next."""
    outcome = run_completion(job_id, ctx)
    return outcome.to_json() if isinstance(outcome, Summary) else outcome


def run_completion(job_id: str, ctx: CompletionContext) -> Summary | dict[str, Any]:
    """complete_job's work: the typed Summary of a completed job, else what happened instead."""
    job = ctx.jobs.get(job_id)
    if job is None:
        raise LookupError(f"no job {job_id} in the jobs table")
    if job.batch_id is None and not job.end_reason:
        raise ValueError(f"job {job_id} has no batch")
    ctx = ctx.on_backend(job.backend)  # before the claim: a backend out of reach claims nothing
    if not ctx.jobs.claim_completion(job_id, ctx.now(), ctx.lease):
        return _not_claimed(job_id, ctx)

    ctx.crash("complete:after-claim")
    with ManifestIndex(ctx.store.read_lines(job.manifest_key)) as manifest:
        try:
            return _complete(job, ctx, manifest)
        except WrongBatch as exc:
            # The adoption was wrong: the job goes back to finding (or creating) its batch.
            assert job.batch_id is not None
            ctx.jobs.disown_batch(job_id, job.batch_id, ctx.now())
            logger.error(
                "adopted batch belongs to no document of the job: disowned", extra={"job_id": job_id}
            )
            return {"job_id": job_id, "status": "wrong_batch", "batch_id": job.batch_id, "reason": str(exc)}


def _iso(moment: datetime) -> str:
    """As the jobs store writes times: to the second, in UTC, with a Z."""
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _not_claimed(job_id: str, ctx: CompletionContext) -> dict[str, Any]:
    current = ctx.jobs.get(job_id)
    if current is not None and current.status == JobState.COMPLETED:
        logger.info("job already completed: duplicate delivery ignored", extra={"job_id": job_id})
        return {"job_id": job_id, "status": "duplicate"}
    if current is not None and current.status == JobState.COMPLETING:
        # Another invocation holds a live lease. Not an error: failing would only send this
        # event to the dead-letter queue (and raise its alarm) while the results are being
        # written. If that invocation dies, Poll announces the job again after
        # REDRIVE_AFTER_SECONDS (longer than the lease) and that delivery takes it over.
        logger.info("job being completed by another invocation: delivery ignored", extra={"job_id": job_id})
        return {"job_id": job_id, "status": "busy"}
    raise JobNotEnded(f"job {job_id} is {current.status if current else 'gone'}; not completing it")


def _complete(job: JobRecord, ctx: CompletionContext, manifest: ManifestIndex) -> Summary | dict[str, Any]:
    job_id = job.job_id
    work = Collection(job, ctx, manifest)
    with tempfile.NamedTemporaryFile("w+", encoding="utf-8", suffix=".jsonl") as raw:
        try:
            collected = work.collect(raw)
        except WrongBatch:
            raise  # the job keeps its claim: run_completion disowns the batch from `completing`
        except Exception:
            # Give the job back at once, so the retry (EventBridge, Lambda) need not wait out the lease.
            ctx.jobs.release_completion(job_id, ctx.now())
            raise
        if not collected:
            return _hand_over(job, ctx, len(work.progress.done))
        raw.flush()
        ctx.store.upload_file(results_key(job_id), raw.name, "application/x-ndjson")
    checkpoint = work.progress.checkpoint
    try:
        feedback = write_documents(ctx.store, job, checkpoint, len(manifest))
    except Exception:
        # Every row is checkpointed: give the job back at once, the retry writes the table again.
        ctx.jobs.release_completion(job_id, ctx.now())
        raise
    follow_up = None
    if checkpoint.retry:
        # The transient failures and the invalid answers again, as a follow-up job of the next
        # attempt (an invalid answer with its errors).
        entries = [manifest.at(position) for position in checkpoint.retry]
        follow_up = resubmit(job, entries, work.attempt + 1, ctx, feedback)
        assert follow_up == work.follow_up
    summary = _summarise(work, job, ctx, follow_up)
    ctx.store.put_json(summary_key(job_id), summary.to_json())
    _notify(work, summary, ctx)
    ctx.events.emit(
        JOB_COMPLETED,
        {
            "job_id": job_id,
            "counts": dict(summary.counts),
            "cost": summary.cost.to_json(),
            "summary_key": summary.summary_key,
        },
    )
    ctx.jobs.mark_completed(job_id, ctx.now(), summary)
    logger.info(
        "job completed",
        extra={"job_id": job_id, "counts": dict(summary.counts), "cost": summary.cost.to_json()},
    )
    return summary


def _hand_over(job: JobRecord, ctx: CompletionContext, done: int) -> dict[str, Any]:
    """Time is running short: progress is saved; the job goes to a new invocation."""
    ctx.jobs.release_completion(job.job_id, ctx.now())
    ctx.events.emit(BATCH_ENDED, {"job_id": job.job_id, "batch_id": job.batch_id, "continuation": True})
    logger.info("time running short: job handed over", extra={"job_id": job.job_id, "done": done})
    return {"job_id": job.job_id, "status": "handed_over", "done": done}


def _summarise(work: Collection, job: JobRecord, ctx: CompletionContext, follow_up: str | None) -> Summary:
    job_id = job.job_id
    facts = work.facts
    summary = work.progress.summary
    return summary.summarise(
        status="completed",
        workflow=workflow_standing(ctx.jobs, job, facts, summary),
        estimate=compare_with_estimate(summary, facts.estimated, facts.estimated_in_full),
        attempt=work.attempt,
        cancel_requested_at=job.cancel_requested_at,
        results_archived=work.archived.as_dict() if work.archived else None,
        # Why no batch was ever made for the job (its documents each have an .error.json).
        not_submitted=None if job.batch_id else job.end_reason,
        shortened_keys={"count": facts.shortened_count, "documents": facts.shortened},
        retried_in=follow_up,
        # Models deprecated at submit: what the job's profiles should move off, and by when.
        deprecated_models=tuple(facts.deprecated_models()),
        previous_attempt=job.previous_job_id,
        created_at=job.created_at,
        ended_at=job.ended_at,
        completed_at=_iso(ctx.now()),
        manifest_key=job.manifest_key,
        results_key=results_key(job_id),
        summary_key=summary_key(job_id),
        documents_key=documents_key(job_id),
        documents_table_key=documents_table_key(job),
        results_prefixes=tuple(sorted(f"results/{profile}/" for profile in facts.profiles)),
    )


def _notify(work: Collection, summary: Summary, ctx: CompletionContext) -> None:
    """In a workflow, one notification at its end (and per stage when the profile asks for it);
    never twice for one job (the checkpoint says it was sent)."""
    workflow = summary.workflow
    notify = workflow is None or workflow.final or work.facts.notify_each_stage
    ctx.crash("complete:before-notify")
    checkpoint = work.progress.checkpoint
    if notify and not checkpoint.notified:
        ctx.notifier.publish(notification_subject(summary), notification_message(summary, ctx.store.uri))
        checkpoint.notified = True
        checkpoint.save(ctx.store, job_id=work.job.job_id)
