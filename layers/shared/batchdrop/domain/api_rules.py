"""The request rules of Claude API version 2026-10-21, checked before anything is sent.

In a Message Batch these rules do not fail the create: each request that breaks one ends
``errored`` (``invalid_request_error``) when the batch ends, hours later. So batchdrop checks
every request against them first. Pure: one request's params in, the reasons out, each in the
API's wording followed by what to do instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

API_VERSION = "2026-10-21"  # what the pinned SDK (anthropic 2.x) sends as anthropic-version
SAMPLING_PARAMS = ("temperature", "top_p", "top_k")
NOT_IN_BATCHES = ("stream", "speed")
EFFORT_HINT = "steer with effort (low|medium|high|xhigh|max) and the prompt instead"

# claude-<line>-<major>[-<minor>][-<yyyymmdd>]: the minor has one or two digits, a date eight.
_VERSIONED_ID = re.compile(r"^claude-([a-z]+)-(\d+)(?:-(\d{1,2}))?(?:-\d{8})?$")
_ALWAYS_NEW_LINES = ("fable", "mythos")


def sampling_removed(name: str) -> str:
    """Why a profile field or request param named ``name`` (temperature, top_p, top_k) is refused."""
    return (
        f"{name}: removed in Claude API version {API_VERSION} (requests carrying temperature, top_p "
        f"or top_k fail); {EFFORT_HINT}"
    )


def is_4_7_or_later(model: str) -> bool:
    """Claude 4.7 and later (Opus 4.7+, Sonnet 5+, Haiku 5.5, Fable, Mythos): the models that
    reject sampling parameters and manual thinking budgets under every API version."""
    match = _VERSIONED_ID.match(model)
    if match is None:
        return model.startswith(tuple(f"claude-{line}" for line in _ALWAYS_NEW_LINES))
    line, major, minor = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    return line in _ALWAYS_NEW_LINES or (major, minor) >= (4, 7)


def violations(params: Mapping[str, Any]) -> list[str]:
    """Why the API (version 2026-10-21) would refuse these Messages params in a batch; empty
    when it would not, as far as can be known without the model catalogue."""
    reasons: list[str] = []
    for name in SAMPLING_PARAMS:
        if name in params:
            reasons.append(f"{name}: Extra inputs are not permitted ({sampling_removed(name)})")
    for name in NOT_IN_BATCHES:
        if name in params and params[name] not in (None, False):
            reasons.append(
                f"{name}: not supported in Message Batches requests; leave it out "
                "(a batch is never streamed, and fast mode is for real-time calls)"
            )
    thinking = params.get("thinking")
    model = params.get("model")
    if (
        isinstance(thinking, Mapping)
        and thinking.get("type") == "enabled"
        and isinstance(model, str)
        and is_4_7_or_later(model)
    ):
        reasons.append(
            f'"thinking.type.enabled" is not supported for {model}. Use "thinking.type.adaptive" and '
            '"output_config.effort" to control thinking behavior (in a profile: thinking: adaptive, effort)'
        )
    reasons.extend(message_violations(params))
    return reasons


def message_violations(params: Mapping[str, Any]) -> list[str]:
    """Why the Messages request's content would be refused, by the rules of the Messages shape
    itself (they hold on Amazon Bedrock too, unlike the version rules above)."""
    reasons: list[str] = []
    messages = params.get("messages")
    if isinstance(messages, list):
        for index, message in enumerate(messages):
            if isinstance(message, Mapping):
                reasons.extend(_message_violations(index, message))
    return reasons


def _message_violations(index: int, message: Mapping[str, Any]) -> Iterator[str]:
    content = message.get("content")
    if not isinstance(content, list):
        return
    role = message.get("role")
    for position, block in enumerate(content):
        if not isinstance(block, Mapping):
            continue
        where = f"messages.{index}.content.{position}"
        if role == "assistant" and block.get("type") == "document":
            yield (
                f"{where}: document blocks are not permitted in assistant messages; "
                "put the document in a user message"
            )
        if role == "user":
            yield from _cited_text(where, block)


def _cited_text(where: str, block: Mapping[str, Any]) -> Iterator[str]:
    """A user text block with citations, directly or inside a search_result block."""
    if block.get("type") == "text" and block.get("citations"):
        yield (
            f"{where}.citations: citations are not permitted on text blocks in user messages; "
            "remove them (citations come back on the answer's text blocks)"
        )
    elif block.get("type") == "search_result" and isinstance(block.get("content"), list):
        for inner, child in enumerate(block["content"]):
            if isinstance(child, Mapping):
                yield from _cited_text(f"{where}.content.{inner}", child)
