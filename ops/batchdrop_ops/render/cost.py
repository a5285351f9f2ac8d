"""``batchdrop cost``: spending and savings of completed jobs per profile and in total; and the
cost of documents-table rows per model (``batchdrop documents``, the demo)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from batchdrop.domain.job import JobRecord
from batchdrop.domain.pricing import PriceTable
from batchdrop.domain.times import iso
from batchdrop_ops.render.progress import cost_complete
from batchdrop_ops.render.summary import prices_text
from batchdrop_ops.render.text import cost_text, money, number, table


@dataclass
class CostLine:
    jobs: int = 0
    batch: float = 0.0
    standard: float = 0.0
    savings: float = 0.0
    complete: bool = True

    def add(self, batch: Any, standard: Any, savings: Any, complete: bool) -> None:
        self.jobs += 1
        self.batch += float(batch or 0)
        self.standard += float(standard or 0)
        self.savings += float(savings if savings is not None else (standard or 0) - (batch or 0))
        self.complete = self.complete and complete

    def cells(self, label: str) -> tuple[str, ...]:
        return (
            label,
            str(self.jobs),
            cost_text(self.batch, self.complete),
            cost_text(self.standard, self.complete),
            cost_text(self.savings, self.complete),
        )


def job_cost_by_profile(job: JobRecord) -> dict[str, dict[str, Any]]:
    """The job's cost per profile; a job recorded before costs were kept per profile counts whole
    under its one profile, or under ``(not by profile)``."""
    if job.cost_by_profile:
        return dict(job.cost_by_profile)
    label = job.profiles[0] if len(job.profiles) == 1 else "(not by profile)"
    return {
        label: {
            "batch": job.cost.batch if job.cost else None,
            "standard": job.cost.standard if job.cost else None,
            "savings": None,
            "complete": cost_complete(job),
        }
    }


def render_cost(jobs: list[JobRecord], since: datetime) -> str:
    lines = [f"Completed jobs since {iso(since)}: {len(jobs)}"]
    if not jobs:
        return "\n".join(lines)
    profiles: dict[str, CostLine] = {}
    total = CostLine()
    incomplete: list[tuple[str, str]] = []
    for job in jobs:
        complete = cost_complete(job)
        batch, standard = (job.cost.batch, job.cost.standard) if job.cost else (None, None)
        total.add(batch, standard, None, complete)
        unknown = []
        for profile, c in sorted(job_cost_by_profile(job).items()):
            profile_complete = bool(c.get("complete", complete))
            profiles.setdefault(profile, CostLine()).add(
                c.get("batch"), c.get("standard"), c.get("savings"), profile_complete
            )
            if not profile_complete:
                unknown.append(profile)
        if job.cost is None:
            incomplete.append((job.job_id, "no cost recorded"))
        elif not complete or unknown:
            incomplete.append((job.job_id, f"profile {', '.join(unknown)}" if unknown else ""))
    rows = [line.cells(profile) for profile, line in sorted(profiles.items())]
    rows.append(total.cells("total"))
    lines += ["", *table(("PROFILE", "JOBS", "BATCH PRICE", "STANDARD PRICE", "SAVINGS"), rows)]
    recorded = prices_text(job.prices_checked for job in jobs)
    lines += [
        "",
        f"Each job is priced per request when it completes, with {recorded}."
        if recorded
        else f"Each job is priced per request when it completes, with the prices.json of its time "
        f"(this version's was checked {PriceTable.bundled().checked}).",
    ]
    if total.standard and total.complete:
        lines += [
            "",
            f"Saved {money(total.savings)} by batching: "
            f"{total.savings / total.standard:.0%} of the standard price.",
        ]
    if incomplete:
        lines += [
            "",
            f"Cost incomplete for {len(incomplete)} job(s): a model with no known price "
            "(prices.json); its share is unknown, not zero:",
        ]
        lines += [f"  {job_id}" + (f" ({what})" if what else "") for job_id, what in incomplete]
    return "\n".join(lines)


def cost_per_model(rows: Iterable[dict[str, Any]], indent: str = "  ") -> list[str]:
    """The cost of documents-table rows per model and in all: each request's own cost, summed
    (tiered prices are decided per request, never from summed tokens). Empty when none was billed."""
    by_model: dict[str, CostLine] = {}
    for row in rows:
        if not row.get("model") or not number(row.get("input_tokens")) + number(row.get("output_tokens")):
            continue  # nothing billed
        line = by_model.setdefault(str(row["model"]), CostLine())
        line.add(
            row.get("cost_batch_usd"),
            row.get("cost_standard_usd"),
            None,
            row.get("cost_batch_usd") is not None,
        )
    if not by_model:
        return []
    total = CostLine()
    cells = []
    for model, line in sorted(by_model.items()):
        cells.append(line.cells(model))
        total.add(line.batch, line.standard, None, line.complete)
    total.jobs = sum(line.jobs for line in by_model.values())
    cells.append(total.cells("all models"))
    return [
        "",
        *table(("COST (EACH REQUEST'S OWN)", "BILLED", "BATCH", "STANDARD", "SAVED"), cells, indent=indent),
    ]
