"""estimate: the cost of a request before it is sent (the budget guard's input)."""

from __future__ import annotations

import pytest

from batchdrop import estimate
from batchdrop.pricing import PriceTable

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
    params = {"model": "claude-sonnet-4-5", "max_tokens": 1000, "messages": []}
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
        {"model": "claude-sonnet-4-5", "max_tokens": "lots"},
        {"model": "claude-sonnet-4-5", "max_tokens": None},
        {"model": "claude-sonnet-4-5", "max_tokens": -1},
        {"model": "claude-sonnet-4-5", "max_tokens": [1]},
        {"model": ["claude-sonnet-4-5"], "max_tokens": 10},
        "params",
    ],
)
def test_request_cost_is_unknown_rather_than_an_error_on_odd_params(params: object) -> None:
    assert estimate.request_cost(PRICES, params, 10) is None  # type: ignore[arg-type]
