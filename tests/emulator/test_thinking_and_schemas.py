"""Thinking (blocks, usage, max_tokens), structured outputs (schema-valid answers, refused schema
features, deliberately invalid answers, answers cut off) and the usage shape, over HTTP with the
unmodified SDK. Answers are checked against their schema with the jsonschema library."""

from __future__ import annotations

import json
import re
from typing import Any

import anthropic
import jsonschema
import pytest
from anthropic.types import Message

from batchdrop_local.emulator import EmulatorServer

from .conftest import make_request, wait_ended

DOCUMENT_TEXT = (
    "Acme Corp reported revenue of 12 million dollars in 2026. The board approved a new plant in Lyon. "
    "Shares rose four percent after the announcement."
)
INVOICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "summary": {"type": "string"},
        "word_count": {"type": "integer"},
        "confidence": {"type": "number"},
        "approved": {"type": "boolean"},
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
        "reference": {"type": "string", "pattern": "^INV-[0-9]{6}$"},
        "issued": {"type": "string", "format": "date"},
        "contact": {"type": "string", "format": "email"},
        "id": {"type": "string", "format": "uuid"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "parties": {"type": "array", "items": {"$ref": "#/$defs/party"}},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
            "required": ["city", "country"],
            "additionalProperties": False,
        },
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "kind": {"const": "invoice"},
        "extra": {"allOf": [{"$ref": "#/$defs/party"}]},
    },
    "required": ["title", "summary", "word_count", "sentiment", "tags", "address", "kind"],
    "additionalProperties": False,
    "$defs": {
        "party": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "role": {"type": "string", "enum": ["buyer", "seller"]},
            },
            "required": ["name", "role"],
            "additionalProperties": False,
        }
    },
}


def document_request(custom_id: str, schema: dict[str, Any] | None = None, **params: Any) -> Any:
    content = [
        {
            "type": "document",
            "title": "Acme annual note",
            "source": {"type": "text", "media_type": "text/plain", "data": DOCUMENT_TEXT},
        },
        {"type": "text", "text": "Extract the fields."},
    ]
    if schema is not None:
        params["output_config"] = {
            **params.get("output_config", {}),
            "format": {"type": "json_schema", "schema": schema},
        }
    return make_request(custom_id, messages=[{"role": "user", "content": content}], **params)


def run(client: anthropic.Anthropic, *requests: Any) -> dict[str, Any]:
    """custom_id -> the result of each request of one batch."""
    batch = client.messages.batches.create(requests=list(requests))
    wait_ended(client, batch.id)
    return {line.custom_id: line.result for line in client.messages.batches.results(batch.id)}


def message_of(result: Any) -> Message:
    assert result.type == "succeeded", result
    message: Message = result.message
    return message


def answer_text(message: Message) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


def test_adaptive_thinking_puts_a_signed_thinking_block_first_and_counts_its_tokens(
    client: anthropic.Anthropic,
) -> None:
    results = run(
        client,
        make_request("adaptive", model="claude-sonnet-5-5", thinking={"type": "adaptive"}),
        make_request("off", model="claude-sonnet-5-5"),
    )
    thought, plain = message_of(results["adaptive"]), message_of(results["off"])

    assert [block.type for block in thought.content] == ["thinking", "text"]
    first = thought.content[0]
    assert first.type == "thinking" and first.signature and first.thinking
    details = thought.usage.output_tokens_details
    assert details is not None and details.thinking_tokens > 0
    assert thought.usage.output_tokens == details.thinking_tokens + plain.usage.output_tokens
    assert [block.type for block in plain.content] == ["text"]
    assert plain.usage.output_tokens_details is not None
    assert plain.usage.output_tokens_details.thinking_tokens == 0


@pytest.mark.parametrize("model", ["claude-fable-5-1", "claude-fable-5-2", "claude-opus-5-5"])
def test_models_that_always_think_think_unasked(client: anthropic.Anthropic, model: str) -> None:
    message = message_of(run(client, make_request("a", model=model))["a"])

    assert message.content[0].type == "thinking"
    assert message.usage.output_tokens_details is not None
    assert message.usage.output_tokens_details.thinking_tokens > 0


def test_higher_effort_thinks_more(client: anthropic.Anthropic) -> None:
    results = run(
        client,
        *(
            make_request(
                level, model="claude-opus-4-7", thinking={"type": "adaptive"}, output_config={"effort": level}
            )
            for level in ("low", "medium", "high", "xhigh", "max")
        ),
    )
    spent = []
    for level in ("low", "medium", "high", "xhigh", "max"):
        details = message_of(results[level]).usage.output_tokens_details
        assert details is not None
        spent.append(details.thinking_tokens)

    assert spent == sorted(spent) and len(set(spent)) == 5


