"""pricing: the bundled price table, model id -> family, cost arithmetic, token usage."""

from __future__ import annotations

from typing import Any

import pytest

from batchdrop.pricing import Cost, PriceTable, TokenUsage

# (family, input, cache_write_5m, cache_write_1h, cache_read, output): the table in anthropic-batches-api.md.
OPUS_45 = ("Claude Opus 4.5+", 5.0, 6.25, 10.0, 0.50, 25.0)
OPUS_4 = ("Claude Opus 4 / 4.1", 15.0, 18.75, 30.0, 1.50, 75.0)
SONNET_4 = ("Claude Sonnet 4 / 4.5", 3.0, 3.75, 6.0, 0.30, 15.0)
HAIKU_45 = ("Claude Haiku 4.5", 1.0, 1.25, 2.0, 0.10, 5.0)
HAIKU_35 = ("Claude Haiku 3.5", 0.80, 1.0, 1.60, 0.08, 4.0)

MODELS = [
    ("claude-opus-4-5", OPUS_45),
    ("claude-opus-4-5-20251101", OPUS_45),
    ("claude-opus-4-6", OPUS_45),
    ("claude-opus-5", OPUS_45),
    ("claude-opus-4-0", OPUS_4),
    ("claude-opus-4-20250514", OPUS_4),
    ("claude-opus-4-1", OPUS_4),
    ("claude-opus-4-1-20250805", OPUS_4),
    ("claude-opus-4", OPUS_4),
    ("claude-sonnet-4-5", SONNET_4),
    ("claude-sonnet-4-5-20250929", SONNET_4),
    ("claude-sonnet-4-0", SONNET_4),
    ("claude-sonnet-4-20250514", SONNET_4),
    ("claude-haiku-4-5", HAIKU_45),
    ("claude-haiku-4-5-20251001", HAIKU_45),
    ("claude-3-5-haiku-20241022", HAIKU_35),
    ("claude-3-5-haiku-latest", HAIKU_35),
]

UNKNOWN_MODELS = [
    "gpt-4o",
    "claude-3-opus-20240229",
    "claude-3-haiku-20240307",
    "claude-2.1",
    "",
    "my-claude-sonnet-4-5",
    "CLAUDE-SONNET-4-5",
]


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return PriceTable.bundled()


def test_bundled_table_header(prices: PriceTable) -> None:
    assert prices.currency == "USD"
    assert prices.per_tokens == 1_000_000
    assert prices.batch_discount == 0.5
    assert [m.family for m in prices.models] == [
        OPUS_45[0],
        OPUS_4[0],
        SONNET_4[0],
        HAIKU_45[0],
        HAIKU_35[0],
    ]


@pytest.mark.parametrize(("model", "expected"), MODELS)
def test_price_for_maps_model_to_family(prices: PriceTable, model: str, expected: tuple[Any, ...]) -> None:
    price = prices.price_for(model)
    assert price is not None
    family, input_, write_5m, write_1h, read, output = expected
    assert price.family == family
    assert (price.input, price.cache_write_5m, price.cache_write_1h, price.cache_read, price.output) == (
        pytest.approx(input_),
        pytest.approx(write_5m),
        pytest.approx(write_1h),
        pytest.approx(read),
        pytest.approx(output),
    )


@pytest.mark.parametrize("model", UNKNOWN_MODELS)
def test_unknown_model_has_no_price_and_no_cost(prices: PriceTable, model: str) -> None:
    assert prices.price_for(model) is None
    assert prices.cost(model, TokenUsage(input_tokens=1000, output_tokens=1000)) is None


# --- cost arithmetic ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "model", "per_million"),
    [
        ("input_tokens", "claude-sonnet-4-5", 3.0),
        ("output_tokens", "claude-sonnet-4-5", 15.0),
        ("cache_write_5m_tokens", "claude-sonnet-4-5", 3.75),
        ("cache_write_1h_tokens", "claude-sonnet-4-5", 6.0),
        ("cache_read_tokens", "claude-sonnet-4-5", 0.30),
        ("input_tokens", "claude-opus-4-1", 15.0),
        ("output_tokens", "claude-opus-4-5", 25.0),
        ("cache_write_1h_tokens", "claude-haiku-4-5", 2.0),
        ("cache_read_tokens", "claude-3-5-haiku-20241022", 0.08),
    ],
)
def test_cost_per_token_kind(prices: PriceTable, kind: str, model: str, per_million: float) -> None:
    usage = TokenUsage(**{kind: 2_000_000})
    cost = prices.cost(model, usage)
    assert cost is not None
    assert cost.standard == pytest.approx(2 * per_million)
    assert cost.batch == pytest.approx(per_million)
    assert cost.savings == pytest.approx(per_million)


