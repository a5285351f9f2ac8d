"""What tokens cost, from a price table kept as data (``prices.json``), never as constants."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class TokenUsage:
    """Tokens of one or more requests, by kind."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0

    @classmethod
    def from_api(cls, usage: dict[str, Any]) -> TokenUsage:
        """From a Messages ``usage`` object; splits cache writes by TTL when the API does."""
        creation = usage.get("cache_creation") or {}
        write_1h = int(creation.get("ephemeral_1h_input_tokens") or 0)
        write_total = int(usage.get("cache_creation_input_tokens") or 0)
        return cls(
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            cache_write_5m_tokens=max(write_total - write_1h, 0),
            cache_write_1h_tokens=write_1h,
            cache_read_tokens=int(usage.get("cache_read_input_tokens") or 0),
        )

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_write_5m_tokens + other.cache_write_5m_tokens,
            self.cache_write_1h_tokens + other.cache_write_1h_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "input": self.input_tokens,
            "output": self.output_tokens,
            "cache_write_5m": self.cache_write_5m_tokens,
            "cache_write_1h": self.cache_write_1h_tokens,
            "cache_read": self.cache_read_tokens,
        }


@dataclass(frozen=True)
class ModelPrice:
    family: str
    pattern: re.Pattern[str]
    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float


@dataclass(frozen=True)
class Cost:
    """Cost of some usage in the table's currency; ``standard`` is the real-time list price."""

    standard: float
    batch: float

    @property
    def savings(self) -> float:
        return self.standard - self.batch


@dataclass
class PriceTable:
    currency: str
    per_tokens: int
    batch_discount: float
    models: list[ModelPrice] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PriceTable:
        return cls(
            currency=data["currency"],
            per_tokens=int(data["per_tokens"]),
            batch_discount=float(data["batch_discount"]),
            models=[
                ModelPrice(
                    family=m["family"],
                    pattern=re.compile(m["pattern"]),
                    input=float(m["input"]),
                    output=float(m["output"]),
                    cache_write_5m=float(m["cache_write_5m"]),
                    cache_write_1h=float(m["cache_write_1h"]),
                    cache_read=float(m["cache_read"]),
                )
                for m in data["models"]
            ],
        )

    @classmethod
    def bundled(cls) -> PriceTable:
        """The table shipped with the code (``batchdrop/prices.json``)."""
        text = resources.files("batchdrop").joinpath("prices.json").read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))

    def price_for(self, model: str) -> ModelPrice | None:
        """The price of a model id or alias (``claude-sonnet-4-5-20250929`` -> Sonnet 4.5)."""
        return next((m for m in self.models if m.pattern.search(model)), None)

    def cost(self, model: str, usage: TokenUsage) -> Cost | None:
        """None when the model has no known price: unknown is never reported as zero."""
        price = self.price_for(model)
        if price is None:
            return None
        standard = (
            usage.input_tokens * price.input
            + usage.output_tokens * price.output
            + usage.cache_write_5m_tokens * price.cache_write_5m
            + usage.cache_write_1h_tokens * price.cache_write_1h
            + usage.cache_read_tokens * price.cache_read
        ) / self.per_tokens
        return Cost(standard=standard, batch=standard * self.batch_discount)
