"""What tokens cost, from a price table kept as data (``prices.json``), never as constants.

A price is decided per request: a model priced in tiers (Claude Haiku 5.5: prompts up to 100,000
tokens, and over) charges every token of a request at the tier its *own* prompt size falls in. So
``PriceTable.cost`` prices the usage of ONE request; the cost of many requests is the sum of their
costs, never the cost of their summed tokens (a sum of small prompts is a large prompt).

The prompt size of a request is ``input_tokens + cache writes + cache reads``: the official pricing
docs define their long-context threshold on exactly these three ``usage`` fields (output tokens do
not decide the tier, but are charged at its rate).

Pure: no AWS, no SDK.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import Any

CACHE_KINDS = ("cache_write_5m", "cache_write_1h", "cache_read")
PRICE_FIELDS = ("input", "output", *CACHE_KINDS)
_TABLE_FIELDS = frozenset(
    {"checked", "source", "currency", "per_tokens", "batch_discount", "cache_multipliers", "models"}
)
_ROW_FIELDS = frozenset({"line", "pattern", "ids", "tiers", "unverified", "note", *PRICE_FIELDS})
_TIER_FIELDS = frozenset({"max_prompt_tokens", *PRICE_FIELDS})


class PriceTableError(ValueError):
    """The price table is not usable as it is; the message names the row and the field."""


@dataclass(frozen=True)
class TokenUsage:
    """Tokens by kind, of one request (from its ``usage``) or summed over many (for reporting only:
    summed usage must never be priced, see the module docstring)."""

    input_tokens: int = 0
    # Every output token, thinking included: the API bills output_tokens as the whole.
    output_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    # The part of output_tokens spent thinking (usage.output_tokens_details.thinking_tokens):
    # shown, never priced or added on its own (it is already in output_tokens).
    thinking_tokens: int = 0

    @classmethod
    def from_api(cls, usage: dict[str, Any]) -> TokenUsage:
        """From a Messages ``usage`` object; splits cache writes by TTL when the API does."""
        creation = usage.get("cache_creation") or {}
        write_1h = int(creation.get("ephemeral_1h_input_tokens") or 0)
        write_total = int(usage.get("cache_creation_input_tokens") or 0)
        details = usage.get("output_tokens_details") or {}
        return cls(
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            cache_write_5m_tokens=max(write_total - write_1h, 0),
            cache_write_1h_tokens=write_1h,
            cache_read_tokens=int(usage.get("cache_read_input_tokens") or 0),
            thinking_tokens=int(details.get("thinking_tokens") or 0) if isinstance(details, dict) else 0,
        )

    @property
    def prompt_tokens(self) -> int:
        """The prompt size that picks a price tier: input, cache writes and cache reads."""
        return (
            self.input_tokens
            + self.cache_write_5m_tokens
            + self.cache_write_1h_tokens
            + self.cache_read_tokens
        )

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_write_5m_tokens + other.cache_write_5m_tokens,
            self.cache_write_1h_tokens + other.cache_write_1h_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.thinking_tokens + other.thinking_tokens,
        )

    def as_dict(self) -> dict[str, int]:
        """Tokens by kind; ``thinking`` is the part of ``output`` spent thinking, not an addition."""
        return {
            "input": self.input_tokens,
            "output": self.output_tokens,
            "thinking": self.thinking_tokens,
            "cache_write_5m": self.cache_write_5m_tokens,
            "cache_write_1h": self.cache_write_1h_tokens,
            "cache_read": self.cache_read_tokens,
        }


@dataclass(frozen=True)
class PriceTier:
    """Prices per ``per_tokens`` tokens of each kind, for prompts up to ``max_prompt_tokens``
    (None: any size above the tier before)."""

    max_prompt_tokens: int | None
    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float

    def standard(self, usage: TokenUsage) -> float:
        """Cost of one request's tokens at these prices, in tokens x price (not yet per_tokens)."""
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_write_5m_tokens * self.cache_write_5m
            + usage.cache_write_1h_tokens * self.cache_write_1h
            + usage.cache_read_tokens * self.cache_read
        )


@dataclass(frozen=True)
class ModelPrice:
    """One row of the table: a model (``line``), the ids it prices, and its prices."""

    line: str
    pattern: re.Pattern[str]
    tiers: tuple[PriceTier, ...]
    unverified: bool = False
    note: str | None = None

    @property
    def tiered(self) -> bool:
        return len(self.tiers) > 1

    def tier_for(self, prompt_tokens: int) -> PriceTier:
        """The tier a request with this prompt size is charged at (the last one past every limit)."""
        for tier in self.tiers:
            if tier.max_prompt_tokens is None or prompt_tokens <= tier.max_prompt_tokens:
                return tier
        return self.tiers[-1]  # unreachable: the loader ends every row with an open tier


@dataclass(frozen=True)
class Cost:
    """Cost of some usage in the table's currency; ``standard`` is the real-time list price."""

    standard: float
    batch: float

    @property
    def savings(self) -> float:
        return self.standard - self.batch

    def __add__(self, other: Cost) -> Cost:
        return Cost(standard=self.standard + other.standard, batch=self.batch + other.batch)


