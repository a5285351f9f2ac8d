"""A job summed up one result at a time (JobSummary), and what it was billed. Pure, no I/O.

The accumulator is what a checkpoint saves (``to_state``/``from_state``); ``summarise`` gives
the finished job's typed Summary (domain.summary), whose ``to_json`` is summary.json.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from batchdrop.domain.manifest import ManifestEntry
from batchdrop.domain.pricing import Cost, PriceTable, TokenUsage
from batchdrop.domain.result_line import ResultLine
from batchdrop.domain.results import OUTCOMES, Superseded
from batchdrop.domain.summary import JobCost, Money, Summary, UsageRow

MAX_ERRORS_IN_SUMMARY = 100


@dataclass
class JobSummary:
    """Counts, tokens, cost and errors of one job, built up one result at a time.

    Cost is computed per request, as each billed line is recorded: a tiered price (Claude Haiku
    5.5) depends on that request's own prompt size, so the job's cost is the sum of its requests'
    costs, never the price of its summed tokens. Tokens are summed for reporting only.
    """

    job_id: str
    batch_id: str | None
    prices: PriceTable
    counts: Counter[str] = field(default_factory=Counter)
    # Tokens by (profile, model), summed: what was used, for the summary and the metrics.
    usage: dict[tuple[str, str], TokenUsage] = field(default_factory=dict)
    # Per-request costs by (profile, model), summed, of the billed lines the table could price.
    costs: dict[tuple[str, str], Cost] = field(default_factory=dict)
    # (profile, model) with a billed line no row of the table prices: its cost is unknown, not zero.
    unpriced: set[tuple[str, str]] = field(default_factory=set)
    # (profile, model) whose cost was estimated from summed tokens, not summed per request: a
    # checkpoint written before costs were kept per request, of a model priced in tiers.
    approximate: set[tuple[str, str]] = field(default_factory=set)
    stop_reasons: Counter[str] = field(default_factory=Counter)
    documents_by_profile: Counter[str] = field(default_factory=Counter)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def record_result(
        self,
        entry: ManifestEntry,
        line: ResultLine,
        outcome: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Count a result line; ``outcome`` is what became of it when that differs from its type
        (a billed answer that could not be used: ``reason`` says why)."""
        self.counts[outcome or line.type] += 1
        self.documents_by_profile[entry.profile] += 1
        if line.succeeded:  # billed, whatever became of the answer
            self._bill(entry, line)
            if outcome == "invalid_json":
                self._add_error(entry, "invalid_json", reason or "the answer is not valid JSON")
            elif outcome not in (None, "succeeded"):
                self._add_error(entry, outcome, reason or outcome)
        else:
            error = line.error
            self._add_error(entry, error["type"], error["message"])

    def _bill(self, entry: ManifestEntry, line: ResultLine) -> BilledRequest:
        """Add one billed request: its tokens, and its cost at the tier of its own prompt size."""
        billed = billed_request(self.prices, line, entry.model)
        key = (entry.profile, billed.model)
        self.usage[key] = self.usage.get(key, TokenUsage()) + billed.usage
        if billed.cost is None:
            self.unpriced.add(key)
        else:
            self.costs[key] = self.costs.get(key, _NO_COST) + billed.cost
        self.stop_reasons[str(line.stop_reason)] += 1
        return billed

    def record_superseded(
        self, entry: ManifestEntry, outcome: str, holder: Superseded, line: ResultLine | None = None
    ) -> None:
        """A version whose outcome was not written: its key holds a newer version's. An answer
        is still billed, so its tokens and cost count."""
        self.counts["superseded"] += 1
        self.documents_by_profile[entry.profile] += 1
        if line is not None and line.succeeded:
            self._bill(entry, line)
        self._add_error(
            entry,
            "superseded",
            f"this version's outcome ({outcome}) was not written: {holder.describe()}",
            {
                "newer_version": {
                    "key": holder.key,
                    "version_id": holder.version_id,
                    "sequencer": holder.sequencer,
                    "job_id": holder.job_id,
                }
            },
        )

    def record_retry(self, entry: ManifestEntry, line: ResultLine) -> None:
        """A request sent again in a follow-up job: not this document's last word. A transient
        failure cost nothing; a ``succeeded`` line asked again (an answer that failed its schema)
        was billed, so its tokens and cost count here."""
        self.counts["retried"] += 1
        self.documents_by_profile[entry.profile] += 1
        if line.succeeded:
            self._bill(entry, line)

    def to_state(self) -> dict[str, Any]:
        """Everything counted so far, for a checkpoint."""
        return {
            "counts": dict(self.counts),
            "usage": [[profile, model, vars(usage)] for (profile, model), usage in self.usage.items()],
            "costs": [
                [profile, model, cost.standard, cost.batch] for (profile, model), cost in self.costs.items()
            ],
            "unpriced": [list(key) for key in sorted(self.unpriced)],
            "approximate": [list(key) for key in sorted(self.approximate)],
            "prices_checked": self.prices.checked,
            "stop_reasons": dict(self.stop_reasons),
            "documents_by_profile": dict(self.documents_by_profile),
            "errors": self.errors,
        }

    @classmethod
    def from_state(
        cls, job_id: str, batch_id: str | None, prices: PriceTable, state: dict[str, Any]
    ) -> JobSummary:
        """A summary from its checkpoint. A checkpoint written before costs were kept per request
        (no ``costs``) has only summed tokens: see ``costs_from_summed_usage``."""
        usage = {(profile, model): TokenUsage(**u) for profile, model, u in state["usage"]}
        if "costs" in state:
            costs = {(profile, model): Cost(float(s), float(b)) for profile, model, s, b in state["costs"]}
            unpriced = {(profile, model) for profile, model in state.get("unpriced", [])}
            approximate = {(profile, model) for profile, model in state.get("approximate", [])}
        else:
            costs, unpriced, approximate = costs_from_summed_usage(prices, usage)
        return cls(
            job_id=job_id,
            batch_id=batch_id,
            prices=prices,
            counts=Counter(state["counts"]),
            usage=usage,
            costs=costs,
            unpriced=unpriced,
            approximate=approximate,
            stop_reasons=Counter(state["stop_reasons"]),
            documents_by_profile=Counter(state["documents_by_profile"]),
            errors=list(state["errors"]),
        )

    def record_failure(self, entry: ManifestEntry, kind: str, reason: str) -> None:
        """A document with no result line: ``rejected`` at submit, or ``missing`` from results."""
        self.counts[kind] += 1
        self.documents_by_profile[entry.profile] += 1
        self._add_error(entry, kind, reason)

    def _add_error(
        self, entry: ManifestEntry, error_type: str, message: str, extra: dict[str, Any] | None = None
    ) -> None:
        if len(self.errors) < MAX_ERRORS_IN_SUMMARY:
            self.errors.append(
                {
                    "document": entry.source_key,
                    "type": error_type,
                    "message": message,
                    "error_key": entry.error_key,
                    **(extra or {}),
                }
            )

    @property
    def documents(self) -> int:
        return sum(self.counts.values())

    @property
    def failures(self) -> int:
        """Documents of this job left without an answer (retried ones are not: they go on; nor
        superseded ones: a newer version of the document has its own outcome)."""
        return (
            self.documents
            - self.counts.get("succeeded", 0)
            - self.counts.get("retried", 0)
            - self.counts.get("superseded", 0)
        )

    @property
    def total_usage(self) -> TokenUsage:
        return sum(self.usage_by_model.values(), TokenUsage())

    @property
    def usage_by_model(self) -> dict[str, TokenUsage]:
        totals: dict[str, TokenUsage] = {}
        for (_, model), usage in self.usage.items():
            totals[model] = totals.get(model, TokenUsage()) + usage
        return totals

    def _keys(self, profile: str | None) -> list[tuple[str, str]]:
        return sorted(key for key in self.usage if profile is None or key[0] == profile)

    def cost(self, profile: str | None = None) -> tuple[Cost, list[str]]:
        """The summed per-request cost of the priced models (of one profile, or all), and the
        models with no known price (their share is unknown, not in the total)."""
        keys = self._keys(profile)
        total = sum((self.costs.get(key, _NO_COST) for key in keys), _NO_COST)
        return total, sorted({key[1] for key in keys if key in self.unpriced})

    def approximate_models(self, profile: str | None = None) -> list[str]:
        """Models whose cost is an estimate from summed tokens (see ``costs_from_summed_usage``)."""
        return sorted({key[1] for key in self._keys(profile) if key in self.approximate})

    def unverified_price_models(self) -> list[str]:
        """Models priced by a row the table marks unverified."""
        return sorted(
            {model for _, model in self.usage if (price := self.prices.price_for(model)) and price.unverified}
        )

    def by_profile_and_model(self) -> list[UsageRow]:
        """Tokens by kind and summed per-request cost for each (profile, model): the job's metrics."""
        return [
            UsageRow(
                profile=key[0],
                model=key[1],
                line=self.prices.line(key[1]),
                tokens=self.usage[key],
                cost=None if key in self.unpriced else _money(self.costs.get(key, _NO_COST)),
                approximate=key in self.approximate,
            )
            for key in self._keys(None)
        ]

    def cost_by_profile(self) -> dict[str, dict[str, Any]]:
        by_profile = {}
        for profile in sorted({p for p, _ in self.usage}):
            cost, unknown = self.cost(profile)
            by_profile[profile] = {
                **_money(cost).to_json(),
                "complete": not unknown,
                "approximate": bool(self.approximate_models(profile)),
            }
        return by_profile

    def summarise(self, **job: Any) -> Summary:
        """The job's typed summary: what was counted, with ``job``'s facts (Summary's fields
        after ``errors_truncated``: status, workflow, attempt, keys...)."""
        cost, unknown = self.cost()
        approximate = self.approximate_models()
        return Summary(
            job_id=self.job_id,
            batch_id=self.batch_id,
            documents=self.documents,
            counts={kind: self.counts.get(kind, 0) for kind in OUTCOMES},
            documents_by_profile=dict(sorted(self.documents_by_profile.items())),
            tokens=self.total_usage,
            tokens_by_model=dict(sorted(self.usage_by_model.items())),
            cost_by_profile=self.cost_by_profile(),
            by_profile_and_model=tuple(self.by_profile_and_model()),
            stop_reasons=dict(sorted(self.stop_reasons.items())),
            cost=JobCost(
                currency=self.prices.currency,
                money=_money(cost),
                # With an unpriced model the totals cover only the priced ones: say so.
                complete=not unknown,
                unknown_price_models=tuple(unknown),
                # Estimated from summed tokens (an old checkpoint of a tiered model): a lower bound.
                approximate=bool(approximate),
                approximate_models=tuple(approximate),
                unverified_price_models=tuple(self.unverified_price_models()),
                billed_at=self.prices.billed_at,
            ),
            # The day prices.json was compared with the official pricing page.
            prices_checked=self.prices.checked,
            errors=tuple(self.errors),
            errors_truncated=self.failures > len(self.errors),
            **job,
        )

    def to_dict(self, **extra: Any) -> dict[str, Any]:
        """The counted part of summary.json (the fields up to ``errors_truncated``), with ``extra``."""
        return {**self.summarise().results_json(), **extra}