def test_cost_all_five_kinds_together(prices: PriceTable) -> None:
    usage = TokenUsage(
        input_tokens=1_000,
        output_tokens=2_000,
        cache_write_5m_tokens=3_000,
        cache_write_1h_tokens=4_000,
        cache_read_tokens=5_000,
    )
    # Sonnet: 1000*3 + 2000*15 + 3000*3.75 + 4000*6 + 5000*0.3 = 3000 + 30000 + 11250 + 24000 + 1500
    cost = prices.cost("claude-sonnet-4-5-20250929", usage)
    assert cost is not None
    assert cost.standard == pytest.approx(69_750 / 1_000_000)
    assert cost.batch == pytest.approx(69_750 / 2_000_000)
    # Opus 4.1: 1000*15 + 2000*75 + 3000*18.75 + 4000*30 + 5000*1.5 = 15000+150000+56250+120000+7500
    opus = prices.cost("claude-opus-4-1-20250805", usage)
    assert opus is not None
    assert opus.standard == pytest.approx(0.34875)
    assert opus.batch == pytest.approx(0.174375)


@pytest.mark.parametrize("model", [model for model, _ in MODELS])
def test_batch_is_half_of_standard(prices: PriceTable, model: str) -> None:
    usage = TokenUsage(123_456, 7_890, 1_111, 2_222, 33_333)
    cost = prices.cost(model, usage)
    assert cost is not None
    assert cost.standard > 0
    assert cost.batch == pytest.approx(cost.standard * 0.5)
    assert cost.savings == pytest.approx(cost.standard - cost.batch)


def test_zero_usage_of_a_known_model_costs_zero(prices: PriceTable) -> None:
    assert prices.cost("claude-haiku-4-5", TokenUsage()) == Cost(standard=0.0, batch=0.0)


def test_cost_savings_property() -> None:
    assert Cost(standard=10.0, batch=4.0).savings == pytest.approx(6.0)


def test_from_dict_custom_table_first_match_wins() -> None:
    table = PriceTable.from_dict(
        {
            "currency": "EUR",
            "per_tokens": "1000",
            "batch_discount": "0.4",
            "models": [
                {
                    "family": "special",
                    "pattern": "^m-special",
                    "input": 2,
                    "output": 4,
                    "cache_write_5m": 0,
                    "cache_write_1h": 0,
                    "cache_read": 0,
                },
                {
                    "family": "any m",
                    "pattern": "^m-",
                    "input": 1,
                    "output": 1,
                    "cache_write_5m": 1,
                    "cache_write_1h": 1,
                    "cache_read": 1,
                },
            ],
        }
    )
    assert table.currency == "EUR"
    assert table.per_tokens == 1000
    special = table.price_for("m-special-1")
    other = table.price_for("m-other")
    assert special is not None
    assert other is not None
    assert special.family == "special"
    assert other.family == "any m"
    cost = table.cost("m-special-1", TokenUsage(input_tokens=500, output_tokens=250))
    assert cost is not None
    assert cost.standard == pytest.approx(2.0)
    assert cost.batch == pytest.approx(0.8)


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


def test_from_api_splits_cache_writes_by_ttl() -> None:
    usage = TokenUsage.from_api(
        {
            "input_tokens": 10,
            "cache_creation_input_tokens": 1_500,
            "cache_creation": {"ephemeral_5m_input_tokens": 1_000, "ephemeral_1h_input_tokens": 500},
            "cache_read_input_tokens": 7,
            "output_tokens": 20,
        }
    )
    assert usage == TokenUsage(
        input_tokens=10,
        output_tokens=20,
        cache_write_5m_tokens=1_000,
        cache_write_1h_tokens=500,
        cache_read_tokens=7,
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
    ],
)
def test_from_api_missing_or_null_fields_are_zero(usage: dict[str, Any]) -> None:
    assert TokenUsage.from_api(usage) == TokenUsage()


def test_addition() -> None:
    a = TokenUsage(1, 2, 3, 4, 5)
    b = TokenUsage(10, 20, 30, 40, 50)
    assert a + b == TokenUsage(
        input_tokens=11,
        output_tokens=22,
        cache_write_5m_tokens=33,
        cache_write_1h_tokens=44,
        cache_read_tokens=55,
    )
    assert a + TokenUsage() == a
    assert sum([a, b, a], TokenUsage()) == TokenUsage(12, 24, 36, 48, 60)


def test_as_dict() -> None:
    assert TokenUsage(1, 2, 3, 4, 5).as_dict() == {
        "input": 1,
        "output": 2,
        "cache_write_5m": 3,
        "cache_write_1h": 4,
        "cache_read": 5,
    }
