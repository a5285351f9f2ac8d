"""The operator commands: ``status``, ``job``, ``cost``, ``documents`` and ``cancel``. Each finds
the stack (target), reads (reading), renders (render) and prints; what goes wrong is one line on
stderr and exit status 2.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from batchdrop.adapters.s3_bucket import DocumentStore
from batchdrop.domain.keys import cancel_key, documents_key
from batchdrop.domain.lifecycle import FINAL_STATES, JobState
from batchdrop_ops.defaults import DEFAULT_COST_SINCE, DEFAULT_INTERVAL, DEFAULT_STATUS_SINCE
from batchdrop_ops.errors import ReportError
from batchdrop_ops.reading import Manifest, StackReader, is_claim
from batchdrop_ops.render.cost import render_cost
from batchdrop_ops.render.documents import render_documents
from batchdrop_ops.render.job import render_job
from batchdrop_ops.render.status import render_status
from batchdrop_ops.target import StackTarget, resolve_stack
from batchdrop_ops.times import parse_since
from batchdrop_ops.watch import watch_loop

_JOB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _fail(command: str, message: str) -> int:
    print(f"batchdrop {command}: {message}", file=sys.stderr)
    return 2


def _run(command: str, target: Callable[[], StackTarget], body: Callable[[StackReader], int]) -> int:
    """Run a command's body; what went wrong goes to stderr in one line, with exit status 2."""
    stack: StackTarget | None = None
    try:
        stack = target()
        return body(StackReader(stack.jobs(), stack.store(), stack.jobs_table))
    except ReportError as exc:
        message = str(exc)
    except EndpointConnectionError as exc:
        message = f"cannot reach {stack.description if stack else 'the stack'}: {exc}"
        if stack and stack.endpoint:
            message += " (is the local stack still running? `make local-up` starts it)"
    except NoCredentialsError as exc:
        message = f"{exc}: set AWS credentials (e.g. AWS_PROFILE) to read a deployed stack"
    except ClientError as exc:
        error = exc.response.get("Error", {})
        message = f"{error.get('Code', 'error')}: {error.get('Message', exc)}"
        if error.get("Code") == "ResourceNotFoundException" and stack:
            message = f"the jobs table {stack.jobs_table} of {stack.description} does not exist ({message})"
    except BotoCoreError as exc:
        message = str(exc)
    return _fail(command, message)


def _show(
    frame: Callable[[], tuple[str, bool]],
    *,
    title: str,
    watch: bool,
    interval: float,
    out: TextIO | None,
    sleep: Callable[[float], None],
    max_iterations: int | None,
) -> int:
    """Print a view once, or with ``watch`` redraw it until it says nothing is left open."""
    if watch:
        return watch_loop(
            frame, title=title, interval=interval, out=out, sleep=sleep, max_iterations=max_iterations
        )
    print(frame()[0], file=out or sys.stdout)
    return 0


def _not_a_job(job_id: str) -> str:
    return f"{job_id} is the claim of a document version or a batch, not a job"


# --- the views, one frame each ----------------------------------------------------------------


def status_frame(reader: StackReader, since: datetime, bars: bool = False) -> tuple[str, bool]:
    """The status as text, and whether any job is still open."""
    now = datetime.now(UTC)
    open_jobs = reader.open_jobs()
    recent = reader.created_since(since)
    return render_status(open_jobs, recent, since, now, bars=bars), bool(open_jobs)


def job_frame(reader: StackReader, job_id: str, cache: dict[str, Manifest]) -> tuple[str, bool]:
    """The job in detail, and whether it is still to be completed."""
    job = reader.job(job_id)
    if "manifest" not in cache:  # the manifest never changes: read it once per watch
        cache["manifest"] = reader.manifest(job)
    manifest = cache["manifest"]
    summary = reader.summary(job) if job.status == JobState.COMPLETED else None
    results = reader.document_results(job, manifest, summary)
    text = render_job(job, manifest, results, summary, datetime.now(UTC), reader.bucket)
    return text, job.status not in FINAL_STATES


# --- the commands -----------------------------------------------------------------------------