@dataclass
class PriceTable:
    currency: str
    per_tokens: int
    # The batch price is batch_discount times the standard price (0.5: half).
    batch_discount: float
    # The day the whole table was compared with the official pricing page (ISO date).
    checked: str = ""
    source: str = ""
    models: list[ModelPrice] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PriceTable:
        """A table from its JSON form; anything malformed is a PriceTableError naming the row."""
        if not isinstance(data, dict):
            raise PriceTableError("prices.json: the table must be a JSON object")
        _no_unknown_fields("prices.json", data, _TABLE_FIELDS)
        for name in ("checked", "currency", "per_tokens", "batch_discount", "models"):
            if name not in data:
                raise PriceTableError(f"prices.json: the field {name!r} is missing")
        checked = data["checked"]
        if not isinstance(checked, str) or not _is_date(checked):
            raise PriceTableError(
                f"prices.json: 'checked' must be the date the prices were checked, as YYYY-MM-DD "
                f"(got {checked!r})"
            )
        per_tokens = data["per_tokens"]
        if isinstance(per_tokens, str) and per_tokens.isdigit():
            per_tokens = int(per_tokens)
        if isinstance(per_tokens, bool) or not isinstance(per_tokens, int) or per_tokens <= 0:
            raise PriceTableError(
                f"prices.json: 'per_tokens' must be a positive whole number (got {per_tokens!r})"
            )
        batch_discount = _number("prices.json: 'batch_discount'", data["batch_discount"])
        if not 0 < batch_discount <= 1:
            raise PriceTableError(
                f"prices.json: 'batch_discount' is the share of the standard price a batch pays, "
                f"above 0 and at most 1 (got {batch_discount})"
            )
        multipliers = data.get(
            "cache_multipliers", {"cache_write_5m": 1.25, "cache_write_1h": 2, "cache_read": 0.1}
        )
        if not isinstance(multipliers, dict):
            raise PriceTableError("prices.json: 'cache_multipliers' must be an object")
        _no_unknown_fields("prices.json: cache_multipliers", multipliers, frozenset(CACHE_KINDS))
        factors = {
            kind: _number(f"prices.json: cache_multipliers {kind!r}", multipliers.get(kind))
            for kind in CACHE_KINDS
        }
        rows = data["models"]
        if not isinstance(rows, list) or not rows:
            raise PriceTableError("prices.json: 'models' must be a non-empty list of rows")
        models: list[ModelPrice] = []
        for position, row in enumerate(rows, start=1):
            price = _row(position, row, factors)
            for model_id in _ids(position, row):
                if not price.pattern.fullmatch(model_id):
                    raise PriceTableError(
                        f"{_where(position, row)}: its pattern {price.pattern.pattern!r} does not match "
                        f"its id {model_id!r}"
                    )
                earlier = next((m for m in models if m.pattern.fullmatch(model_id)), None)
                if earlier is not None:
                    raise PriceTableError(
                        f"{_where(position, row)}: its id {model_id!r} is priced by the earlier row "
                        f"{earlier.line!r} (the first match wins): narrow that row's pattern or "
                        "move this row up"
                    )
            models.append(price)
        return cls(
            currency=str(data["currency"]),
            per_tokens=per_tokens,
            batch_discount=batch_discount,
            checked=checked,
            source=str(data.get("source") or ""),
            models=models,
        )

    @classmethod
    def bundled(cls) -> PriceTable:
        """The table shipped with the code (``batchdrop/domain/prices.json``)."""
        text = resources.files("batchdrop.domain").joinpath("prices.json").read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))

    def price_for(self, model: str) -> ModelPrice | None:
        """The row that prices a model id (``claude-haiku-4-5-20251001`` -> Claude Haiku 4.5): the
        first whose pattern matches the whole id."""
        return next((m for m in self.models if m.pattern.fullmatch(model)), None)

    def line(self, model: str) -> str | None:
        """The name of the row that prices a model id, or None when no row does."""
        price = self.price_for(model)
        return price.line if price else None

    def cost(self, model: str, usage: TokenUsage) -> Cost | None:
        """The cost of ONE request's usage, at the tier its prompt size falls in.

        Never pass summed usage: on a tiered model the sum of small prompts would be priced as one
        large prompt. Sum the costs of the requests instead. None when the model has no known
        price: unknown is never reported as zero.
        """
        price = self.price_for(model)
        if price is None:
            return None
        return self._cost(price.tier_for(usage.prompt_tokens), usage)

    def cost_at_tier(self, model: str, usage: TokenUsage, tier: int) -> Cost | None:
        """The cost of ``usage`` at one tier of the model's prices whatever its size (the first is
        0): a bound when only summed usage is known. None when the model has no known price."""
        price = self.price_for(model)
        if price is None:
            return None
        return self._cost(price.tiers[min(tier, len(price.tiers) - 1)], usage)

    def _cost(self, tier: PriceTier, usage: TokenUsage) -> Cost:
        standard = tier.standard(usage) / self.per_tokens
        return Cost(standard=standard, batch=standard * self.batch_discount)


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == len("YYYY-MM-DD")


