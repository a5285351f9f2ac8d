"""A job as the jobs store holds it, typed: every attribute a use case or an operator reads."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from batchdrop.domain.lifecycle import FINAL_STATES, JobState


@dataclass(frozen=True)
class Cost:
    """Money in USD at batch and at standard price; ``complete`` False when a model's price
    was unknown (its share is missing, not zero)."""

    batch: float
    standard: float
    complete: bool


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    status: JobState
    manifest_key: str
    created_at: str
    updated_at: str = ""
    batch_id: str | None = None
    # What Submit (or Complete, for a follow-up) recorded with the intent.
    documents: int = 0
    requests: int = 0
    rejected: int = 0
    profiles: tuple[str, ...] = ()
    attempt: int = 1
    previous_job_id: str | None = None
    part: str | None = None  # "2/3": the job is one of several made from one window
    estimate_batch: float | None = None
    estimate_complete: bool = True
    preflight: str | None = None
    # Where its batch runs: "anthropic" (the Claude API) or "bedrock"; older records are the former.
    backend: str = "anthropic"
    # Creating the batch (batch_creation): the lease, the calls made, the refusals.
    creation_owner: str | None = None
    creation_lease_until: str | None = None
    create_calls: tuple[str, ...] = ()
    settled_calls: tuple[str, ...] = ()
    waiting_since: str | None = None
    last_refusal: str | None = None
    create_refusals: int = 0
    disowned_batches: frozenset[str] = frozenset()
    end_reason: str | None = None  # no batch will be made: why
    abandoned_reason: str | None = None
    # Below Bedrock's minimum job size (usecases.submit.minimum): held until, for which
    # profile and model, what then; the held jobs it took over, or the job that took it over.
    held_until: str | None = None
    hold_key: str | None = None
    below_minimum: str | None = None  # "on_demand" or "error"
    released_at: str | None = None
    merged: tuple[str, ...] = ()
    merged_into: str | None = None
    adopted: bool = False  # its batch was found by listing, not from the create's answer
    # Watching the batch (Poll).
    batch_expires_at: str | None = None
    open_since: str | None = None
    processing_status: str | None = None
    request_counts: dict[str, int] = field(default_factory=dict)
    polled_at: str | None = None  # when its progress last moved
    ending_claimed_at: str | None = None
    ended_at: str | None = None
    redriven_at: str | None = None
    cancel_requested_at: str | None = None
    # Completing it (Complete).
    completing_claimed_at: str | None = None
    completed_at: str | None = None
    result_counts: dict[str, int] = field(default_factory=dict)
    cost: Cost | None = None
    cost_by_profile: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    summary_key: str | None = None
    workflow_cost: Cost | None = None  # this job's and every earlier stage's of its workflow
    prices_checked: str | None = None  # the date of the prices.json it was priced with, when recorded

    @property
    def is_open(self) -> bool:
        return self.status not in FINAL_STATES

    @classmethod
    def from_attributes(cls, item: dict[str, Any]) -> JobRecord:
        """From the store's plain attributes (numbers as int or float); unknown ones are ignored."""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: v for k, v in item.items() if k in known and v is not None}
        values["status"] = JobState(item["status"])
        for name in ("profiles", "create_calls", "settled_calls", "merged"):
            if name in values:
                values[name] = tuple(values[name])
        if "disowned_batches" in values:
            values["disowned_batches"] = frozenset(values["disowned_batches"])
        values["cost"] = _cost(item, "cost")
        values["workflow_cost"] = _cost(item, "workflow_cost")
        for name in ("estimate_batch",):
            if name in values:
                values[name] = float(values[name])
        return cls(**values)


def _cost(item: dict[str, Any], prefix: str) -> Cost | None:
    if item.get(f"{prefix}_batch") is None:
        return None
    return Cost(
        batch=float(item[f"{prefix}_batch"]),
        standard=float(item[f"{prefix}_standard"]),
        complete=bool(item.get(f"{prefix}_complete", True)),
    )
