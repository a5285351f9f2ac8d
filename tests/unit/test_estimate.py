"""estimate: the cost of a request before it is sent (the budget guard's input)."""

from __future__ import annotations

import pytest

from batchdrop.domain import estimate
from batchdrop.domain.pricing import PriceTable

PRICES = PriceTable.bundled()


def test_text_is_about_four_characters_a_token() -> None:
    params = {
        "system": "x" * 40,
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "y" * 400},
                    },
                    {"type": "text", "text": "z" * 41},
                ],
            }
        ],
    }
    assert estimate.input_tokens(params) == estimate.REQUEST_OVERHEAD_TOKENS + 10 + 100 + 11


def test_pdf_pages_and_image_pixels_use_what_the_converter_found() -> None:
    pdf = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "AAAA"}}
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
    overhead = estimate.REQUEST_OVERHEAD_TOKENS
    assert estimate.input_tokens({"messages": [{"content": [pdf]}]}, {"pages": 3}) == overhead + 6000
    assert (
        estimate.input_tokens({"messages": [{"content": [image]}]}, {"width": 300, "height": 250})
        == overhead + 100
    )
    # a large image is scaled down by the API: at most 1,600 tokens
    assert (
        estimate.input_tokens({"messages": [{"content": [image]}]}, {"width": 8000, "height": 8000})
        == overhead + 1600
    )


def test_request_cost_counts_output_at_max_tokens_at_batch_price() -> None:
    params = {"model": "claude-sonnet-4-6", "max_tokens": 1000, "messages": []}
    cost = estimate.request_cost(PRICES, params, 10_000)
    assert cost is not None
    assert cost.standard == pytest.approx((10_000 * 3 + 1000 * 15) / 1e6)
    assert cost.batch == pytest.approx(cost.standard / 2)


def test_a_model_with_no_price_has_no_estimate() -> None:
    assert estimate.request_cost(PRICES, {"model": "claude-mystery-9", "max_tokens": 10}, 10) is None


@pytest.mark.parametrize(
    "params",
    [
        {"messages": "hi"},
        {"messages": ["hi", 5, None]},
        {"messages": [{"role": "user", "content": 5}]},
        {"messages": [{"role": "user", "content": ["x", 3, {"type": "text", "text": 7}]}]},
        {"messages": [{"content": [{"type": "document", "source": "AAAA"}]}]},
        {"messages": [{"content": [{"type": "image", "source": None}]}]},
        {"system": ["x", {"text": None}, {"type": "text", "text": "abcd"}], "messages": None},
        {"system": 12},
        [],
        "params",
    ],
)
def test_input_tokens_never_raise_on_odd_params(params: object) -> None:
    tokens = estimate.input_tokens(params, None)  # type: ignore[arg-type]
    assert isinstance(tokens, int)
    assert tokens >= estimate.REQUEST_OVERHEAD_TOKENS


def test_what_is_understood_still_counts_beside_what_is_not() -> None:
    params = {"system": ["x", {"type": "text", "text": "abcd"}], "messages": ["hi", {"content": "y" * 8}]}
    assert estimate.input_tokens(params) == estimate.REQUEST_OVERHEAD_TOKENS + 1 + 2


@pytest.mark.parametrize(
    "detail", [{"pages": "lots", "width": "wide", "height": None}, {"pages": -3, "width": True}, "odd"]
)
def test_odd_converter_details_fall_back_to_the_content(detail: object) -> None:
    pdf = {"type": "document", "source": {"type": "base64", "data": "A" * 40}}
    image = {"type": "image", "source": {"type": "base64", "data": "AAAA"}}
    tokens = estimate.input_tokens({"messages": [{"content": [pdf, image]}]}, detail)  # type: ignore[arg-type]
    assert (
        tokens == estimate.REQUEST_OVERHEAD_TOKENS + estimate.TOKENS_PER_PDF_PAGE + estimate.MAX_IMAGE_TOKENS
    )


@pytest.mark.parametrize(
    "params",
    [
        {"model": "claude-sonnet-4-6", "max_tokens": "lots"},
        {"model": "claude-sonnet-4-6", "max_tokens": None},
        {"model": "claude-sonnet-4-6", "max_tokens": -1},
        {"model": "claude-sonnet-4-6", "max_tokens": [1]},
        {"model": ["claude-sonnet-4-6"], "max_tokens": 10},
        "params",
    ],
)
def test_request_cost_is_unknown_rather_than_an_error_on_odd_params(params: object) -> None:
    assert estimate.request_cost(PRICES, params, 10) is None  # type: ignore[arg-type]


# --- the model's tokenizer, and the price tier of each request -----------------------------------


@pytest.mark.parametrize(
    ("model", "ratio"),
    [
        ("claude-haiku-5-5", 1.3),
        ("claude-haiku-5-5-20261007", 1.3),
        ("claude-sonnet-5-5", 1.3),
        ("claude-sonnet-5", 1.3),
        ("claude-opus-5-5", 1.3),
        ("claude-opus-4-7", 1.3),
        ("claude-fable-5-2", 1.3),
        ("claude-haiku-4-5", 1.0),
        ("claude-haiku-4-5-20251001", 1.0),
        ("claude-sonnet-4-6", 1.0),
        ("claude-opus-4-6", 1.0),
        ("claude-mystery-9", 1.0),
        (None, 1.0),
    ],
)
def test_text_token_ratio_of_the_newer_tokenizer(model: object, ratio: float) -> None:
    assert estimate.text_token_ratio(model) == ratio


def test_the_same_text_counts_about_30_percent_more_on_haiku_5_5_than_on_haiku_4_5() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
    content = [{"type": "text", "text": "w" * 4_000}, image]  # 1,000 text tokens, and an image
    detail = {"width": 300, "height": 250}  # 100 image tokens, whatever the tokenizer
    older = estimate.input_tokens({"model": "claude-haiku-4-5", "messages": [{"content": content}]}, detail)
    newer = estimate.input_tokens({"model": "claude-haiku-5-5", "messages": [{"content": content}]}, detail)
    assert older == estimate.REQUEST_OVERHEAD_TOKENS + 1_000 + 100
    assert newer == estimate.REQUEST_OVERHEAD_TOKENS + 1_300 + 100


@pytest.mark.parametrize(
    ("estimated_input", "input_price", "output_price"),
    [(100_000, 0.10, 0.50), (100_001, 0.50, 2.50)],
)
def test_request_cost_uses_the_tier_of_the_requests_own_prompt_size(
    estimated_input: int, input_price: float, output_price: float
) -> None:
    params = {"model": "claude-haiku-5-5", "max_tokens": 2_000, "messages": []}
    cost = estimate.request_cost(PRICES, params, estimated_input)
    assert cost is not None
    assert cost.standard == pytest.approx((estimated_input * input_price + 2_000 * output_price) / 1e6)


def test_the_newer_tokenizer_can_move_a_request_into_the_large_tier() -> None:
    # Given 360,000 characters: 90,000 tokens by the older tokenizer, 117,000 by Haiku 5.5's
    params = {"model": "claude-haiku-5-5", "max_tokens": 1_000, "messages": [{"content": "z" * 360_000}]}
    tokens = estimate.input_tokens(params)
    assert tokens == estimate.REQUEST_OVERHEAD_TOKENS + 117_000
    cost = estimate.request_cost(PRICES, params, tokens)
    assert cost is not None
    assert cost.batch == pytest.approx((tokens * 0.50 + 1_000 * 2.50) / 1e6 / 2)