def test_thinking_counts_toward_max_tokens(client: anthropic.Anthropic) -> None:
    results = run(
        client,
        make_request("starved", model="claude-opus-5-5", max_tokens=20),
        make_request("roomy", model="claude-opus-5-5"),
    )
    roomy = message_of(results["roomy"])
    assert roomy.usage.output_tokens_details is not None
    thinking = roomy.usage.output_tokens_details.thinking_tokens
    starved = message_of(results["starved"])
    squeezed = message_of(
        run(client, make_request("squeezed", model="claude-opus-5-5", max_tokens=thinking + 3))["squeezed"]
    )

    assert thinking > 20
    assert starved.stop_reason == "max_tokens"
    assert [block.type for block in starved.content] == ["thinking"]
    assert starved.usage.output_tokens == 20
    assert squeezed.stop_reason == "max_tokens"
    assert [block.type for block in squeezed.content] == ["thinking", "text"]
    assert squeezed.usage.output_tokens == thinking + 3
    assert answer_text(roomy).startswith(answer_text(squeezed))


def test_a_thinking_budget_caps_thinking_and_omitted_display_hides_it(client: anthropic.Anthropic) -> None:
    long_text = "Plenty of words to think about. " * 12_000  # enough input to think past the budget
    results = run(
        client,
        make_request(
            "budget",
            long_text,
            model="claude-sonnet-4-6",
            max_tokens=8000,
            thinking={"type": "enabled", "budget_tokens": 1024},
        ),
        make_request(
            "omitted", model="claude-sonnet-5-5", thinking={"type": "adaptive", "display": "omitted"}
        ),
    )
    budget, omitted = message_of(results["budget"]), message_of(results["omitted"])

    assert budget.usage.output_tokens_details is not None
    assert budget.usage.output_tokens_details.thinking_tokens == 1024
    block = omitted.content[0]
    assert block.type == "thinking" and block.thinking == "" and block.signature


def test_usage_always_has_cache_creation_thinking_details_and_the_batch_tier(
    client: anthropic.Anthropic,
) -> None:
    marked = {"type": "text", "text": "Rules. " * 1000, "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    results = run(
        client,
        make_request("plain"),
        make_request("cached", system=[marked]),
    )
    plain, cached = message_of(results["plain"]).usage, message_of(results["cached"]).usage

    assert plain.service_tier == cached.service_tier == "batch"
    assert plain.cache_creation is not None
    assert (
        plain.cache_creation.ephemeral_5m_input_tokens,
        plain.cache_creation.ephemeral_1h_input_tokens,
    ) == (0, 0)
    assert plain.output_tokens_details is not None
    assert cached.cache_creation is not None and cached.cache_creation_input_tokens
    assert cached.cache_creation.ephemeral_1h_input_tokens == cached.cache_creation_input_tokens
    assert cached.cache_creation.ephemeral_5m_input_tokens == 0


def test_a_structured_answer_is_json_valid_against_its_schema(client: anthropic.Anthropic) -> None:
    results = run(
        client,
        document_request("haiku", INVOICE_SCHEMA, model="claude-haiku-5-5"),
        document_request("opus", INVOICE_SCHEMA, model="claude-opus-5-5"),
    )

    for custom_id in ("haiku", "opus"):
        message = message_of(results[custom_id])
        answer = json.loads(answer_text(message))
        jsonschema.Draft202012Validator(INVOICE_SCHEMA).validate(answer)
        assert message.stop_reason == "end_turn"
        assert answer["title"] == "Acme annual note"
        assert answer["summary"] == "Acme Corp reported revenue of 12 million dollars in 2026."
        assert re.fullmatch(r"INV-[0-9]{6}", answer["reference"])
        assert set(answer["address"]) == {"city", "country"}
        assert all(
            word in DOCUMENT_TEXT + " Extract the fields." for word in answer["address"]["city"].split()
        )


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "array", "items": {"type": "integer"}},
        {"type": "string", "enum": ["a", "b"]},
        {
            "type": "object",
            "properties": {"n": {"type": ["number", "null"]}},
            "required": ["n"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "rows": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"k": {"type": "boolean"}},
                        "required": ["k"],
                        "additionalProperties": False,
                    },
                }
            },
            "required": ["rows"],
            "additionalProperties": False,
        },
    ],
)
def test_other_schema_shapes_get_valid_answers(client: anthropic.Anthropic, schema: dict[str, Any]) -> None:
    message = message_of(run(client, document_request("a", schema))["a"])

    jsonschema.Draft202012Validator(schema).validate(json.loads(answer_text(message)))


