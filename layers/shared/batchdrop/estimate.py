"""What a request will cost, before it is sent: the budget guard's input.

The method (documented in the README): input tokens are estimated from the content, at about
4 characters of text per token, ``(width x height) / 750`` per image (at most 1,600: the API
scales larger images down), and 2,000 per PDF page (its text and the page image); output tokens
are bounded by ``max_tokens``, so the estimate is an upper bound on output. The cost comes from
the same price table as the summary; a model with no price gives no estimate (unknown).
"""

from __future__ import annotations

import math
from typing import Any

from batchdrop.pricing import Cost, PriceTable, TokenUsage

CHARS_PER_TOKEN = 4
TOKENS_PER_PDF_PAGE = 2000
IMAGE_PIXELS_PER_TOKEN = 750
MAX_IMAGE_TOKENS = 1600
# The API adds a few tokens of its own to every request.
REQUEST_OVERHEAD_TOKENS = 10


def _text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def input_tokens(params: dict[str, Any], detail: dict[str, Any] | None = None) -> int:
    """Estimated input tokens of one request; ``detail`` is what the converter found (pages, pixels)."""
    detail = detail or {}
    total = REQUEST_OVERHEAD_TOKENS
    system = params.get("system")
    if isinstance(system, str):
        total += _text_tokens(system)
    elif isinstance(system, list):
        total += sum(_text_tokens(str(block.get("text", ""))) for block in system)
    for message in params.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            total += _text_tokens(content)
            continue
        for block in content or []:
            total += _block_tokens(block, detail)
    return total


def _block_tokens(block: dict[str, Any], detail: dict[str, Any]) -> int:
    kind = block.get("type")
    if kind == "text":
        return _text_tokens(str(block.get("text", "")))
    source = block.get("source") or {}
    if kind == "document" and source.get("type") == "text":
        return _text_tokens(str(source.get("data", "")))
    if kind == "document":  # a PDF
        pages = int(detail.get("pages") or max(1, len(str(source.get("data", ""))) * 3 // 4 // 50_000))
        return pages * TOKENS_PER_PDF_PAGE
    if kind == "image":
        width, height = detail.get("width"), detail.get("height")
        if width and height:
            return min(MAX_IMAGE_TOKENS, math.ceil(int(width) * int(height) / IMAGE_PIXELS_PER_TOKEN))
        return MAX_IMAGE_TOKENS
    return 0


def request_cost(prices: PriceTable, params: dict[str, Any], estimated_input: int) -> Cost | None:
    """Upper-bound cost of one request: its estimated input and its whole max_tokens of output."""
    usage = TokenUsage(input_tokens=estimated_input, output_tokens=int(params.get("max_tokens", 0)))
    return prices.cost(str(params.get("model", "")), usage)
