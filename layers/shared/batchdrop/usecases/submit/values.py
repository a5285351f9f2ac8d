"""What passes between the steps of Submit: a pending request, a batch's limits, what became of
each job and of the window."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from batchdrop.domain.manifest import ManifestEntry

# The create body is {"requests": [r1,r2,...]}: the wrapper plus a comma per request.
BODY_OVERHEAD = len('{"requests":[]}')


@dataclass(frozen=True)
class BatchLimits:
    """What one batch may hold (the API's limits by default; smaller in tests)."""

    max_requests: int = 100_000
    max_bytes: int = 256 * 1024 * 1024


@dataclass(frozen=True)
class PendingRequest:
    entry: ManifestEntry
    request: dict[str, Any]
    line: str  # the request as JSON, once: its size counts against the batch, and it is kept
    budget: float | None = None  # its profile's max_job_cost_usd
    # The profile's JSON Schema when the request was built with it: written once per job.
    schema: dict[str, Any] | None = None
    backend: str = "anthropic"  # its profile's: where its job's batch runs
    below_minimum: str = "error"  # its profile's: what becomes of it below Bedrock's minimum job size
    # The held job (usecases.submit.minimum) that holds its claim, when it comes from one.
    held_by: str | None = None

    @property
    def size(self) -> int:
        return len(self.line.encode())

    @property
    def job_kind(self) -> tuple[str, str | None]:
        """What the requests of one job share: the backend, and on Bedrock the model (a model
        invocation job has one modelId); a Claude API batch may mix models."""
        if self.backend == "anthropic":
            return (self.backend, None)
        return (self.backend, self.model)

    @property
    def model(self) -> str:
        return str(self.request["params"].get("model") or "")

    @property
    def hold_key(self) -> str:
        """What a held job gathers (usecases.submit.minimum): one profile's requests to one model."""
        return f"{self.backend}|{self.model}|{self.entry.profile}"


@dataclass(frozen=True)
class JobSubmitted:
    job_id: str
    batch_id: str | None  # None while the job waits for capacity or Poll settles its creation
    requests: int
    creation: str = "created"  # created, adopted, waiting, uncertain, gave_up
    reason: str | None = None


@dataclass(frozen=True)
class SubmitOutcome:
    jobs: list[JobSubmitted]
    submitted: int
    rejected: int
    ignored: int
    rejection_job_id: str | None = None
    duplicates: int = 0
    preflight: str | None = None  # "skipped" when the Models API could not be reached

    def as_dict(self) -> dict[str, Any]:
        return {
            **({"preflight": self.preflight} if self.preflight else {}),
            "duplicates": self.duplicates,
            "jobs": [
                {
                    "job_id": j.job_id,
                    "batch_id": j.batch_id,
                    "requests": j.requests,
                    "creation": j.creation,
                    **({"reason": j.reason} if j.reason else {}),
                }
                for j in self.jobs
            ],
            "submitted": self.submitted,
            "rejected": self.rejected,
            "ignored": self.ignored,
            "rejection_job_id": self.rejection_job_id,
        }


def split_into_batches(pending: list[PendingRequest], limits: BatchLimits) -> Iterator[list[PendingRequest]]:
    """Consecutive runs of requests, each within both limits, in arrival order."""
    chunk: list[PendingRequest] = []
    body = BODY_OVERHEAD
    for item in pending:
        grown = body + item.size + (1 if chunk else 0)
        if chunk and (len(chunk) >= limits.max_requests or grown > limits.max_bytes):
            yield chunk
            chunk, grown = [], BODY_OVERHEAD + item.size
        chunk.append(item)
        body = grown
    if chunk:
        yield chunk
