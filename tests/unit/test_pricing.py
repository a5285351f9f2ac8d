"""pricing: the bundled price table (every row as the contract prices it), tiers by prompt size,
the loader's errors, and token usage."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from batchdrop.domain.pricing import Cost, PriceTable, PriceTableError, TokenUsage

# (line, input, output, cache_write_5m, cache_write_1h, cache_read), USD per million tokens:
# the contract of 2026-11-30 (anthropic-batches-api.md), with the cache multipliers 1.25x / 2x /
# 0.1x where it gives no cache price, and the official pricing page where it gives its own.
FABLE_52 = ("Claude Fable 5.2", 8.0, 40.0, 10.0, 16.0, 0.20)
FABLE_51 = ("Claude Fable 5.1", 10.0, 50.0, 12.5, 20.0, 0.25)  # cache hits 0.025x (pricing page)
OPUS_55 = ("Claude Opus 5.5", 4.0, 20.0, 5.0, 8.0, 0.20)  # cache read 0.05x (its overview page)
SONNET_5 = (2.0, 10.0, 2.5, 4.0, 0.20)
OPUS_5 = (5.0, 25.0, 6.25, 10.0, 0.50)
SONNET_46 = ("Claude Sonnet 4.6", 3.0, 15.0, 3.75, 6.0, 0.30)
HAIKU_45 = ("Claude Haiku 4.5", 1.0, 5.0, 1.25, 2.0, 0.10)
HAIKU_55_SMALL = ("Claude Haiku 5.5", 0.10, 0.50, 0.125, 0.20, 0.01)
HAIKU_55_LARGE = ("Claude Haiku 5.5", 0.50, 2.50, 0.625, 1.00, 0.05)

CURRENT = [
    ("claude-fable-5-2", FABLE_52),
    ("claude-fable-5-1", FABLE_51),
    ("claude-opus-5-5", OPUS_55),
    ("claude-opus-5", ("Claude Opus 5", *OPUS_5)),
    ("claude-opus-4-8", ("Claude Opus 4.8", *OPUS_5)),
    ("claude-opus-4-7", ("Claude Opus 4.7", *OPUS_5)),
    ("claude-opus-4-6", ("Claude Opus 4.6", *OPUS_5)),
    ("claude-opus-4-5", ("Claude Opus 4.5", *OPUS_5)),
    ("claude-sonnet-5-5", ("Claude Sonnet 5.5", *SONNET_5)),
    ("claude-sonnet-5", ("Claude Sonnet 5", *SONNET_5)),
    ("claude-sonnet-4-6", SONNET_46),
    ("claude-haiku-5-5", HAIKU_55_SMALL),  # a small prompt: the first tier
    ("claude-haiku-4-5", HAIKU_45),
]
# Retired, kept so that jobs submitted before the retirement still get a cost.
RETIRED = [
    ("claude-sonnet-4-5", ("Claude Sonnet 4.5", 3.0, 15.0, 3.75, 6.0, 0.30)),
    ("claude-sonnet-4-0", ("Claude Sonnet 4", 3.0, 15.0, 3.75, 6.0, 0.30)),
    ("claude-opus-4-0", ("Claude Opus 4", 15.0, 75.0, 18.75, 30.0, 1.50)),
    ("claude-opus-4-1", ("Claude Opus 4.1", 15.0, 75.0, 18.75, 30.0, 1.50)),
    ("claude-3-5-haiku-latest", ("Claude Haiku 3.5", 0.80, 4.0, 1.0, 1.60, 0.08)),
]
DATED = [
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5"),
    ("claude-haiku-5-5-20261007", "Claude Haiku 5.5"),
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5"),
    ("claude-sonnet-4-20250514", "Claude Sonnet 4"),
    ("claude-opus-4-20250514", "Claude Opus 4"),
    ("claude-opus-4-1-20250805", "Claude Opus 4.1"),
    ("claude-opus-4-5-20251101", "Claude Opus 4.5"),
    ("claude-3-5-haiku-20241022", "Claude Haiku 3.5"),
]
UNKNOWN_MODELS = [
    "gpt-4o",
    "claude-3-opus-20240229",
    "claude-3-haiku-20240307",
    "claude-2.1",
    "",
    "my-claude-sonnet-4-5",
    "CLAUDE-SONNET-4-5",
    "claude-sonnet-4-7",
    "claude-haiku-5-5-preview",
    "claude-haiku-4-5-2025100",  # not a date
    "claude-opus-5-55",
]
KINDS = (
    "input_tokens",
    "output_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
)


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return PriceTable.bundled()


def _per_million(prices: PriceTable, model: str, kind: str, tokens: int = 1_000) -> float:
    """The standard price per million tokens of one kind, from the cost of a request of ``tokens``."""
    cost = prices.cost(model, TokenUsage(**{kind: tokens}))
    assert cost is not None
    return cost.standard * 1_000_000 / tokens


def _assert_prices(prices: PriceTable, model: str, expected: tuple[Any, ...], tokens: int = 1_000) -> None:
    line, *per_million = expected
    assert prices.line(model) == line
    assert [_per_million(prices, model, kind, tokens) for kind in KINDS] == pytest.approx(per_million)


def test_bundled_table_header(prices: PriceTable) -> None:
    assert prices.currency == "USD"
    assert prices.per_tokens == 1_000_000
    assert prices.batch_discount == 0.5
    assert prices.checked == "2026-11-30"
    assert prices.source == "https://platform.claude.com/docs/en/about-claude/pricing"


@pytest.mark.parametrize(("model", "expected"), CURRENT)
def test_every_current_model_prices_as_the_contract_says(
    prices: PriceTable, model: str, expected: tuple[Any, ...]
) -> None:
    _assert_prices(prices, model, expected)


@pytest.mark.parametrize(("model", "expected"), RETIRED)
def test_retired_models_keep_their_prices_for_old_jobs(
    prices: PriceTable, model: str, expected: tuple[Any, ...]
) -> None:
    _assert_prices(prices, model, expected)
    price = prices.price_for(model)
    assert price is not None and price.note is not None and "kept" in price.note


@pytest.mark.parametrize(("model", "line"), DATED)
def test_dated_ids_are_priced_by_their_line(prices: PriceTable, model: str, line: str) -> None:
    assert prices.line(model) == line
    undated = model.rsplit("-", 1)[0]
    assert prices.price_for(model) is prices.price_for(undated) or line == "Claude Haiku 3.5"


@pytest.mark.parametrize("model", UNKNOWN_MODELS)
def test_unknown_model_has_no_price_and_no_cost(prices: PriceTable, model: str) -> None:
    assert prices.price_for(model) is None
    assert prices.line(model) is None
    assert prices.cost(model, TokenUsage(input_tokens=1000, output_tokens=1000)) is None


def test_only_fable_5_2_is_marked_unverified(prices: PriceTable) -> None:
    # Of the Claude API's rows: every Bedrock row is unverified (test_bedrock_prices)
    assert [m.line for m in prices.models if m.unverified and "Bedrock" not in m.line] == ["Claude Fable 5.2"]


def test_every_row_prices_its_own_ids_and_only_haiku_5_5_is_tiered(prices: PriceTable) -> None:
    data = json.loads(resources.files("batchdrop.domain").joinpath("prices.json").read_text(encoding="utf-8"))
    for row in data["models"]:
        assert row["ids"], f"{row['line']} names no id"
        for model_id in row["ids"]:
            assert prices.line(model_id) == row["line"]
    assert [m.line for m in prices.models if m.tiered and "Bedrock" not in m.line] == ["Claude Haiku 5.5"]


# --- tiers by prompt size -----------------------------------------------------------------------


def test_haiku_5_5_prompt_of_exactly_100000_tokens_is_the_small_tier(prices: PriceTable) -> None:
    _assert_prices(prices, "claude-haiku-5-5", HAIKU_55_SMALL, tokens=100_000)
    cost = prices.cost("claude-haiku-5-5", TokenUsage(input_tokens=100_000, output_tokens=1_000))
    assert cost is not None
    assert (cost.standard, cost.batch) == pytest.approx((0.01 + 0.0005, (0.01 + 0.0005) / 2))


def test_haiku_5_5_prompt_of_100001_tokens_is_five_times_every_kind(prices: PriceTable) -> None:
    # Given a prompt one token over the limit, every token kind of that request, output included,
    # is priced at the large tier.
    cost = prices.cost("claude-haiku-5-5", TokenUsage(input_tokens=100_001, output_tokens=1_000))
    assert cost is not None
    assert cost.standard == pytest.approx((100_001 * 0.50 + 1_000 * 2.50) / 1e6)
    assert cost.batch == pytest.approx(cost.standard / 2)
    for kind in KINDS[2:]:  # cache kinds, each making the prompt large on its own
        assert _per_million(prices, "claude-haiku-5-5", kind, 100_001) == pytest.approx(
            HAIKU_55_LARGE[1 + KINDS.index(kind)]
        )


@pytest.mark.parametrize(
    ("usage", "tier"),
    [
        (TokenUsage(input_tokens=60_000, cache_read_tokens=40_000), HAIKU_55_SMALL),
        (TokenUsage(input_tokens=60_000, cache_read_tokens=40_001), HAIKU_55_LARGE),
        (
            TokenUsage(input_tokens=50_000, cache_write_5m_tokens=25_000, cache_write_1h_tokens=25_000),
            HAIKU_55_SMALL,
        ),
        (
            TokenUsage(input_tokens=50_000, cache_write_5m_tokens=25_000, cache_write_1h_tokens=25_001),
            HAIKU_55_LARGE,
        ),
        (TokenUsage(input_tokens=10, cache_read_tokens=200_000), HAIKU_55_LARGE),
        # output does not count toward the prompt size
        (TokenUsage(input_tokens=100_000, output_tokens=50_000, thinking_tokens=40_000), HAIKU_55_SMALL),
    ],
)
def test_cache_tokens_count_toward_the_prompt_size(
    prices: PriceTable, usage: TokenUsage, tier: tuple[Any, ...]
) -> None:
    _, *per_million = tier
    expected = sum(getattr(usage, kind) * price for kind, price in zip(KINDS, per_million, strict=True)) / 1e6
    cost = prices.cost("claude-haiku-5-5", usage)
    assert cost is not None
    assert cost.standard == pytest.approx(expected)


def test_summed_usage_of_tiered_requests_is_not_their_cost(prices: PriceTable) -> None:
    # Given three small prompts, each at the small tier, whose sum is over the limit
    requests = [TokenUsage(input_tokens=40_000, output_tokens=500)] * 3
    each = [prices.cost("claude-haiku-5-5", usage) for usage in requests]
    summed = prices.cost("claude-haiku-5-5", sum(requests, TokenUsage()))
    assert all(c is not None for c in each) and summed is not None
    per_request = sum((c for c in each if c), Cost(0.0, 0.0))
    # Then the requests cost a fifth of what their summed tokens would
    assert per_request.standard == pytest.approx(3 * (40_000 * 0.10 + 500 * 0.50) / 1e6)
    assert summed.standard == pytest.approx(5 * per_request.standard)


def test_cost_at_tier_prices_at_one_tier_whatever_the_size(prices: PriceTable) -> None:
    usage = TokenUsage(input_tokens=300_000)
    first = prices.cost_at_tier("claude-haiku-5-5", usage, 0)
    assert first is not None and first.standard == pytest.approx(0.03)
    assert prices.cost_at_tier("claude-haiku-4-5", usage, 3) == prices.cost("claude-haiku-4-5", usage)
    assert prices.cost_at_tier("claude-mystery-9", usage, 0) is None


# --- cost arithmetic ----------------------------------------------------------------------------


def test_cost_all_five_kinds_together(prices: PriceTable) -> None:
    usage = TokenUsage(
        input_tokens=1_000,
        output_tokens=2_000,
        cache_write_5m_tokens=3_000,
        cache_write_1h_tokens=4_000,
        cache_read_tokens=5_000,
    )
    # Sonnet 4.6: 1000*3 + 2000*15 + 3000*3.75 + 4000*6 + 5000*0.3 = 3000 + 30000 + 11250 + 24000 + 1500
    cost = prices.cost("claude-sonnet-4-6", usage)
    assert cost is not None
    assert cost.standard == pytest.approx(69_750 / 1_000_000)
    assert cost.batch == pytest.approx(69_750 / 2_000_000)
    # Opus 4.1: 1000*15 + 2000*75 + 3000*18.75 + 4000*30 + 5000*1.5 = 15000+150000+56250+120000+7500
    opus = prices.cost("claude-opus-4-1-20250805", usage)
    assert opus is not None
    assert opus.standard == pytest.approx(0.34875)
    assert opus.batch == pytest.approx(0.174375)


@pytest.mark.parametrize("model", [model for model, _ in CURRENT + RETIRED] + [m for m, _ in DATED])
def test_batch_is_half_of_standard(prices: PriceTable, model: str) -> None:
    usage = TokenUsage(123_456, 7_890, 1_111, 2_222, 33_333)
    cost = prices.cost(model, usage)
    assert cost is not None
    assert cost.standard > 0
    assert cost.batch == pytest.approx(cost.standard * 0.5)
    assert cost.savings == pytest.approx(cost.standard - cost.batch)


def test_zero_usage_of_a_known_model_costs_zero(prices: PriceTable) -> None:
    assert prices.cost("claude-haiku-5-5", TokenUsage()) == Cost(standard=0.0, batch=0.0)


def test_cost_savings_and_addition() -> None:
    assert Cost(standard=10.0, batch=4.0).savings == pytest.approx(6.0)
    assert Cost(1.0, 0.5) + Cost(2.0, 1.0) == Cost(3.0, 1.5)


def test_thinking_tokens_are_part_of_output_and_priced_once(prices: PriceTable) -> None:
    with_thinking = TokenUsage.from_api(
        {"input_tokens": 100, "output_tokens": 1_000, "output_tokens_details": {"thinking_tokens": 800}}
    )
    assert with_thinking.output_tokens == 1_000 and with_thinking.thinking_tokens == 800
    without = TokenUsage(input_tokens=100, output_tokens=1_000)
    assert prices.cost("claude-opus-5-5", with_thinking) == prices.cost("claude-opus-5-5", without)
    cost = prices.cost("claude-opus-5-5", with_thinking)
    assert cost is not None and cost.standard == pytest.approx((100 * 4 + 1_000 * 20) / 1e6)


# --- a table of one's own, and the loader's errors -----------------------------------------------


def _table(*rows: dict[str, Any], **header: Any) -> dict[str, Any]:
    return {
        "checked": "2026-11-30",
        "currency": "USD",
        "per_tokens": 1_000_000,
        "batch_discount": 0.5,
        "models": list(rows),
        **header,
    }


FLAT = {"line": "Flat", "pattern": "m-flat", "input": 1, "output": 2}
TIERED = {
    "line": "Tiered",
    "pattern": "m-tiered(-\\d{8})?",
    "ids": ["m-tiered", "m-tiered-20260101"],
    "tiers": [
        {"max_prompt_tokens": 1_000, "input": 1, "output": 2},
        {"max_prompt_tokens": 5_000, "input": 2, "output": 4, "cache_read": 0.5},
        {"max_prompt_tokens": None, "input": 3, "output": 6},
    ],
}


def test_from_dict_custom_table_first_match_wins_and_strings_of_numbers() -> None:
    table = PriceTable.from_dict(
        _table(
            {"line": "special", "pattern": "m-special.*", "input": 2, "output": 4, "cache_read": 0},
            {"line": "any m", "pattern": "m-.*", "input": 1, "output": 1},
            currency="EUR",
            per_tokens="1000",
            batch_discount="0.4",
        )
    )
    assert table.currency == "EUR"
    assert table.per_tokens == 1000
    assert table.line("m-special-1") == "special"
    assert table.line("m-other") == "any m"
    assert table.line("x-m-other") is None  # a pattern matches the whole id
    cost = table.cost("m-special-1", TokenUsage(input_tokens=500, output_tokens=250))
    assert cost is not None
    assert cost.standard == pytest.approx(2.0)
    assert cost.batch == pytest.approx(0.8)


def test_cache_prices_default_to_the_tables_multipliers() -> None:
    table = PriceTable.from_dict(
        _table(FLAT, cache_multipliers={"cache_write_5m": 1.5, "cache_write_1h": 3, "cache_read": 0.2})
    )
    (tier,) = table.models[0].tiers
    assert (tier.cache_write_5m, tier.cache_write_1h, tier.cache_read) == (1.5, 3.0, 0.2)
    (default,) = PriceTable.from_dict(_table(FLAT)).models[0].tiers
    assert (default.cache_write_5m, default.cache_write_1h, default.cache_read) == (1.25, 2.0, 0.1)


def test_three_tiers_and_their_boundaries() -> None:
    price = PriceTable.from_dict(_table(TIERED)).models[0]
    assert [price.tier_for(n).input for n in (0, 1_000, 1_001, 5_000, 5_001, 10**9)] == [1, 1, 2, 2, 3, 3]
    assert price.tier_for(2_000).cache_read == 0.5
    assert price.tier_for(9_000).cache_read == pytest.approx(0.3)


def _with(row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(row)
    changed.update(changes)
    return {k: v for k, v in changed.items() if v is not ...}


def _tiers(*limits: float | None) -> list[dict[str, Any]]:
    return [{"max_prompt_tokens": limit, "input": 1, "output": 2} for limit in limits]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (_with(FLAT, inptu=3), "row 2 (Flat): unknown field(s) 'inptu'"),
        (_with(FLAT, output=...), "row 2 (Flat): the price 'output' is missing"),
        (_with(FLAT, input=-1), "row 2 (Flat): 'input' must be a number, 0 or more (got -1)"),
        (_with(FLAT, cache_read=True), "row 2 (Flat): 'cache_read' must be a number"),
        (_with(FLAT, output="cheap"), "row 2 (Flat): 'output' must be a number, 0 or more (got 'cheap')"),
        (_with(FLAT, line=...), "row 2: 'line' (the model's name"),
        (_with(FLAT, pattern="claude-(["), "row 2 (Flat): 'pattern' 'claude-([' is not a regular expression"),
        (_with(FLAT, ids=["m-other"]), "row 2 (Flat): its pattern 'm-flat' does not match its id 'm-other'"),
        (
            _with(FLAT, ids=["m-first"], pattern="m-.*"),
            "its id 'm-first' is priced by the earlier row 'First'",
        ),
        (_with(FLAT, unverified="yes"), "row 2 (Flat): 'unverified' must be true or false"),
        (_with(FLAT, tiers=_tiers(None)), "row 2 (Flat): give either flat prices or 'tiers', not both"),
        (
            _with(TIERED, tiers=_tiers(100, 50, None)),
            "row 2 (Tiered): tier 2 (max_prompt_tokens 50) overlaps tier 1",
        ),
        (
            _with(TIERED, tiers=_tiers(100, 100, None)),
            "row 2 (Tiered): tier 2 (max_prompt_tokens 100) overlaps",
        ),
        (
            _with(TIERED, tiers=_tiers(100, 200)),
            "row 2 (Tiered): the last tier's max_prompt_tokens must be null",
        ),
        (_with(TIERED, tiers=_tiers(None, None)), "row 2 (Tiered): tier 1 has no max_prompt_tokens (null)"),
        (
            _with(TIERED, tiers=_tiers(0, None)),
            "row 2 (Tiered): tier 1: 'max_prompt_tokens' must be a positive",
        ),
        (
            _with(TIERED, tiers=_tiers(1.5, None)),
            "row 2 (Tiered): tier 1: 'max_prompt_tokens' must be a positive",
        ),
        (_with(TIERED, tiers=[]), "row 2 (Tiered): 'tiers' must be a non-empty list"),
        (
            _with(TIERED, tiers=[{"input": 1, "output": 2}, *_tiers(None)]),
            "row 2 (Tiered): tier 1: 'max_prompt_tokens' is missing",
        ),
        (
            _with(TIERED, tiers=[{"max_prompt_tokens": None, "input": 1, "output": 2, "batch": 1}]),
            "row 2 (Tiered): tier 1: unknown field(s) 'batch'",
        ),
        ("not a row", "row 2: a row must be an object"),
    ],
)
def test_a_bad_row_is_refused_naming_the_row(row: Any, message: str) -> None:
    first = {"line": "First", "pattern": "m-first", "ids": ["m-first"], "input": 1, "output": 1}
    with pytest.raises(PriceTableError) as raised:
        PriceTable.from_dict(_table(first, row))
    assert message in str(raised.value)
    assert str(raised.value).startswith("prices.json: ")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"checked": "30/11/2026"}, "'checked' must be the date the prices were checked, as YYYY-MM-DD"),
        ({"checked": None}, "'checked' must be the date"),
        ({"checked": ...}, "the field 'checked' is missing"),
        ({"batch_discount": 0}, "'batch_discount' is the share of the standard price a batch pays"),
        ({"batch_discount": 2}, "'batch_discount' is the share"),
        ({"per_tokens": 0}, "'per_tokens' must be a positive whole number"),
        ({"models": []}, "'models' must be a non-empty list"),
        ({"discount": 0.5}, "prices.json: unknown field(s) 'discount'"),
        ({"cache_multipliers": {"cache_write": 1.25}}, "cache_multipliers: unknown field(s) 'cache_write'"),
    ],
)
def test_a_bad_table_is_refused_saying_what_is_wrong(header: dict[str, Any], message: str) -> None:
    data = {k: v for k, v in _table(FLAT, **header).items() if v is not ...}
    with pytest.raises(PriceTableError, match=r"^prices\.json") as raised:
        PriceTable.from_dict(data)
    assert message in str(raised.value)


def test_comments_are_fields_starting_with_an_underscore() -> None:
    table = PriceTable.from_dict(_table(_with(FLAT, _why="a comment"), _comment=["about the table"]))
    assert table.line("m-flat") == "Flat"


# --- TokenUsage ---------------------------------------------------------------------------------


def test_from_api_without_cache_creation_counts_all_writes_as_5m() -> None:
    usage = TokenUsage.from_api(
        {
            "input_tokens": 16,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 30,
            "output_tokens": 5,
            "service_tier": "batch",
        }
    )
    assert usage == TokenUsage(
        input_tokens=16,
        output_tokens=5,
        cache_write_5m_tokens=100,
        cache_write_1h_tokens=0,
        cache_read_tokens=30,
    )
    assert usage.prompt_tokens == 146


def test_from_api_splits_cache_writes_by_ttl_and_reads_thinking() -> None:
    usage = TokenUsage.from_api(
        {
            "input_tokens": 10,
            "cache_creation_input_tokens": 1_500,
            "cache_creation": {"ephemeral_5m_input_tokens": 1_000, "ephemeral_1h_input_tokens": 500},
            "cache_read_input_tokens": 7,
            "output_tokens": 20,
            "output_tokens_details": {"thinking_tokens": 12},
        }
    )
    assert usage == TokenUsage(
        input_tokens=10,
        output_tokens=20,
        cache_write_5m_tokens=1_000,
        cache_write_1h_tokens=500,
        cache_read_tokens=7,
        thinking_tokens=12,
    )


def test_from_api_all_1h_writes() -> None:
    usage = TokenUsage.from_api(
        {
            "cache_creation_input_tokens": 800,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 800},
        }
    )
    assert usage.cache_write_5m_tokens == 0
    assert usage.cache_write_1h_tokens == 800


@pytest.mark.parametrize(
    "usage",
    [
        {},
        {"input_tokens": None, "output_tokens": None, "cache_creation": None},
        {"cache_creation_input_tokens": None, "cache_read_input_tokens": None},
        {"output_tokens_details": None},
        {"output_tokens_details": {"thinking_tokens": None}},
    ],
)
def test_from_api_missing_or_null_fields_are_zero(usage: dict[str, Any]) -> None:
    assert TokenUsage.from_api(usage) == TokenUsage()


def test_addition() -> None:
    a = TokenUsage(1, 2, 3, 4, 5, 1)
    b = TokenUsage(10, 20, 30, 40, 50, 10)
    assert a + b == TokenUsage(
        input_tokens=11,
        output_tokens=22,
        cache_write_5m_tokens=33,
        cache_write_1h_tokens=44,
        cache_read_tokens=55,
        thinking_tokens=11,
    )
    assert a + TokenUsage() == a
    assert sum([a, b, a], TokenUsage()) == TokenUsage(12, 24, 36, 48, 60, 12)


def test_as_dict() -> None:
    assert TokenUsage(1, 2, 3, 4, 5, 1).as_dict() == {
        "input": 1,
        "output": 2,
        "thinking": 1,
        "cache_write_5m": 3,
        "cache_write_1h": 4,
        "cache_read": 5,
    }
