"""Reading the price table (``prices.json``): every field checked, every row's pattern tried
against its ids, and anything malformed a PriceTableError naming the row. Pure, no I/O."""

from __future__ import annotations

import contextlib
import itertools
import math
import re
from datetime import date
from typing import Any

from batchdrop.domain.pricing import (
    CACHE_KINDS,
    PRICE_FIELDS,
    ModelPrice,
    PriceTable,
    PriceTableError,
    PriceTier,
)

_TABLE_FIELDS = frozenset(
    {"checked", "source", "currency", "per_tokens", "batch_discount", "cache_multipliers", "models"}
)
_ROW_FIELDS = frozenset({"line", "pattern", "ids", "tiers", "unverified", "note", *PRICE_FIELDS})
_TIER_FIELDS = frozenset({"max_prompt_tokens", *PRICE_FIELDS})


def load_price_table(data: dict[str, Any]) -> PriceTable:
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
    return PriceTable(
        currency=str(data["currency"]),
        per_tokens=per_tokens,
        batch_discount=batch_discount,
        checked=checked,
        source=str(data.get("source") or ""),
        models=models,
    )


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
