"""Mapping batch result lines back to documents, and summing a job up. Pure, no I/O."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from batchdrop.domain.manifest import ManifestEntry
from batchdrop.domain.pricing import Cost, PriceTable, TokenUsage
from batchdrop.domain.structured import AnswerCheck, parse_answer

RESULT_TYPES = ("succeeded", "errored", "expired", "canceled")
# Outcomes of a document beyond the API's result types: an answer that should be JSON and is
# not, a schema profile's answer that does not match its schema on the last attempt (or was cut
# off by max_tokens), a document never sent, a request the results do not mention, results the API archived
# before they were collected, and a version whose key already holds a newer version's outcome.
OUTCOMES = (
    *RESULT_TYPES,
    "invalid_json",
    "invalid_output",
    "rejected",
    "not_submitted",  # no batch was ever made for it (the queue stayed full, the API refused it)
    "missing",
    "archived",
    "superseded",
    "retried",
)
# Failures worth another attempt in a follow-up batch: the API's transient errors, and expiry.
RETRYABLE_ERRORS = frozenset({"api_error", "overloaded_error", "rate_limit_error", "timeout_error"})


def is_retryable(line: dict[str, Any]) -> bool:
    result = line["result"]
    if result["type"] == "expired":
        return True
    if result["type"] != "errored":
        return False
    return ((result.get("error") or {}).get("error") or {}).get("type") in RETRYABLE_ERRORS


MAX_ERRORS_IN_SUMMARY = 100

_REASONS = {
    "expired": "the batch expired (24 h) before this request was processed",
    "canceled": "the batch was canceled before this request was processed",
    "missing": "the batch results have no line for this request",
}


# S3 user metadata of result objects (boto3 names them without x-amz-meta-). S3 allows 2 KB of
# user metadata in all (names and values, UTF-8) and returns only printable ASCII: keys are
# URL-quoted and every value capped (metadata_value), so even a 1,024-byte key fits.
METADATA_JOB = "batchdrop-job"
METADATA_CUSTOM_ID = "batchdrop-custom-id"
METADATA_SOURCE = "batchdrop-source"
METADATA_VERSION_ID = "batchdrop-version-id"
METADATA_SEQUENCER = "batchdrop-sequencer"
METADATA_VALUE_LIMIT = 256


def metadata_value(text: str, limit: int = METADATA_VALUE_LIMIT) -> str:
    """``text`` as an S3 metadata value: URL-quoted as the origin of a next-stage document is
    (``unquote`` gives it back), and when longer than ``limit`` cut and ended with ``#`` and a
    digest of the whole, so that two long values stay distinct."""
    quoted = quote(text, safe="/")
    if len(quoted) <= limit:
        return quoted
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    head = quoted[: limit - len(digest) - 1]
    if "%" in head[-2:]:  # never cut a %XX escape in half
        head = head[: head.rindex("%")]
    return f"{head}#{digest}"


class ResultsArchived(RuntimeError):
    """The API no longer has the batch's results: it archives them 29 days after the batch was
    created, and a batch ended but not collected by then answers 404 for its results."""

    def __init__(
        self,
        batch_id: str,
        *,
        created_at: str | None = None,
        ended_at: str | None = None,
        archived_at: str | None = None,
    ) -> None:
        super().__init__(f"the results of batch {batch_id} were archived by the API")
        self.batch_id = batch_id
        self.created_at = created_at
        self.ended_at = ended_at
        self.archived_at = archived_at

    @property
    def reason(self) -> str:
        dates = ", ".join(
            f"{name} {value}"
            for name, value in (
                ("created", self.created_at),
                ("ended", self.ended_at),
                ("archived", self.archived_at),
            )
            if value
        )
        return (
            f"the results of batch {self.batch_id} were archived by the API before batchdrop "
            f"collected them (the API keeps results 29 days after a batch is created"
            + (f"; batch {dates}" if dates else "")
            + ")"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "created_at": self.created_at,
            "ended_at": self.ended_at,
            "archived_at": self.archived_at,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Superseded:
    """A result key already holds the outcome of a newer version of the same document."""

    key: str
    version_id: str | None
    sequencer: str | None
    job_id: str | None

    def describe(self) -> str:
        version = f"version {self.version_id}" if self.version_id else "a newer version"
        job = f" (job {self.job_id})" if self.job_id else ""
        return f"{self.key} holds {version}{job}, sequencer {self.sequencer}"


def document_metadata(job_id: str | None, entry: ManifestEntry) -> dict[str, str]:
    """What every result object of a document version carries: its job and request, and which
    version of which source it answers (the sequencer orders versions of one key)."""
    metadata = {
        METADATA_JOB: metadata_value(job_id or ""),
        METADATA_CUSTOM_ID: metadata_value(entry.custom_id),
        METADATA_SOURCE: metadata_value(entry.source_key),
    }
    if entry.version_id:
        metadata[METADATA_VERSION_ID] = metadata_value(entry.version_id)
    if entry.sequencer:
        metadata[METADATA_SEQUENCER] = metadata_value(entry.sequencer)
    return metadata


@dataclass(frozen=True)
class ResultObject:
    """One object to write under ``results/``: an answer or an ``.error.json``."""

    key: str
    body: bytes
    content_type: str
    metadata: dict[str, str]
    outcome: str = "succeeded"


def answer_text(message: dict[str, Any]) -> str:
    return "".join(
        block.get("text", "") for block in message.get("content", []) if block.get("type") == "text"
    )


def result_object(
    job_id: str, entry: ManifestEntry, line: dict[str, Any], check: AnswerCheck | None = None
) -> ResultObject:
    """The object a result line produces: the answer, or an error naming why there is none.

    ``check``: a schema profile's answer checked against its schema (see batchdrop.domain.structured);
    an answer that failed it becomes an ``invalid_output`` error that keeps the answer and the
    errors (this is its last attempt: earlier ones are asked again instead).
    """
    result = line["result"]
    if result["type"] == "succeeded" and entry.result_key:
        message = result["message"]
        text = answer_text(message)
        content_type = "text/markdown"
        if check is not None and not check.valid:
            return invalid_output_object(job_id, entry, check)
        if check is not None:
            content_type = "application/json"
            text = json.dumps(check.value, ensure_ascii=False, indent=2) + "\n"
        elif entry.result_key.endswith(".json"):
            content_type = "application/json"
            try:
                text = json.dumps(parse_answer(text), ensure_ascii=False, indent=2) + "\n"
            except json.JSONDecodeError as exc:
                reason = (
                    f"the profile asks for JSON and the answer is not valid JSON ({exc.msg} at {exc.pos})"
                )
                failed = error_object(job_id, entry, result_type="invalid_json", reason=reason)
                body = {**json.loads(failed.body), "answer": text}
                return replace(failed, body=json.dumps(body, ensure_ascii=False, indent=2).encode())
        return ResultObject(
            key=entry.result_key,
            body=text.encode(),
            content_type=f"{content_type}; charset=utf-8",
            metadata={
                **document_metadata(job_id, entry),
                "batchdrop-model": metadata_value(str(message.get("model", ""))),
                "batchdrop-stop-reason": metadata_value(str(message.get("stop_reason", ""))),
            },
        )
    if result["type"] == "errored":
        api_error = (result.get("error") or {}).get("error") or {}
        error = {"type": api_error.get("type", "unknown_error"), "message": api_error.get("message", "")}
        reason = f"the API answered {error['type']}: {error['message']}".rstrip(": ")
    else:
        error = {"type": result["type"], "message": _REASONS.get(result["type"], result["type"])}
        reason = error["message"]
    return error_object(job_id, entry, result_type=result["type"], reason=reason, error=error)


def invalid_output_object(job_id: str, entry: ManifestEntry, check: AnswerCheck) -> ResultObject:
    """The .error.json of a schema profile's answer that failed its schema on the last attempt:
    the answer as given, the errors (``"<JSON path>: <problem>"``), and the stop reason."""
    reason = (
        f"{check.describe()}; asked {entry.attempt} time{'s' if entry.attempt != 1 else ''} in all. "
        "Make the schema easier to satisfy, raise the profile's max_tokens, or shorten the document"
    )
    failed = error_object(
        job_id,
        entry,
        result_type="invalid_output",
        reason=reason,
        error={"type": check.kind, "message": check.describe()},
    )
    body = {
        **json.loads(failed.body),
        "stop_reason": check.stop_reason,
        "answer": check.text,
        "validation_errors": list(check.errors),
        "validation_error_count": check.error_count,
    }
    return replace(failed, body=json.dumps(body, ensure_ascii=False, indent=2).encode())


def error_object(
    job_id: str | None,
    entry: ManifestEntry,
    *,
    result_type: str,
    reason: str,
    error: dict[str, str] | None = None,
) -> ResultObject:
    body = {
        "document": entry.source_key,
        **({"item": entry.item} if entry.item is not None else {}),
        "version_id": entry.version_id,
        "profile": entry.profile,
        "job_id": job_id,
        "custom_id": entry.custom_id,
        "result_type": result_type,
        "reason": reason,
        "error": error or {"type": result_type, "message": reason},
    }
    return ResultObject(
        key=entry.error_key,
        body=json.dumps(body, ensure_ascii=False, indent=2).encode(),
        content_type="application/json; charset=utf-8",
        metadata=document_metadata(job_id, entry),
        outcome=result_type,
    )


def missing_object(job_id: str, entry: ManifestEntry) -> ResultObject:
    return error_object(job_id, entry, result_type="missing", reason=_REASONS["missing"])


def archived_object(job_id: str, entry: ManifestEntry, archived: ResultsArchived) -> ResultObject:
    """The error of a document whose result the API archived before batchdrop collected it."""
    return error_object(job_id, entry, result_type="archived", reason=archived.reason)


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
        line: dict[str, Any],
        outcome: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Count a result line; ``outcome`` is what became of it when that differs from its type
        (a billed answer that could not be used: ``reason`` says why)."""
        result = line["result"]
        result_type = result["type"]
        self.counts[outcome or result_type] += 1
        self.documents_by_profile[entry.profile] += 1
        if result_type == "succeeded":  # billed, whatever became of the answer
            self._bill(entry, result["message"])
            if outcome == "invalid_json":
                self._add_error(entry, "invalid_json", reason or "the answer is not valid JSON")
            elif outcome not in (None, "succeeded"):
                self._add_error(entry, outcome, reason or outcome)
        elif result_type == "errored":
            api_error = (result.get("error") or {}).get("error") or {}
            self._add_error(entry, api_error.get("type", "unknown_error"), api_error.get("message", ""))
        else:
            self._add_error(entry, result_type, _REASONS.get(result_type, result_type))

    def _bill(self, entry: ManifestEntry, message: dict[str, Any]) -> BilledRequest:
        """Add one billed request: its tokens, and its cost at the tier of its own prompt size."""
        billed = billed_request(self.prices, message, entry.model)
        key = (entry.profile, billed.model)
        self.usage[key] = self.usage.get(key, TokenUsage()) + billed.usage
        if billed.cost is None:
            self.unpriced.add(key)
        else:
            self.costs[key] = self.costs.get(key, _NO_COST) + billed.cost
        self.stop_reasons[str(message.get("stop_reason"))] += 1
        return billed

    def record_superseded(
        self, entry: ManifestEntry, outcome: str, holder: Superseded, line: dict[str, Any] | None = None
    ) -> None:
        """A version whose outcome was not written: its key holds a newer version's. An answer
        is still billed, so its tokens and cost count."""
        self.counts["superseded"] += 1
        self.documents_by_profile[entry.profile] += 1
        if line is not None and line["result"]["type"] == "succeeded":
            self._bill(entry, line["result"]["message"])
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

    def record_retry(self, entry: ManifestEntry, line: dict[str, Any]) -> None:
        """A request sent again in a follow-up job: not this document's last word. A transient
        failure cost nothing; a ``succeeded`` line asked again (an answer that failed its schema)
        was billed, so its tokens and cost count here."""
        self.counts["retried"] += 1
        self.documents_by_profile[entry.profile] += 1
        if line["result"]["type"] == "succeeded":
            self._bill(entry, line["result"]["message"])

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

    def by_profile_and_model(self) -> list[dict[str, Any]]:
        """Tokens by kind and summed per-request cost for each (profile, model): the job's metrics."""
        rows = []
        for key in self._keys(None):
            profile, model = key
            cost = None if key in self.unpriced else self.costs.get(key, _NO_COST)
            rows.append(
                {
                    "profile": profile,
                    "model": model,
                    "line": self.prices.line(model),
                    "tokens": self.usage[key].as_dict(),
                    # None: no known price for the model (never reported as zero)
                    "cost": None
                    if cost is None
                    else {**_money(cost), "approximate": key in self.approximate},
                }
            )
        return rows

    def cost_by_profile(self) -> dict[str, dict[str, Any]]:
        by_profile = {}
        for profile in sorted({p for p, _ in self.usage}):
            cost, unknown = self.cost(profile)
            by_profile[profile] = {
                **_money(cost),
                "complete": not unknown,
                "approximate": bool(self.approximate_models(profile)),
            }
        return by_profile

    def to_dict(self, **extra: Any) -> dict[str, Any]:
        cost, unknown = self.cost()
        approximate = self.approximate_models()
        return {
            "job_id": self.job_id,
            "batch_id": self.batch_id,
            "documents": self.documents,
            "counts": {kind: self.counts.get(kind, 0) for kind in OUTCOMES},
            "documents_by_profile": dict(sorted(self.documents_by_profile.items())),
            "tokens": self.total_usage.as_dict(),
            "tokens_by_model": {m: u.as_dict() for m, u in sorted(self.usage_by_model.items())},
            "cost_by_profile": self.cost_by_profile(),
            "by_profile_and_model": self.by_profile_and_model(),
            "stop_reasons": dict(sorted(self.stop_reasons.items())),
            "cost": {
                "currency": self.prices.currency,
                # With an unpriced model the totals cover only the priced ones: say so.
                "complete": not unknown,
                "unknown_price_models": unknown,
                # Estimated from summed tokens (an old checkpoint of a tiered model): a lower bound.
                "approximate": bool(approximate),
                "approximate_models": approximate,
                "unverified_price_models": self.unverified_price_models(),
                **_money(cost),
            },
            # The day prices.json was compared with the official pricing page.
            "prices_checked": self.prices.checked,
            "errors": self.errors,
            "errors_truncated": self.failures > len(self.errors),
            **extra,
        }


_NO_COST = Cost(standard=0.0, batch=0.0)


def _money(cost: Cost) -> dict[str, float]:
    return {
        "batch": round(cost.batch, 9),
        "standard": round(cost.standard, 9),
        "savings": round(cost.savings, 9),
    }


@dataclass(frozen=True)
class BilledRequest:
    """One billed request: its model, its tokens and its cost (None: no known price)."""

    model: str
    usage: TokenUsage
    cost: Cost | None


def billed_request(prices: PriceTable, message: dict[str, Any], model: str | None = None) -> BilledRequest:
    """What a succeeded line's message was billed: its own usage at the tier of its own prompt
    size. The model is the message's, else ``model`` (the one the request named)."""
    name = str(message.get("model") or model or "unknown")
    usage = TokenUsage.from_api(message.get("usage") or {})
    return BilledRequest(model=name, usage=usage, cost=prices.cost(name, usage))


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
