"""What the operator commands read: jobs (typed JobRecords, through the functions' jobs
adapter), and from the bucket a job's manifest, summary and documents table.

Open jobs come from one Query of the sparse ``open-jobs`` index. Recent jobs (``status``) and
completed ones (``cost``) come from a Scan with a filter (JobStore.created_since and
completed_since): a Scan reads the whole table and is billed for all it reads. These commands are
for an operator now and then, never for a hot path.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any, Protocol

from botocore.exceptions import ClientError

from batchdrop.adapters.dynamodb_claims import BATCH_PREFIX, CLAIM_PREFIX
from batchdrop.domain.job import JobRecord
from batchdrop.domain.keys import documents_key, manifest_key, summary_key
from batchdrop.domain.lifecycle import JobState
from batchdrop.domain.summary import Summary
from batchdrop_ops.errors import ReportError

# A job's documents listed one by one; the rest are counted.
LIST_LIMIT = 50
# Documents whose result is looked up with head_object when the summary cannot tell.
HEAD_LIMIT = 50


class JobReads(Protocol):
    """What the commands read of the jobs store (adapters.dynamodb_jobs.JobStore)."""

    def get(self, job_id: str) -> JobRecord | None: ...

    def open_jobs(self) -> Iterator[JobRecord]: ...

    def created_since(self, since: datetime) -> Iterator[JobRecord]: ...

    def completed_since(self, since: datetime) -> Iterator[JobRecord]: ...


class BucketReads(Protocol):
    """What the commands read of the bucket (adapters.s3_bucket.DocumentStore)."""

    bucket: str

    def get_json(self, key: str) -> Any: ...

    def exists(self, key: str) -> bool: ...

    def read_lines(self, key: str) -> Iterator[str]: ...


def is_claim(job_id: str) -> bool:
    """Items that claim a document version or a batch share the table; they are not jobs."""
    return job_id.startswith((CLAIM_PREFIX, BATCH_PREFIX))


def read_summary(store: BucketReads, key: str) -> Summary | None:
    """A completed job's ``summary.json`` as the typed summary Complete wrote, or None when there
    is none. The only place the commands read a summary."""
    data = store.get_json(key)
    if data is None:
        return None
    try:
        return Summary.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReportError(f"{key} is not a summary batchdrop wrote ({type(exc).__name__}: {exc})") from exc


@dataclass
class Manifest:
    """The first LIST_LIMIT lines of a job's manifest, and counts over all of it."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    by_profile: Counter[str] = field(default_factory=Counter)
    found: bool = False


class StackReader:
    """The jobs table and the bucket of one stack, read the cheap way where there is one."""

    def __init__(self, jobs: JobReads, store: BucketReads, jobs_table: str) -> None:
        self.jobs = jobs
        self.store = store
        self.jobs_table = jobs_table

    @property
    def bucket(self) -> str:
        return self.store.bucket

    def open_jobs(self) -> list[JobRecord]:
        """Jobs not yet completed, oldest first."""
        return list(self.jobs.open_jobs())

    def created_since(self, since: datetime) -> list[JobRecord]:
        """Jobs created at or after ``since``, newest first."""
        return sorted(self.jobs.created_since(since), key=lambda j: j.created_at, reverse=True)

    def completed_since(self, since: datetime) -> list[JobRecord]:
        """Jobs completed at or after ``since``, oldest first."""
        return sorted(self.jobs.completed_since(since), key=lambda j: j.completed_at or "")

    def job(self, job_id: str) -> JobRecord:
        job = self.jobs.get(job_id)
        if job is None:
            raise ReportError(f"no job {job_id} in the jobs table {self.jobs_table}")
        return job

    def jsonl(self, key: str) -> Iterator[dict[str, Any]] | None:
        """The JSON lines of an object, or None when there is none."""
        lines = self.store.read_lines(key)
        try:
            first = next(lines)
        except StopIteration:
            return iter(())
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        return (json.loads(line) for line in chain([first], lines) if line.strip())

    def summary(self, job: JobRecord) -> Summary | None:
        return read_summary(self.store, job.summary_key or summary_key(job.job_id))

    def manifest(self, job: JobRecord) -> Manifest:
        lines = self.jsonl(job.manifest_key or manifest_key(job.job_id))
        manifest = Manifest(found=lines is not None)
        for entry in lines or ():
            manifest.total += 1
            manifest.by_profile[str(entry.get("profile"))] += 1
            if len(manifest.entries) < LIST_LIMIT:
                manifest.entries.append(entry)
        return manifest

    def documents(self, job_id: str) -> list[dict[str, Any]] | None:
        """A completed job's documents table (``jobs/<job-id>/documents.jsonl``), or None."""
        rows = self.jsonl(documents_key(job_id))
        return None if rows is None else list(rows)

    def document_results(self, job: JobRecord, manifest: Manifest, summary: Summary | None) -> list[str]:
        """Where each listed document's answer or error is.

        Cheap first: the summary names every failure (unless it had too many to list) and the
        follow-up job's manifest names the retried ones; head_object is the fallback, for at most
        HEAD_LIMIT documents.
        """
        results: list[str] = []
        if job.status != JobState.COMPLETED:
            for entry in manifest.entries:
                if entry.get("status") == "rejected":
                    results.append(f"error: {entry.get('error_key')} (rejected)")
                elif job.status == JobState.ABANDONED:
                    results.append("not sent (job abandoned)")
                else:
                    results.append("pending")
            return results
        errors = {str(e.get("error_key")): str(e.get("type")) for e in summary.errors} if summary else {}
        retried: set[str] = set()
        retried_in = summary.retried_in if summary else None
        if retried_in:
            follow_up = self.jsonl(manifest_key(str(retried_in))) or ()
            retried = {str(e.get("custom_id")) for e in follow_up}
        summary_tells = summary is not None and not summary.errors_truncated
        heads = 0
        for entry in manifest.entries:
            error_key = str(entry.get("error_key"))
            result_key = entry.get("result_key")
            if entry.get("custom_id") in retried:
                results.append(f"retried in {retried_in}")
            elif error_key in errors:
                results.append(f"error: {error_key} ({errors[error_key]})")
            elif summary_tells and result_key:
                results.append(f"answer: {result_key}")
            elif heads < HEAD_LIMIT:
                heads += 1
                if result_key and self.store.exists(str(result_key)):
                    results.append(f"answer: {result_key}")
                elif self.store.exists(error_key):
                    results.append(f"error: {error_key}")
                else:
                    results.append("neither answer nor error found")
            else:
                results.append("not checked")
        return results
