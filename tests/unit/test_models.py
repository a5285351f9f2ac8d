"""models: a model's facts from a Models API object, and its replacement."""

from __future__ import annotations

from typing import Any

from batchdrop.domain.models import ModelFacts, current_models, replacement_for


def api_model(model_id: str, line: str | None = "sonnet", lifecycle: str = "active", **extra: Any) -> dict:
    """A Models API object as GET /v1/models/{id} returns it (capabilities in full)."""
    supported = {"supported": True}
    return {
        "id": model_id,
        "type": "model",
        "display_name": extra.pop("display_name", model_id),
        "created_at": extra.pop("created_at", "2026-01-01T00:00:00Z"),
        "lifecycle": lifecycle,
        "deprecated_at": extra.pop("deprecated_at", None),
        "retires_at": extra.pop("retires_at", None),
        "line": line,
        "max_input_tokens": 200_000,
        "max_tokens": extra.pop("max_tokens", 64_000),
        "capabilities": extra.pop(
            "capabilities",
            {
                "batch": supported,
                "citations": supported,
                "code_execution": supported,
                "image_input": supported,
                "pdf_input": supported,
                "structured_outputs": supported,
                "effort": {
                    "supported": True,
                    "low": supported,
                    "medium": supported,
                    "high": supported,
                    "xhigh": {"supported": False},
                    "max": supported,
                },
                "thinking": {
                    "supported": True,
                    "types": {
                        "adaptive": supported,
                        "between_tools": {"supported": False},
                        "disabled": supported,
                        "enabled": {"supported": False},
                    },
                },
            },
        ),
        **extra,
    }


def test_facts_are_read_from_a_models_api_object() -> None:
    facts = ModelFacts.from_api(
        api_model(
            "claude-sonnet-4-6",
            lifecycle="deprecated",
            display_name="Claude Sonnet 4.6",
            deprecated_at="2026-10-01T00:00:00Z",
            retires_at="2027-04-01T00:00:00Z",
        )
    )
    assert (facts.id, facts.display_name, facts.line) == ("claude-sonnet-4-6", "Claude Sonnet 4.6", "sonnet")
    assert facts.deprecated and not facts.retired and not facts.active
    assert facts.retires_at == "2027-04-01T00:00:00Z"
    assert (facts.max_input_tokens, facts.max_tokens) == (200_000, 64_000)
    can = facts.capabilities
    assert can is not None
    assert can.batch and can.pdf_input and can.image_input and can.structured_outputs and can.citations
    assert can.effort_levels == {"low", "medium", "high", "max"}  # xhigh: false
    assert can.thinking_types == {"adaptive", "disabled"}  # each type read on its own


def test_a_model_without_capabilities_or_effort_is_read_as_such() -> None:
    facts = ModelFacts.from_api({"id": "claude-x", "lifecycle": "active", "capabilities": None})
    assert facts.capabilities is None and facts.display_name == "claude-x" and facts.line is None
    no_effort = ModelFacts.from_api(
        api_model(
            "claude-haiku-4-5", capabilities={"batch": {"supported": True}, "effort": {"supported": False}}
        )
    )
    assert no_effort.capabilities is not None
    assert no_effort.capabilities.effort_levels == frozenset()
    assert not no_effort.capabilities.pdf_input  # a capability the API leaves out is not assumed


CATALOGUE = [
    ModelFacts.from_api(m)
    for m in (
        api_model("claude-sonnet-4-5", lifecycle="retired", created_at="2025-09-29T00:00:00Z"),
        api_model("claude-sonnet-4-6", lifecycle="deprecated", created_at="2026-02-01T00:00:00Z"),
        api_model("claude-sonnet-5", created_at="2026-05-01T00:00:00Z"),
        api_model("claude-sonnet-5-5", created_at="2026-09-01T00:00:00Z"),
        api_model("claude-haiku-5-5", line="haiku", created_at="2026-10-07T00:00:00Z"),
        api_model("claude-haiku-4-5", line="haiku", created_at="2025-10-01T00:00:00Z"),
        api_model("claude-special", line=None),
    )
]


def test_the_replacement_is_the_newest_active_model_of_the_same_line() -> None:
    retired = CATALOGUE[0]
    replacement = replacement_for(retired, CATALOGUE)
    assert replacement is not None and replacement.id == "claude-sonnet-5-5"
    haiku = replacement_for(CATALOGUE[5], CATALOGUE)
    assert haiku is not None and haiku.id == "claude-haiku-5-5"


def test_no_replacement_without_a_line_or_an_active_model_in_it() -> None:
    assert replacement_for(CATALOGUE[-1], CATALOGUE) is None
    lonely = ModelFacts.from_api(api_model("claude-opus-4", line="opus", lifecycle="retired"))
    assert replacement_for(lonely, CATALOGUE) is None


def test_current_models_are_the_newest_of_each_line_then_the_lineless() -> None:
    assert [m.id for m in current_models(CATALOGUE)] == [
        "claude-haiku-5-5",
        "claude-sonnet-5-5",
        "claude-special",
    ]
