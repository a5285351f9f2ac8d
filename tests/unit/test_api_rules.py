"""api_rules: what Claude API version 2026-10-21 refuses in a batch request, before it is sent."""

from __future__ import annotations

from typing import Any

import pytest

from batchdrop.domain.api_rules import API_VERSION, is_4_7_or_later, violations


def _params(**extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-haiku-5-5",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "Hi"}],
        **extra,
    }


def test_the_version_is_the_one_the_sdk_sends() -> None:
    import anthropic

    assert API_VERSION == "2026-10-21"
    assert anthropic.Anthropic(api_key="k").default_headers["anthropic-version"] == API_VERSION


def test_a_request_built_the_current_way_passes() -> None:
    assert violations(_params(output_config={"effort": "low"}, thinking={"type": "adaptive"})) == []


@pytest.mark.parametrize("name", ["temperature", "top_p", "top_k"])
@pytest.mark.parametrize("value", [0, 1, 0.5])
def test_any_sampling_param_at_any_value_is_refused_in_the_apis_words(name: str, value: float) -> None:
    (reason,) = violations(_params(**{name: value}))
    assert reason.startswith(f"{name}: Extra inputs are not permitted")
    assert "steer with effort (low|medium|high|xhigh|max) and the prompt instead" in reason


@pytest.mark.parametrize(("name", "value"), [("stream", True), ("speed", "fast")])
def test_stream_and_speed_are_refused_in_a_batch(name: str, value: object) -> None:
    (reason,) = violations(_params(**{name: value}))
    assert reason.startswith(f"{name}: not supported in Message Batches requests")
    assert violations(_params(stream=False)) == []


def test_a_document_in_an_assistant_message_is_refused_but_not_in_a_user_message() -> None:
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}
    messages = [
        {"role": "user", "content": [document, {"type": "text", "text": "Read."}]},
        {"role": "assistant", "content": [document]},
    ]
    assert violations(_params(messages=messages)) == [
        "messages.1.content.0: document blocks are not permitted in assistant messages; "
        "put the document in a user message"
    ]


def test_citations_on_user_text_are_refused_directly_and_inside_a_search_result() -> None:
    cited = {"type": "text", "text": "x", "citations": [{"type": "char_location", "cited_text": "x"}]}
    messages = [
        {
            "role": "user",
            "content": [cited, {"type": "search_result", "content": [cited], "source": "s", "title": "t"}],
        },
        {"role": "assistant", "content": [cited]},  # answers carry citations: that is fine
        {"role": "user", "content": [{"type": "text", "text": "x", "citations": []}]},  # empty: fine
    ]
    reasons = violations(_params(messages=messages))
    assert [r.split(":")[0] for r in reasons] == [
        "messages.0.content.0.citations",
        "messages.0.content.1.content.0.citations",
    ]


@pytest.mark.parametrize(
    ("model", "newer"),
    [
        ("claude-opus-4-7", True),
        ("claude-opus-4-8", True),
        ("claude-opus-5", True),
        ("claude-sonnet-5-5", True),
        ("claude-haiku-5-5", True),
        ("claude-fable-5-1", True),
        ("claude-mythos", True),
        ("claude-opus-4-6", False),
        ("claude-sonnet-4-5", False),
        ("claude-haiku-4-5-20251001", False),
        ("claude-3-5-sonnet-20241022", False),
    ],
)
def test_which_models_are_4_7_or_later(model: str, newer: bool) -> None:
    assert is_4_7_or_later(model) is newer


def test_manual_thinking_is_refused_on_4_7_and_later_only() -> None:
    enabled = {"type": "enabled", "budget_tokens": 2048}
    (reason,) = violations(_params(model="claude-sonnet-5-5", thinking=enabled))
    assert reason.startswith(
        '"thinking.type.enabled" is not supported for claude-sonnet-5-5. Use "thinking.type.adaptive"'
    )
    assert violations(_params(model="claude-sonnet-4-6", thinking=enabled)) == []
