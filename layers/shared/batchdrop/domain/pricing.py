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

import json
import re
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

CACHE_KINDS = ("cache_write_5m", "cache_write_1h", "cache_read")
PRICE_FIELDS = ("input", "output", *CACHE_KINDS)


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
    # "on_demand": this table prices requests answered one at a time (no batch discount).
    billed_at: str = "batch"

    def on_demand(self) -> PriceTable:
        """The same prices without the batch discount: what InvokeModel bills (a held Bedrock
        job answered on demand, usecases.poll.release)."""
        return replace(self, batch_discount=1.0, billed_at="on_demand")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PriceTable:
        """A table from its JSON form; anything malformed is a PriceTableError naming the row
        (the checks are in domain.price_table)."""
        from batchdrop.domain.price_table import load_price_table

        return load_price_table(data)

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
