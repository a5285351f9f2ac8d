"""What a request will cost, before it is sent: the budget guard's input.

The method (documented in the README): input tokens are estimated from the content, at about
4 characters of text per token on the older tokenizer, times the model's ``text_token_ratio``
(models with the newer tokenizer count about 30% more tokens for the same text); ``(width x
height) / 750`` per image (at most 1,600: the API scales larger images down), and 2,000 per PDF
page (its text and the page image); output tokens are bounded by ``max_tokens``, so the estimate
is an upper bound on output. The cost comes from the same price table as the summary, for each
request on its own: a model priced in tiers charges the tier of that request's estimated prompt
size. A model with no price gives no estimate (unknown).
"""

from __future__ import annotations

import math
import re
from typing import Any

from batchdrop.domain.pricing import Cost, PriceTable, TokenUsage

CHARS_PER_TOKEN = 4
TOKENS_PER_PDF_PAGE = 2000
IMAGE_PIXELS_PER_TOKEN = 750
MAX_IMAGE_TOKENS = 1600
# The API adds a few tokens of its own to every request.
REQUEST_OVERHEAD_TOKENS = 10

# Text tokens of a model against the 4-characters-a-token rule, which follows the older tokenizer
# (Claude Haiku 4.5 and the models before 4.7). A model fact, so it is kept here and not in
# prices.json. Source: the Claude Haiku 5.5 overview, "It uses the same newer tokenizer as Claude
# 4.7 and later models, so the same text counts as approximately 30% more tokens than on Claude
# Haiku 4.5."
TOKENIZER_SOURCE = "https://platform.claude.com/docs/en/models/haiku-5-5/overview"
TEXT_TOKEN_RATIOS: tuple[tuple[re.Pattern[str], float], ...] = (
    (
        re.compile(
            r"claude-(opus-4-[7-9]|opus-5(-\d)?|sonnet-5(-\d)?|haiku-5(-\d)?|fable-5(-\d)?|mythos-5(-\d)?)"
            r"(-\d{8})?"
        ),
        1.3,
    ),
)


def text_token_ratio(model: object) -> float:
    """How many more tokens the model counts for the same text than the older tokenizer (1.0:
    the same, or a model this table does not know)."""
    if not isinstance(model, str):
        return 1.0
    return next((ratio for pattern, ratio in TEXT_TOKEN_RATIOS if pattern.fullmatch(model)), 1.0)


def _text_tokens(text: object) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) if isinstance(text, str) else 0


def _whole(value: object) -> int | None:
    """``value`` as a non-negative whole number, or None (bools and other types are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = int(value)
    except (ValueError, OverflowError):
        return None
    return number if number >= 0 else None


def input_tokens(params: dict[str, Any], detail: dict[str, Any] | None = None) -> int:
    """Estimated input tokens of one request; ``detail`` is what the converter found (pages, pixels).

    Text is counted at the tokenizer of the request's model (``text_token_ratio``); images and
    PDF pages by their own rules. Total: params of any shape give a number (what is not
    understood counts as nothing), never an exception, so that one odd request cannot fail a
    whole window.
    """
    detail = detail if isinstance(detail, dict) else {}
    if not isinstance(params, dict):
        return REQUEST_OVERHEAD_TOKENS
    text = other = 0
    system = params.get("system")
    if isinstance(system, str):
        text += _text_tokens(system)
    elif isinstance(system, list):
        text += sum(_text_tokens(block.get("text")) for block in system if isinstance(block, dict))
    messages = params.get("messages")
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            text += _text_tokens(content)
        elif isinstance(content, list):
            for block in content:
                if isinstance(block, dict):
                    block_text, block_other = _block_tokens(block, detail)
                    text += block_text
                    other += block_other
    return REQUEST_OVERHEAD_TOKENS + math.ceil(text * text_token_ratio(params.get("model"))) + other


def _block_tokens(block: dict[str, Any], detail: dict[str, Any]) -> tuple[int, int]:
    """Tokens of one content block: (text, the rest)."""
    kind = block.get("type")
    if kind == "text":
        return _text_tokens(block.get("text")), 0
    source = block.get("source")
    source = source if isinstance(source, dict) else {}
    data = source.get("data")
    if kind == "document" and source.get("type") == "text":
        return _text_tokens(data), 0
    if kind == "document":  # a PDF
        pages = _whole(detail.get("pages")) or max(
            1, len(data) * 3 // 4 // 50_000 if isinstance(data, str) else 1
        )
        return 0, pages * TOKENS_PER_PDF_PAGE
    if kind == "image":
        width, height = _whole(detail.get("width")), _whole(detail.get("height"))
        if width and height:
            return 0, min(MAX_IMAGE_TOKENS, math.ceil(width * height / IMAGE_PIXELS_PER_TOKEN))
        return 0, MAX_IMAGE_TOKENS
    return 0, 0


def request_cost(prices: PriceTable, params: dict[str, Any], estimated_input: int) -> Cost | None:
    """Upper-bound cost of one request: its estimated input and its whole max_tokens of output,
    at the price tier of its own estimated prompt size (``estimated_input``).

    None when it cannot be known: the model has no price, or max_tokens is not a whole number.
    """
    if not isinstance(params, dict):
        return None
    max_tokens = _whole(params.get("max_tokens", 0))
    model = params.get("model")
    if max_tokens is None or not isinstance(model, str):
        return None
    return prices.cost(model, TokenUsage(input_tokens=max(0, int(estimated_input)), output_tokens=max_tokens))