def status_command(
    *,
    stack_name: str | None = None,
    state_dir: Path,
    since: str = DEFAULT_STATUS_SINCE,
    watch: bool = False,
    interval: float = DEFAULT_INTERVAL,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_iterations: int | None = None,
) -> int:
    """Open jobs, then the others created since ``since``; with ``watch``, until none is open."""
    try:
        start = parse_since(since, datetime.now(UTC))
    except ReportError as exc:
        return _fail("status", str(exc))

    def body(reader: StackReader) -> int:
        return _show(
            lambda: status_frame(reader, start, bars=watch),
            title="batchdrop status",
            watch=watch,
            interval=interval,
            out=out,
            sleep=sleep,
            max_iterations=max_iterations,
        )

    return _run("status", lambda: resolve_stack(stack_name=stack_name, state_dir=state_dir), body)


def job_command(
    job_id: str,
    *,
    stack_name: str | None = None,
    state_dir: Path,
    watch: bool = False,
    interval: float = DEFAULT_INTERVAL,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_iterations: int | None = None,
) -> int:
    """One job in detail; with ``watch``, until it is completed (or abandoned)."""
    if is_claim(job_id):
        return _fail("job", _not_a_job(job_id))

    def body(reader: StackReader) -> int:
        cache: dict[str, Manifest] = {}
        return _show(
            lambda: job_frame(reader, job_id, cache),
            title=f"batchdrop job {job_id}",
            watch=watch,
            interval=interval,
            out=out,
            sleep=sleep,
            max_iterations=max_iterations,
        )

    return _run("job", lambda: resolve_stack(stack_name=stack_name, state_dir=state_dir), body)


def cost_command(
    *,
    stack_name: str | None = None,
    state_dir: Path,
    since: str = DEFAULT_COST_SINCE,
    out: TextIO | None = None,
) -> int:
    """Spending and savings of the jobs completed since ``since``, per profile and in total."""
    try:
        start = parse_since(since, datetime.now(UTC))
    except ReportError as exc:
        return _fail("cost", str(exc))

    def body(reader: StackReader) -> int:
        print(render_cost(reader.completed_since(start), start), file=out or sys.stdout)
        return 0

    return _run("cost", lambda: resolve_stack(stack_name=stack_name, state_dir=state_dir), body)


def documents_command(
    job_id: str,
    *,
    stack_name: str | None = None,
    state_dir: Path,
    out: TextIO | None = None,
) -> int:
    """A completed job's documents table (``jobs/<job-id>/documents.jsonl``) as a table."""
    if is_claim(job_id):
        return _fail("documents", _not_a_job(job_id))

    def body(reader: StackReader) -> int:
        rows = reader.documents(job_id)
        if rows is None:
            job = reader.job(job_id)
            raise ReportError(
                f"job {job_id} is {job.status.value}: its documents table, {documents_key(job_id)}, is "
                f"written when the job completes (`batchdrop job {job_id} --watch` follows it)"
            )
        print(render_documents(job_id, rows), file=out or sys.stdout)
        return 0

    return _run("documents", lambda: resolve_stack(stack_name=stack_name, state_dir=state_dir), body)


# --- batchdrop cancel -------------------------------------------------------------------------


def request_cancel(store: DocumentStore, job_id: str) -> str:
    """Write the job's cancel marker, ``jobs/<job-id>/cancel``: all it takes (any S3 client can
    write it). Its URI."""
    if not _JOB_ID_RE.match(job_id):
        raise SystemExit(f"not a job id: {job_id!r} (see jobs/ in the bucket, or the notification)")
    key = cancel_key(job_id)
    store.put_bytes(key, b"", "text/plain")
    return store.uri(key)


def cancel_command(
    job_id: str,
    *,
    stack_name: str | None,
    bucket: str | None,
    state_dir: Path,
    out: TextIO | None = None,
) -> int:
    """Ask batchdrop to cancel a job in the bucket you name, or the local stack's (its state
    file), or a deployed stack's (its Outputs), found as ``status`` finds it."""
    if bucket:
        store = DocumentStore(boto3.client("s3"), bucket)
    else:
        try:
            store = resolve_stack(stack_name=stack_name, state_dir=state_dir).store()
        except ReportError as exc:
            return _fail("cancel", str(exc))
    marker = request_cancel(store, job_id)
    print(
        f"Cancel requested for job {job_id}: wrote {marker}.\n"
        "The batch is canceled within moments; answers that finished are collected as usual and\n"
        "the other documents get an .error.json saying they were canceled.",
        file=out or sys.stdout,
    )
    return 0
