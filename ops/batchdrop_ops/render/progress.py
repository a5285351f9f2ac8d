"""A job's progress, status and whether its cost is known: what the status table and the job
view both say of a JobRecord."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from batchdrop.domain.job import JobRecord
from batchdrop.domain.lifecycle import FINAL_STATES, JobState
from batchdrop_ops.render.text import number

REQUEST_OUTCOMES = ("succeeded", "errored", "canceled", "expired")
# Still to be collected: the batch has ended (the API's counts are final), its results are not written.
COLLECTING = frozenset({JobState.ENDING, JobState.ENDED, JobState.COMPLETING})


def request_progress(job: JobRecord) -> tuple[int, int]:
    """Requests the API has finished with, of all the job's requests."""
    counts = job.request_counts
    total = number(job.requests) or sum(number(v) for v in counts.values())
    if job.status in COLLECTING:
        return total, total  # the batch has ended; the last poll's counts may predate it
    return sum(number(counts.get(k)) for k in REQUEST_OUTCOMES), total


def _nonzero(counts: Mapping[str, int], names: Iterable[str]) -> str:
    return ", ".join(f"{number(counts.get(n))} {n}" for n in names if number(counts.get(n)))


def progress_text(job: JobRecord) -> str:
    if job.status == JobState.ABANDONED:
        return "-"
    if job.status == JobState.HELD:  # below Bedrock's minimum job size: nothing sent yet
        return f"0/{number(job.requests)} (held until {job.held_until})"
    if job.status == JobState.MERGED:
        return f"merged into {job.merged_into}"
    if job.status == JobState.COMPLETED:
        counts = job.result_counts
        documents = sum(number(v) for v in counts.values())
        others = _nonzero(counts, [k for k in counts if k != "succeeded"])
        text = f"{number(counts.get('succeeded'))}/{documents} succeeded"
        return f"{text} ({others})" if others else text
    done, total = request_progress(job)
    if job.status in COLLECTING:
        return f"{done}/{total} (batch ended)"
    detail = _nonzero(job.request_counts, REQUEST_OUTCOMES)
    return f"{done}/{total} ({detail})" if detail else f"{done}/{total}"


def cost_complete(job: JobRecord) -> bool:
    """Whether the job's recorded cost covers all of it: no cost recorded is no cost known.
    (Jobs completed before ``cost_complete`` was recorded count as complete.)"""
    return job.cost is not None and job.cost.complete


def status_text(job: JobRecord) -> str:
    if job.cancel_requested_at and job.status not in FINAL_STATES:
        return f"{job.status.value} (cancel requested)"
    return job.status.value