_NO_COST = Cost(standard=0.0, batch=0.0)


def _money(cost: Cost) -> Money:
    return Money(round(cost.batch, 9), round(cost.standard, 9), round(cost.savings, 9))


@dataclass(frozen=True)
class BilledRequest:
    """One billed request: its model, its tokens and its cost (None: no known price)."""

    model: str
    usage: TokenUsage
    cost: Cost | None


def billed_request(prices: PriceTable, line: ResultLine, model: str | None = None) -> BilledRequest:
    """What a succeeded line was billed: its own usage at the tier of its own prompt size. The
    model is the message's, else ``model`` (the one the request named)."""
    name = str(line.model or model or "unknown")
    return BilledRequest(model=name, usage=line.usage, cost=prices.cost(name, line.usage))


def costs_from_summed_usage(
    prices: PriceTable, usage: dict[tuple[str, str], TokenUsage]
) -> tuple[dict[tuple[str, str], Cost], set[tuple[str, str]], set[tuple[str, str]]]:
    """Costs, unpriced keys and approximate keys for a checkpoint that kept only summed tokens.

    A flat price is linear, so pricing the sum is exact. A tiered price is not (the sum of small
    prompts is one large prompt), and the per-request sizes are gone: the summed tokens are
    priced at the model's first tier, a lower bound when tiers ascend (as Haiku 5.5's do), and
    the key is marked approximate so the summary says so.
    """
    costs: dict[tuple[str, str], Cost] = {}
    unpriced: set[tuple[str, str]] = set()
    approximate: set[tuple[str, str]] = set()
    for key, summed in usage.items():
        price = prices.price_for(key[1])
        if price is None:
            unpriced.add(key)
            continue
        cost = prices.cost_at_tier(key[1], summed, 0)
        if cost is not None:
            costs[key] = cost
        if price.tiered:
            approximate.add(key)
    return costs, unpriced, approximate
