"""``batchdrop status``: open jobs, then the others created since a moment."""

from __future__ import annotations

from datetime import datetime

from batchdrop.domain.job import JobRecord
from batchdrop.domain.lifecycle import JobState
from batchdrop.domain.times import iso
from batchdrop_ops.render.progress import cost_complete, progress_text, request_progress, status_text
from batchdrop_ops.render.text import cost_text, progress_bar, table
from batchdrop_ops.times import humanise_age

STATUS_HEADERS = ("JOB", "PROFILES", "STATUS", "PROGRESS", "AGE", "COST", "AT STANDARD", "ATTEMPT")


def status_row(job: JobRecord, now: datetime) -> tuple[str, ...]:
    completed = job.status == JobState.COMPLETED
    complete = cost_complete(job)
    batch, standard = (job.cost.batch, job.cost.standard) if job.cost else (None, None)
    return (
        job.job_id,
        ",".join(job.profiles) or "-",
        status_text(job),
        progress_text(job),
        humanise_age(job.created_at, now),
        cost_text(batch, complete) if completed else "-",
        cost_text(standard, complete) if completed else "-",
        str(job.attempt),
    )


def render_status(
    open_jobs: list[JobRecord],
    recent: list[JobRecord],
    since: datetime,
    now: datetime,
    bars: bool = False,
) -> str:
    lines = [f"Open jobs: {len(open_jobs)}"]
    if open_jobs:
        lines += table(STATUS_HEADERS, (status_row(j, now) for j in open_jobs))
    if bars and open_jobs:
        lines.append("")
        width = max(len(j.job_id) for j in open_jobs)
        lines += [f"{j.job_id.ljust(width)}  {progress_bar(*request_progress(j))}" for j in open_jobs]
    open_ids = {j.job_id for j in open_jobs}
    others = [j for j in recent if j.job_id not in open_ids]
    lines += ["", f"Other jobs created since {iso(since)}: {len(others)}"]
    if others:
        lines += table(STATUS_HEADERS, (status_row(j, now) for j in others))
    return "\n".join(lines)
