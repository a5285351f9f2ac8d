"""Budgets: a job's requests against their profiles' and the stack's max_job_cost_usd, by the
estimates made at intake. Requests over a budget are not sent; their documents get an
``.error.json`` and the notifier says why."""

from __future__ import annotations

from dataclasses import replace

from batchdrop.domain.manifest import REJECTED, ManifestEntry
from batchdrop.ports.bucket import Bucket
from batchdrop.ports.messages import Notifier
from batchdrop.usecases.submit.values import PendingRequest


def within_budgets(
    chunk: list[PendingRequest], stack_limit: float | None
) -> tuple[list[PendingRequest], list[ManifestEntry], list[str]]:
    """The requests of a job within their profiles' and the stack's max_job_cost_usd, the
    entries refused (with the reason), and one note per budget exceeded."""
    refused: list[ManifestEntry] = []
    notes: list[str] = []
    by_profile: dict[str, list[PendingRequest]] = {}
    for pending in chunk:
        by_profile.setdefault(pending.entry.profile, []).append(pending)
    kept: list[PendingRequest] = []
    for profile, items in by_profile.items():
        note = budget_exceeded(items, items[0].budget, f"max_job_cost_usd of profile {profile!r}")
        if note:
            notes.append(note)
            refused += [replace(p.entry, status=REJECTED, reason=f"not submitted: {note}") for p in items]
        else:
            kept += items
    note = budget_exceeded(kept, stack_limit, "the stack's MaxJobCostUsd")
    if note:
        notes.append(note)
        refused += [replace(p.entry, status=REJECTED, reason=f"not submitted: {note}") for p in kept]
        kept = []
    kept_ids = {p.entry.custom_id for p in kept}
    return [p for p in chunk if p.entry.custom_id in kept_ids], refused, notes


def budget_exceeded(items: list[PendingRequest], limit: float | None, name: str) -> str | None:
    """Why these requests together break a budget, or None when they do not (or there is none)."""
    if limit is None or not items:
        return None
    costs = [p.entry.estimated_cost for p in items]
    if None in costs:
        unpriced = sorted({p.entry.model or "?" for p in items if p.entry.estimated_cost is None})
        return (
            f"{name} is {limit:g} USD, and the cost cannot be estimated: "
            f"no known price for {', '.join(unpriced)}"
        )
    total = sum(c or 0.0 for c in costs)
    if total > limit:
        return (
            f"the job's estimated cost of {total:.4f} USD at batch price ({len(items)} requests, output "
            f"counted at max_tokens) exceeds {name} of {limit:g} USD"
        )
    return None


def notify_refused(
    notifier: Notifier, store: Bucket, job_id: str, refused: list[ManifestEntry], notes: list[str]
) -> None:
    notifier.publish(
        f"batchdrop job {job_id}: {len(refused)} documents not submitted (over budget)",
        {
            "job_id": job_id,
            "status": "over_budget",
            "documents": len(refused),
            "reasons": notes,
            "errors": [store.uri(e.error_key) for e in refused[:10]],
        },
    )
