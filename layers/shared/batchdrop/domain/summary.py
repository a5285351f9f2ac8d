"""A completed job's summary as a typed value. Pure, no I/O.

``Summary.to_json()`` is ``jobs/<job-id>/summary.json``, a user-facing contract (DESIGN.md):
every field, in this order, with these values. ``Summary.from_json`` reads one back, also one
written before a field existed (it takes that field's neutral value). The notification, the
jobs store's completed record, the handler's metrics and the operator commands read this value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from batchdrop.domain.pricing import TokenUsage


def tokens_from_json(data: Mapping[str, Any]) -> TokenUsage:
    """Tokens by kind as ``TokenUsage.as_dict`` writes them."""
    return TokenUsage(
        input_tokens=int(data.get("input", 0)),
        output_tokens=int(data.get("output", 0)),
        cache_write_5m_tokens=int(data.get("cache_write_5m", 0)),
        cache_write_1h_tokens=int(data.get("cache_write_1h", 0)),
        cache_read_tokens=int(data.get("cache_read", 0)),
        thinking_tokens=int(data.get("thinking", 0)),
    )


@dataclass(frozen=True)
class Money:
    """A cost at batch and standard prices (USD), rounded as the summary shows it."""

    batch: float
    standard: float
    savings: float

    def to_json(self) -> dict[str, float]:
        return {"batch": self.batch, "standard": self.standard, "savings": self.savings}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Money:
        return cls(float(data["batch"]), float(data["standard"]), float(data["savings"]))


@dataclass(frozen=True)
class JobCost:
    """The job's cost: the priced models' total, and what it leaves out or estimates."""

    currency: str
    money: Money
    complete: bool  # every billed model had a price
    unknown_price_models: tuple[str, ...] = ()
    approximate: bool = False  # some cost estimated from summed tokens (an old checkpoint)
    approximate_models: tuple[str, ...] = ()
    unverified_price_models: tuple[str, ...] = ()
    # "batch": at the batch price; "on_demand": a held Bedrock job answered by InvokeModel, at
    # the on-demand price (batch and standard are then equal, and nothing is saved).
    billed_at: str = "batch"

    @property
    def batch(self) -> float:
        return self.money.batch

    @property
    def standard(self) -> float:
        return self.money.standard

    @property
    def savings(self) -> float:
        return self.money.savings

    def to_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "complete": self.complete,
            "unknown_price_models": list(self.unknown_price_models),
            "approximate": self.approximate,
            "approximate_models": list(self.approximate_models),
            "unverified_price_models": list(self.unverified_price_models),
            **self.money.to_json(),
            **({"billed_at": self.billed_at} if self.billed_at != "batch" else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobCost:
        return cls(
            currency=str(data.get("currency", "USD")),
            money=Money.from_json(data),
            complete=bool(data["complete"]),
            unknown_price_models=tuple(data.get("unknown_price_models") or ()),
            approximate=bool(data.get("approximate", False)),
            approximate_models=tuple(data.get("approximate_models") or ()),
            unverified_price_models=tuple(data.get("unverified_price_models") or ()),
            billed_at=str(data.get("billed_at") or "batch"),
        )


@dataclass(frozen=True)
class UsageRow:
    """Tokens and summed per-request cost of one (profile, model): one set of usage metrics."""

    profile: str
    model: str
    line: str | None  # the price table's model line
    tokens: TokenUsage
    cost: Money | None  # None: no known price for the model (never reported as zero)
    approximate: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "model": self.model,
            "line": self.line,
            "tokens": self.tokens.as_dict(),
            "cost": None if self.cost is None else {**self.cost.to_json(), "approximate": self.approximate},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UsageRow:
        cost = data.get("cost")
        return cls(
            profile=str(data["profile"]),
            model=str(data["model"]),
            line=data.get("line"),
            tokens=tokens_from_json(data.get("tokens") or {}),
            cost=None if cost is None else Money.from_json(cost),
            approximate=bool((cost or {}).get("approximate", False)),
        )


@dataclass(frozen=True)
class TotalCost:
    """A workflow's cost over its stages so far."""

    money: Money
    complete: bool

    def to_json(self) -> dict[str, Any]:
        return {**self.money.to_json(), "complete": self.complete}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TotalCost:
        return cls(Money.from_json(data), bool(data["complete"]))


@dataclass(frozen=True)
class WorkflowStanding:
    """Where a job stands in its workflow (a chain of profiles), with the cost so far."""

    id: str
    stage: int
    previous_jobs: tuple[Mapping[str, Any], ...]  # {"job_id", "summary_key"} of earlier stages
    next_profiles: tuple[str, ...]
    final: bool
    origins: tuple[str, ...]
    total_cost: TotalCost

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "stage": self.stage,
            "previous_jobs": [dict(stage) for stage in self.previous_jobs],
            "next_profiles": list(self.next_profiles),
            "final": self.final,
            "origins": list(self.origins),
            "total_cost": self.total_cost.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkflowStanding:
        return cls(
            id=str(data["id"]),
            stage=int(data.get("stage", 0)),
            previous_jobs=tuple(data.get("previous_jobs") or ()),
            next_profiles=tuple(data.get("next_profiles") or ()),
            final=bool(data.get("final", True)),
            origins=tuple(data.get("origins") or ()),
            total_cost=TotalCost.from_json(data["total_cost"]),
        )


