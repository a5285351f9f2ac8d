"""prices.json: Claude on Amazon Bedrock has price rows of its own, keyed by Bedrock model id,
inference profile id or ARN; the Claude API's rows never price a Bedrock id, nor the reverse."""

from __future__ import annotations

import pytest

from batchdrop.domain.bedrock import result_line
from batchdrop.domain.job_summary import billed_request
from batchdrop.domain.pricing import PriceTable, TokenUsage
from batchdrop.domain.result_line import ResultLine

MILLION = TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000)


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return PriceTable.bundled()


def bedrock_rows(prices: PriceTable) -> list[str]:
    return [m.line for m in prices.models if "Bedrock" in m.line]


@pytest.mark.parametrize(
    ("model", "line", "standard"),
    [
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude Sonnet 4.5 on Bedrock (global)", 3 + 15),
        (
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "Claude Sonnet 4.5 on Bedrock (regional)",
            3.3 + 16.5,
        ),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude Sonnet 4.5 on Bedrock (regional)", 3.3 + 16.5),
        ("anthropic.claude-haiku-4-5-20251001-v1:0", "Claude Haiku 4.5 on Bedrock (regional)", 1.1 + 5.5),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "Claude Haiku 4.5 on Bedrock (global)", 1 + 5),
        ("anthropic.claude-opus-4-6-v1", "Claude Opus 4.6 on Bedrock (regional)", 5.5 + 27.5),
        ("global.anthropic.claude-sonnet-5-5", "Claude Sonnet 5.5 on Bedrock (global)", 2 + 10),
        ("eu.anthropic.claude-opus-5-5", "Claude Opus 5.5 on Bedrock (regional)", 4.4 + 22),
        ("anthropic.claude-sonnet-4-20250514-v1:0", "Claude Sonnet 4 on Bedrock", 3 + 15),
        ("us.anthropic.claude-opus-4-1-20250805-v1:0", "Claude Opus 4.1 on Bedrock", 15 + 75),
        (
            "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-haiku-4-5-20251001-v1:0",
            "Claude Haiku 4.5 on Bedrock (regional)",
            1.1 + 5.5,
        ),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-6",
            "Claude Sonnet 4.6 on Bedrock (regional)",
            3.3 + 16.5,
        ),
    ],
)
def test_bedrock_ids_have_bedrock_prices_and_a_batch_costs_half(
    prices: PriceTable, model: str, line: str, standard: float
) -> None:
    assert prices.line(model) == line
    cost = prices.cost(model, MILLION)
    assert cost is not None
    assert cost.standard == pytest.approx(standard)
    assert cost.batch == pytest.approx(standard / 2)


def test_haiku_5_5_on_bedrock_is_tiered_by_prompt_size_like_the_api(prices: PriceTable) -> None:
    small = prices.cost("global.anthropic.claude-haiku-5-5", TokenUsage(input_tokens=100_000))
    large = prices.cost("global.anthropic.claude-haiku-5-5", TokenUsage(input_tokens=100_001))
    assert small is not None and large is not None
    assert small.standard == pytest.approx(0.01) and large.standard == pytest.approx(100_001 * 0.5 / 1e6)
    regional = prices.cost("us.anthropic.claude-haiku-5-5", TokenUsage(input_tokens=100_000))
    assert regional is not None and regional.standard == pytest.approx(0.011)


def test_every_bedrock_row_is_unverified_and_says_where_its_price_comes_from(prices: PriceTable) -> None:
    rows = [m for m in prices.models if "Bedrock" in m.line]
    assert len(rows) == 26
    assert all(m.unverified and m.note and "not verified" in m.note for m in rows)
    assert [m.line for m in rows if m.tiered] == [
        "Claude Haiku 5.5 on Bedrock (global)",
        "Claude Haiku 5.5 on Bedrock (regional)",
    ]


@pytest.mark.parametrize(
    "model",
    [
        "claude-sonnet-4-5",
        "claude-haiku-4-5-20251001",
        "claude-opus-5-5",
    ],
)
def test_the_claude_apis_ids_keep_the_claude_apis_rows(prices: PriceTable, model: str) -> None:
    line = prices.line(model)
    assert line is not None and "Bedrock" not in line


@pytest.mark.parametrize(
    "model",
    [
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",  # names no model
        "anthropic.claude-3-haiku-20240307-v1:0",
        "meta.llama3-70b-instruct-v1:0",
        "xx.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0-extra",
    ],
)
def test_what_no_bedrock_row_prices_has_no_price(prices: PriceTable, model: str) -> None:
    assert prices.price_for(model) is None


def test_a_bedrock_answer_is_billed_at_its_jobs_bedrock_price(prices: PriceTable) -> None:
    # The answer names the Claude model; the line Complete reads names the job's Bedrock model id
    output = {
        "recordId": "a",
        "modelOutput": {
            "content": [{"type": "text", "text": "hi"}],
            "model": "claude-sonnet-4-5-20250929",
            "usage": {"input_tokens": 1_000_000, "output_tokens": 0},
        },
    }
    line = ResultLine.of(result_line(output, "us.anthropic.claude-sonnet-4-5-20250929-v1:0"))
    billed = billed_request(prices, line)
    assert billed.cost is not None and billed.cost.batch == pytest.approx(1.65)
    assert bedrock_rows(prices)