@pytest.mark.parametrize(
    ("fragment", "problem"),
    [
        ({"type": "integer", "minimum": 0}, "'minimum' is not supported"),
        ({"type": "string", "maxLength": 10}, "'maxLength' is not supported"),
        ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, "'oneOf' is not supported"),
        (
            {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "minItems: only 0 and 1 are supported",
        ),
        ({"type": "string", "enum": [{"a": 1}]}, "enum: only strings, numbers, booleans and null"),
        ({"type": "object", "additionalProperties": True}, "additionalProperties: only false is supported"),
        ({"$ref": "https://example.com/schema.json"}, "only local references"),
        ({"$ref": "#/$defs/node"}, "recursive schemas are not supported"),
        ({"type": "string", "pattern": "(a)\\1"}, "backreferences"),
        ({"type": "string", "format": "credit-card"}, "format: 'credit-card' is not supported"),
    ],
)
def test_unsupported_schema_features_end_errored(
    client: anthropic.Anthropic, fragment: dict[str, Any], problem: str
) -> None:
    schema = {
        "type": "object",
        "properties": {"field": fragment},
        "required": ["field"],
        "additionalProperties": False,
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"child": {"$ref": "#/$defs/node"}},
                "additionalProperties": False,
            }
        },
    }
    result = run(client, document_request("a", schema))["a"]

    assert result.type == "errored"
    assert result.error.error.type == "invalid_request_error"
    assert result.error.error.message.startswith("output_config.format.schema")
    assert problem in result.error.error.message


def test_a_model_without_structured_outputs_refuses_a_schema(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    emulator.update_config(
        model_overrides={"claude-haiku-4-5": {"capabilities": {"structured_outputs": {"supported": False}}}}
    )
    result = run(client, document_request("a", INVOICE_SCHEMA, model="claude-haiku-4-5"))["a"]

    assert result.type == "errored"
    assert (
        result.error.error.message
        == "output_config.format: structured outputs are not supported by claude-haiku-4-5"
    )
    capabilities = client.models.retrieve("claude-haiku-4-5").capabilities
    assert capabilities is not None and capabilities.pdf_input.supported  # the rest of the entry stays


def test_invalid_output_rate_makes_structured_answers_fail_their_schema(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    emulator.update_config(invalid_output_rate=1.0)
    results = run(
        client,
        document_request("object", INVOICE_SCHEMA),
        document_request("array", {"type": "array", "items": {"type": "string"}}),
        make_request("free-text"),
    )

    for custom_id, schema in (
        ("object", INVOICE_SCHEMA),
        ("array", {"type": "array", "items": {"type": "string"}}),
    ):
        answer = json.loads(answer_text(message_of(results[custom_id])))  # still JSON
        assert not jsonschema.Draft202012Validator(schema).is_valid(answer)
    assert answer_text(message_of(results["free-text"])).startswith("[emulated claude-haiku-4-5]")


def test_invalid_output_rate_is_deterministic_per_custom_id_and_fresh_per_attempt(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    emulator.update_config(invalid_output_rate=0.5, seed=7)
    ids = [f"doc-{index:02d}" for index in range(24)]

    def validity() -> dict[str, bool]:
        results = run(client, *(document_request(custom_id, INVOICE_SCHEMA) for custom_id in ids))
        validator = jsonschema.Draft202012Validator(INVOICE_SCHEMA)
        return {cid: validator.is_valid(json.loads(answer_text(message_of(r)))) for cid, r in results.items()}

    first, second = validity(), validity()

    assert 0 < sum(first.values()) < len(ids)
    assert first != second  # the second submission of each custom_id is a new attempt, a new draw
    emulator.update_config(invalid_output_rate=0.0)
    assert all(validity().values())


def test_max_tokens_cuts_a_structured_answer_into_invalid_json(client: anthropic.Anthropic) -> None:
    message = message_of(run(client, document_request("a", INVOICE_SCHEMA, max_tokens=20))["a"])

    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 20
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer_text(message))


def test_the_same_structured_request_gives_the_same_answer(client: anthropic.Anthropic) -> None:
    results = run(client, document_request("a", INVOICE_SCHEMA), document_request("b", INVOICE_SCHEMA))

    assert answer_text(message_of(results["a"])) == answer_text(message_of(results["b"]))
