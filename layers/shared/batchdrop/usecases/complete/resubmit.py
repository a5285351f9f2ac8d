"""Asking again: a follow-up job for the requests that failed transiently and for the answers
that failed their schema, created through the routine Submit uses (usecases.batch_creation)."""

from __future__ import annotations

import json
from dataclasses import replace

from batchdrop.domain.job import JobRecord
from batchdrop.domain.keys import manifest_key, requests_key
from batchdrop.domain.manifest import ManifestEntry, dump_manifest, follow_up_job_id
from batchdrop.domain.structured import Feedback, with_feedback
from batchdrop.observability import logger
from batchdrop.usecases.complete.context import CompletionContext


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
    # The shared creation routine loads when a job first has something to ask again.
    from batchdrop.usecases.batch_creation import BatchCreation, JobToCreate, new_owner

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
        backend=job.backend,  # asked again where it was asked first (ctx.batches is that backend)
    )
    ctx.crash("complete:after-follow-up-intent")
    creation = BatchCreation(ctx.jobs, ctx.batches, ctx.now, ctx.creation, crash=ctx.crash)
    outcome = creation.run(JobToCreate(follow_up, len(lines), owner), [json.loads(line) for line in lines])
    logger.info(
        "transient failures resubmitted",
        extra={"job_id": follow_up, "requests": len(entries), "creation": type(outcome).__name__},
    )
    return follow_up
