"""What a job's summary needs of its manifest as a whole, gathered in one streamed pass. Pure."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from batchdrop.domain.manifest import REJECTED
from batchdrop.domain.manifest_index import ManifestIndex

# Documents a workflow's summary names as where it started.
MAX_ORIGINS = 20
# Documents with shortened keys a summary names.
MAX_SHORTENED = 100


@dataclass
class ManifestFacts:
    """What the summary needs of the manifest as a whole, gathered in one streamed pass."""

    attempt: int = 1
    notify_each_stage: bool = False
    profiles: set[str] = field(default_factory=set)
    # Of the submitted entries (not the rejected ones): where the job stands in a workflow.
    in_workflow: bool = False
    workflow_id: str | None = None
    stage: int = 0
    previous_jobs: set[str] = field(default_factory=set)
    next_profiles: set[str] = field(default_factory=set)
    final: bool = False
    origins: list[str] = field(default_factory=list)  # the first MAX_ORIGINS, sorted
    estimated: float = 0.0  # the submitted requests' estimated cost at batch price
    estimated_in_full: bool = True  # every one of them had an estimate
    # Documents whose keys were shortened to fit S3 (the first MAX_SHORTENED), and how many.
    shortened: list[dict[str, Any]] = field(default_factory=list)
    shortened_count: int = 0
    # Deprecated models the job's requests were sent to: model -> (retires_at, profiles, documents).
    deprecated: dict[str, tuple[str, set[str], int]] = field(default_factory=dict)

    @classmethod
    def of(cls, manifest: ManifestIndex) -> ManifestFacts:
        facts = cls(attempt=0)
        for _, e in manifest.entries():
            facts.attempt = max(facts.attempt, e.attempt)
            facts.notify_each_stage = facts.notify_each_stage or e.notify_stage
            facts.profiles.add(e.profile)
            if e.full_keys:
                facts.shortened_count += 1
                if len(facts.shortened) < MAX_SHORTENED:
                    kept = {"result_key": e.result_key, "error_key": e.error_key}
                    facts.shortened.append(
                        {
                            "document": e.source_key,
                            **({"item": e.item} if e.item is not None else {}),
                            **{
                                field: {"key": kept[field], "full_key": full}
                                for field, full in e.full_keys.items()
                            },
                        }
                    )
            if e.status == REJECTED:
                continue
            if e.model_retires_at and e.model:
                retires_at, profiles, count = facts.deprecated.get(e.model, (e.model_retires_at, set(), 0))
                facts.deprecated[e.model] = (
                    min(retires_at, e.model_retires_at),
                    profiles | {e.profile},
                    count + 1,
                )
            facts.estimated += e.estimated_cost or 0.0
            facts.estimated_in_full = facts.estimated_in_full and e.estimated_cost is not None
            facts.in_workflow = facts.in_workflow or bool(e.next_profile or e.workflow_id)
            facts.workflow_id = facts.workflow_id or e.workflow_id
            facts.stage = max(facts.stage, e.stage)
            facts.final = facts.final or e.next_profile is None
            if e.previous_job_id:
                facts.previous_jobs.add(e.previous_job_id)
            if e.next_profile:
                facts.next_profiles.add(e.next_profile)
            if e.origin_key and e.origin_key not in facts.origins:
                bisect.insort(facts.origins, e.origin_key)
                del facts.origins[MAX_ORIGINS:]
        facts.attempt = facts.attempt or 1
        return facts

    def deprecated_models(self) -> list[dict[str, Any]]:
        """Each deprecated model the job used, soonest retirement first: what to move off."""
        return [
            {"model": model, "retires_at": retires_at, "profiles": sorted(profiles), "documents": count}
            for model, (retires_at, profiles, count) in sorted(
                self.deprecated.items(), key=lambda m: (m[1][0], m[0])
            )
        ]
