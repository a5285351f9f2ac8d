"""A Bedrock model invocation job read as a batch: its name and idempotency token derived from
the batchdrop job id, and its status and record counts as the Claude API's MessageBatch has
them (``processing_status`` in_progress / canceling / ended and the five request counts, which
add up to the job's records from the start). Pure, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from batchdrop.domain.times import iso_exact, parse_time

IN_PROGRESS_STATUSES = frozenset({"Submitted", "Validating", "Scheduled", "InProgress"})
CANCELING_STATUSES = frozenset({"Stopping"})
ENDED_STATUSES = frozenset({"Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"})
# What became of the records an ended job has no output for, by the job's status.
UNANSWERED = {
    "Completed": "errored",
    "PartiallyCompleted": "errored",
    "Failed": "errored",
    "Stopped": "canceled",
    "Expired": "expired",
}
NAME_PREFIX = "batchdrop-"
# jobName: 1..63, [a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}; the token: 1..256 alnum and '-'.
_NAME_RE = re.compile(r"[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9+\-.]){0,63}")
_TOKEN_RE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")
_RECORDS_RE = re.compile(r"-r(\d+)$")
MAX_NAME = 63


def job_prefix(job_id: str) -> str:
    """The start of the names of the job's Bedrock jobs (what a listing looks for)."""
    return f"{NAME_PREFIX}{job_id}-r"


def job_name(job_id: str, records: int) -> str:
    """The Bedrock jobName of a batchdrop job: its id and its record count, so that a listing
    shows how many records a job holds before Bedrock has validated it (``records_in_name``)."""
    name = f"{job_prefix(job_id)}{records}"
    if len(name) > MAX_NAME or not _NAME_RE.fullmatch(name):
        raise ValueError(f"job id {job_id!r} makes no valid Bedrock jobName ({name!r})")
    return name


def records_in_name(name: str) -> int | None:
    """The record count a batchdrop jobName carries (None for another name)."""
    found = _RECORDS_RE.search(name) if name.startswith(NAME_PREFIX) else None
    return int(found.group(1)) if found else None


def client_request_token(job_id: str) -> str:
    """The idempotency token of the job's create: the same job id, the same Bedrock job."""
    token = f"{NAME_PREFIX}{job_id}"
    if len(token) > 256 or not _TOKEN_RE.fullmatch(token):
        raise ValueError(f"job id {job_id!r} makes no valid clientRequestToken ({token!r})")
    return token


def processing_status(status: str) -> str:
    """The MessageBatch processing_status of a Bedrock job status (unknown ones are in progress)."""
    if status in ENDED_STATUSES:
        return "ended"
    if status in CANCELING_STATUSES:
        return "canceling"
    return "in_progress"


def request_counts(status: str, total: int, succeeded: int, errored: int) -> dict[str, int]:
    """The five request counts of a job with ``total`` records, ``succeeded`` and ``errored`` of
    them answered so far: the rest are processing until the job ends, then errored, canceled or
    expired as its status says (as the results lines will name them)."""
    succeeded, errored = max(succeeded, 0), max(errored, 0)
    rest = max(total - succeeded - errored, 0)
    counts = {"processing": 0, "succeeded": succeeded, "errored": errored, "canceled": 0, "expired": 0}
    if status in ENDED_STATUSES:
        counts[UNANSWERED[status]] += rest
    else:
        counts["processing"] = rest
    return counts


def moment(value: Any) -> datetime | None:
    """A timestamp of Bedrock's answer, parsed by botocore (datetime) or left as ISO text."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return parse_time(str(value))


def _iso(value: datetime | None) -> str:
    return iso_exact(value) if value is not None else ""


@dataclass(frozen=True)
class JobView:
    """What batchdrop needs of a GetModelInvocationJob (or list summary) answer."""

    arn: str
    name: str
    status: str
    model_id: str
    message: str
    processing_status: str
    request_counts: dict[str, int]
    created_at: str
    expires_at: str
    ended_at: str | None
    input_uri: str
    output_uri: str

    @property
    def ended(self) -> bool:
        return self.processing_status == "ended"

    @property
    def job_id(self) -> str:
        """The last part of the ARN: the folder Bedrock writes the outputs in."""
        return self.arn.rsplit("/", 1)[-1]

    @classmethod
    def of(cls, job: Mapping[str, Any]) -> JobView:
        status = str(job.get("status") or "Submitted")
        name = str(job.get("jobName") or "")
        # Bedrock counts the records once it has validated them; until then the name says.
        total = int(job.get("totalRecordCount") or records_in_name(name) or 0)
        submitted = moment(job.get("submitTime")) or datetime.fromtimestamp(0, UTC)
        expires = moment(job.get("jobExpirationTime"))
        if expires is None:
            expires = submitted + timedelta(hours=int(job.get("timeoutDurationInHours") or 24))
        ended = None
        if status in ENDED_STATUSES:
            ended = _iso(moment(job.get("endTime")) or moment(job.get("lastModifiedTime")) or submitted)
        inputs = (job.get("inputDataConfig") or {}).get("s3InputDataConfig") or {}
        outputs = (job.get("outputDataConfig") or {}).get("s3OutputDataConfig") or {}
        return cls(
            arn=str(job.get("jobArn") or ""),
            name=name,
            status=status,
            model_id=str(job.get("modelId") or ""),
            message=str(job.get("message") or ""),
            processing_status=processing_status(status),
            request_counts=request_counts(
                status, total, int(job.get("successRecordCount") or 0), int(job.get("errorRecordCount") or 0)
            ),
            created_at=_iso(submitted),
            expires_at=_iso(expires),
            ended_at=ended,
            input_uri=str(inputs.get("s3Uri") or ""),
            output_uri=str(outputs.get("s3Uri") or ""),
        )