@dataclass(frozen=True)
class Summary:
    """What became of a job: counts by outcome, tokens, cost, errors, and where its files are.

    The first part is the job's results summed up (domain.job_summary.JobSummary); the rest are
    facts of the job (its attempt, its workflow, its keys) that Complete adds.
    """

    job_id: str
    batch_id: str | None
    documents: int
    counts: Mapping[str, int]
    documents_by_profile: Mapping[str, int]
    tokens: TokenUsage
    tokens_by_model: Mapping[str, TokenUsage]
    cost_by_profile: Mapping[str, Mapping[str, Any]]
    by_profile_and_model: tuple[UsageRow, ...]
    stop_reasons: Mapping[str, int]
    cost: JobCost
    prices_checked: str | None
    errors: tuple[Mapping[str, Any], ...]
    errors_truncated: bool
    status: str = "completed"
    workflow: WorkflowStanding | None = None
    estimate: Mapping[str, Any] | None = None
    attempt: int = 1
    cancel_requested_at: str | None = None
    results_archived: Mapping[str, Any] | None = None
    not_submitted: str | None = None
    shortened_keys: Mapping[str, Any] = field(default_factory=lambda: {"count": 0, "documents": []})
    retried_in: str | None = None
    deprecated_models: tuple[Mapping[str, Any], ...] = ()
    previous_attempt: str | None = None
    created_at: str | None = None
    ended_at: str | None = None
    completed_at: str | None = None
    manifest_key: str | None = None
    results_key: str | None = None
    summary_key: str | None = None
    documents_key: str | None = None
    documents_table_key: str | None = None
    results_prefixes: tuple[str, ...] = ()

    def count(self, outcome: str) -> int:
        return int(self.counts.get(outcome, 0))

    @property
    def succeeded(self) -> int:
        return self.count("succeeded")

    @property
    def failed(self) -> int:
        """Documents left without an answer (retried ones go on; superseded ones have a newer
        version's outcome)."""
        return self.documents - self.succeeded - self.count("retried") - self.count("superseded")

    def to_json(self) -> dict[str, Any]:
        """summary.json, exactly (field order included)."""
        return {**self.results_json(), **self.job_json()}

    def results_json(self) -> dict[str, Any]:
        """The counted part of summary.json: the fields up to ``errors_truncated``."""
        return {
            "job_id": self.job_id,
            "batch_id": self.batch_id,
            "documents": self.documents,
            "counts": dict(self.counts),
            "documents_by_profile": dict(self.documents_by_profile),
            "tokens": self.tokens.as_dict(),
            "tokens_by_model": {model: usage.as_dict() for model, usage in self.tokens_by_model.items()},
            "cost_by_profile": {profile: dict(cost) for profile, cost in self.cost_by_profile.items()},
            "by_profile_and_model": [row.to_json() for row in self.by_profile_and_model],
            "stop_reasons": dict(self.stop_reasons),
            "cost": self.cost.to_json(),
            "prices_checked": self.prices_checked,
            "errors": [dict(error) for error in self.errors],
            "errors_truncated": self.errors_truncated,
        }

    def job_json(self) -> dict[str, Any]:
        """The job's part of summary.json: its status, workflow, attempt and keys."""
        return {
            "status": self.status,
            "workflow": None if self.workflow is None else self.workflow.to_json(),
            "estimate": None if self.estimate is None else dict(self.estimate),
            "attempt": self.attempt,
            "cancel_requested_at": self.cancel_requested_at,
            "results_archived": None if self.results_archived is None else dict(self.results_archived),
            "not_submitted": self.not_submitted,
            "shortened_keys": dict(self.shortened_keys),
            "retried_in": self.retried_in,
            "deprecated_models": [dict(model) for model in self.deprecated_models],
            "previous_attempt": self.previous_attempt,
            "created_at": self.created_at,
            "ended_at": self.ended_at,
            "completed_at": self.completed_at,
            "manifest_key": self.manifest_key,
            "results_key": self.results_key,
            "summary_key": self.summary_key,
            "documents_key": self.documents_key,
            "documents_table_key": self.documents_table_key,
            "results_prefixes": list(self.results_prefixes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Summary:
        """A summary.json read back; a field it lacks (an older summary) takes its neutral value."""
        workflow = data.get("workflow")
        return cls(
            job_id=str(data["job_id"]),
            batch_id=data.get("batch_id"),
            documents=int(data["documents"]),
            counts=dict(data["counts"]),
            documents_by_profile=dict(data.get("documents_by_profile") or {}),
            tokens=tokens_from_json(data.get("tokens") or {}),
            tokens_by_model={m: tokens_from_json(t) for m, t in (data.get("tokens_by_model") or {}).items()},
            cost_by_profile=dict(data.get("cost_by_profile") or {}),
            by_profile_and_model=tuple(UsageRow.from_json(r) for r in data.get("by_profile_and_model") or ()),
            stop_reasons=dict(data.get("stop_reasons") or {}),
            cost=JobCost.from_json(data["cost"]),
            prices_checked=data.get("prices_checked"),
            errors=tuple(data.get("errors") or ()),
            errors_truncated=bool(data.get("errors_truncated", False)),
            status=str(data.get("status", "completed")),
            workflow=None if not workflow else WorkflowStanding.from_json(workflow),
            estimate=data.get("estimate"),
            attempt=int(data.get("attempt", 1)),
            cancel_requested_at=data.get("cancel_requested_at"),
            results_archived=data.get("results_archived"),
            not_submitted=data.get("not_submitted"),
            shortened_keys=data.get("shortened_keys") or {"count": 0, "documents": []},
            retried_in=data.get("retried_in"),
            deprecated_models=tuple(data.get("deprecated_models") or ()),
            previous_attempt=data.get("previous_attempt"),
            created_at=data.get("created_at"),
            ended_at=data.get("ended_at"),
            completed_at=data.get("completed_at"),
            manifest_key=data.get("manifest_key"),
            results_key=data.get("results_key"),
            summary_key=data.get("summary_key"),
            documents_key=data.get("documents_key"),
            documents_table_key=data.get("documents_table_key"),
            results_prefixes=tuple(data.get("results_prefixes") or ()),
        )