def _where(position: int, row: object) -> str:
    name = row.get("line") if isinstance(row, dict) else None
    return f"prices.json: row {position}" + (f" ({name})" if isinstance(name, str) and name else "")


def _no_unknown_fields(where: str, data: dict[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(k for k in data if k not in known and not str(k).startswith("_"))
    if unknown:
        raise PriceTableError(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; known fields: "
            f"{', '.join(sorted(known))} (a field starting with '_' is a comment)"
        )


def _number(where: str, value: object) -> float:
    """A finite, non-negative number (a string of one is accepted, as JSON hand-edits have them)."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise PriceTableError(f"{where} must be a number, 0 or more (got {value!r})")
    return float(value)


def _ids(position: int, row: dict[str, Any]) -> list[str]:
    ids = row.get("ids", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise PriceTableError(f"{_where(position, row)}: 'ids' must be a list of model ids")
    return ids


def _row(position: int, row: object, factors: dict[str, float]) -> ModelPrice:
    where = _where(position, row)
    if not isinstance(row, dict):
        raise PriceTableError(f"{where}: a row must be an object with line, pattern and prices")
    _no_unknown_fields(where, row, _ROW_FIELDS)
    line, pattern = row.get("line"), row.get("pattern")
    if not isinstance(line, str) or not line.strip():
        raise PriceTableError(f"{where}: 'line' (the model's name, e.g. \"Claude Haiku 4.5\") is missing")
    if not isinstance(pattern, str) or not pattern:
        raise PriceTableError(f"{where}: 'pattern' (a regular expression over model ids) is missing")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise PriceTableError(f"{where}: 'pattern' {pattern!r} is not a regular expression ({exc})") from exc
    unverified = row.get("unverified", False)
    if not isinstance(unverified, bool):
        raise PriceTableError(f"{where}: 'unverified' must be true or false")
    note = row.get("note")
    if note is not None and not isinstance(note, str):
        raise PriceTableError(f"{where}: 'note' must be text")
    flat = [name for name in PRICE_FIELDS if name in row]
    if "tiers" in row:
        if flat:
            raise PriceTableError(
                f"{where}: give either flat prices or 'tiers', not both (flat: {', '.join(flat)})"
            )
        tiers = _tiers(where, row["tiers"], factors)
    else:
        tiers = (_tier(where, {"max_prompt_tokens": None, **row}, factors, with_limit=False),)
    return ModelPrice(line=line.strip(), pattern=compiled, tiers=tiers, unverified=unverified, note=note)


def _tiers(where: str, tiers: object, factors: dict[str, float]) -> tuple[PriceTier, ...]:
    if not isinstance(tiers, list) or not tiers:
        raise PriceTableError(f"{where}: 'tiers' must be a non-empty list")
    parsed: list[PriceTier] = []
    for number, tier in enumerate(tiers, start=1):
        if not isinstance(tier, dict):
            raise PriceTableError(f"{where}: tier {number} must be an object")
        _no_unknown_fields(f"{where}: tier {number}", tier, _TIER_FIELDS)
        parsed.append(_tier(f"{where}: tier {number}", tier, factors, with_limit=True))
    limits = [tier.max_prompt_tokens for tier in parsed]
    if limits[-1] is not None:
        raise PriceTableError(
            f"{where}: the last tier's max_prompt_tokens must be null (every prompt larger than the "
            f"tier before), got {limits[-1]}"
        )
    for number, (before, after) in enumerate(itertools.pairwise(limits), start=2):
        if before is None:
            raise PriceTableError(
                f"{where}: tier {number - 1} has no max_prompt_tokens (null), so tier {number} can never "
                "apply: only the last tier may be open"
            )
        if after is not None and after <= before:
            raise PriceTableError(
                f"{where}: tier {number} (max_prompt_tokens {after}) overlaps tier {number - 1} "
                f"(max_prompt_tokens {before}): tiers must ascend"
            )
    return tuple(parsed)


def _tier(where: str, data: dict[str, Any], factors: dict[str, float], *, with_limit: bool) -> PriceTier:
    limit = data.get("max_prompt_tokens")
    if with_limit and "max_prompt_tokens" not in data:
        raise PriceTableError(f"{where}: 'max_prompt_tokens' is missing (null on the last tier)")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise PriceTableError(
            f"{where}: 'max_prompt_tokens' must be a positive whole number or null (got {limit!r})"
        )
    for name in ("input", "output"):
        if name not in data:
            raise PriceTableError(f"{where}: the price {name!r} is missing")
    input_price = _number(f"{where}: 'input'", data["input"])
    prices = {
        kind: _number(f"{where}: {kind!r}", data[kind])
        if kind in data
        else round(input_price * factors[kind], 10)
        for kind in CACHE_KINDS
    }
    return PriceTier(
        max_prompt_tokens=limit,
        input=input_price,
        output=_number(f"{where}: 'output'", data["output"]),
        **prices,
    )
