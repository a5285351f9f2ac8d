"""A job within a workflow (a chain of profiles): its answers handed to the next stage, and
where it stands, with the cost of the stages before it; and its cost against its estimate."""

from __future__ import annotations

from typing import Any

from batchdrop.domain.documents import (
    METADATA_ORIGIN,
    METADATA_PREVIOUS_JOB,
    METADATA_STAGE,
    METADATA_WORKFLOW,
)
from batchdrop.domain.job import JobRecord
from batchdrop.domain.job_summary import JobSummary
from batchdrop.domain.keys import next_stage_key
from batchdrop.domain.manifest import ManifestEntry
from batchdrop.domain.manifest_facts import ManifestFacts
from batchdrop.domain.results import ResultObject, metadata_value
from batchdrop.domain.summary import Money, TotalCost, WorkflowStanding
from batchdrop.ports import Bucket, JobsStore


def hand_to_next_stage(store: Bucket, job: JobRecord, entry: ManifestEntry, answer: ResultObject) -> None:
    """The answer becomes a document of the workflow's next stage (written to its inbox
    folder, so the next stage is batched like any upload), linked to where it started."""
    assert entry.next_profile is not None
    key = next_stage_key(answer.key, entry.profile, entry.next_profile)
    metadata = {
        METADATA_WORKFLOW: entry.workflow_id or job.job_id,
        METADATA_STAGE: str(entry.stage + 1),
        METADATA_ORIGIN: metadata_value(entry.origin_key or entry.source_key),
        METADATA_PREVIOUS_JOB: job.job_id,
    }
    store.put_once(key, answer.body, answer.content_type, metadata, owner=job.job_id)


def workflow_standing(
    jobs: JobsStore, job: JobRecord, facts: ManifestFacts, summary: JobSummary
) -> WorkflowStanding | None:
    """Where this job stands in its workflow, with the cost of the stages so far (None: the
    job is in no workflow)."""
    if not facts.in_workflow:
        return None
    cost, unknown = summary.cost()
    batch, standard = cost.batch, cost.standard
    complete = not unknown
    stages = []
    for job_id in sorted(facts.previous_jobs):
        record = jobs.get(job_id)
        if record is None or record.workflow_cost is None:
            complete = False
            continue
        batch += record.workflow_cost.batch
        standard += record.workflow_cost.standard
        complete = complete and record.workflow_cost.complete
        stages.append({"job_id": job_id, "summary_key": record.summary_key})
    return WorkflowStanding(
        id=facts.workflow_id or job.job_id,
        stage=facts.stage,
        previous_jobs=tuple(stages),
        next_profiles=tuple(sorted(facts.next_profiles)),
        final=facts.final,
        origins=tuple(facts.origins),
        total_cost=TotalCost(
            Money(round(batch, 9), round(standard, 9), round(standard - batch, 9)), complete
        ),
    )


def compare_with_estimate(summary: JobSummary, estimated: float, estimated_in_full: bool) -> dict[str, Any]:
    """The cost estimated before submitting (of the submitted requests; ``estimated_in_full``
    when each had a price) against the cost the job had."""
    actual, unknown = summary.cost()
    complete = estimated_in_full and not unknown
    return {
        "batch": round(estimated, 9),
        "complete": complete,
        "actual_batch": round(actual.batch, 9),
        # Output is estimated at max_tokens, so actual/estimate is usually well below 1.
        "actual_to_estimate": round(actual.batch / estimated, 4) if complete and estimated else None,
    }
