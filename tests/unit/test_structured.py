"""structured: checking a schema profile's answer, and asking again with the errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batchdrop.domain.structured import (
    MAX_REPORTED_ERRORS,
    AnswerCheck,
    Feedback,
    SchemaCache,
    SchemaUnusable,
    check_answer,
    feedback_prompt,
    validator_of,
    with_feedback,
)

RECEIPT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["merchant", "total", "items"],
    "properties": {
        "merchant": {"type": "string"},
        "total": {"type": "number"},
        "currency": {"type": "string", "enum": ["EUR", "USD"]},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "price"],
                "properties": {"name": {"type": "string"}, "price": {"type": "number"}},
            },
        },
    },
}
VALID = {
    "merchant": "Café Ribeira",
    "total": 7.5,
    "currency": "EUR",
    "items": [{"name": "bica", "price": 1.2}],
}


def _check(answer: Any, stop_reason: str = "end_turn", schema: dict[str, Any] = RECEIPT) -> AnswerCheck:
    text = answer if isinstance(answer, str) else json.dumps(answer)
    return check_answer(text, stop_reason, validator_of(schema, "schemas/receipt.json"))


# --- check_answer -------------------------------------------------------------------------------


def test_a_valid_answer_gives_its_value() -> None:
    check = _check(VALID)
    assert check.valid and check.errors == () and check.error_count == 0
    assert check.value == VALID


def test_a_fenced_answer_is_still_read() -> None:
    assert _check("```json\n" + json.dumps(VALID) + "\n```").value == VALID


def test_schema_errors_name_their_json_paths_in_document_order() -> None:
    answer = {
        "merchant": 12,
        "total": "7.50",
        "currency": "GBP",
        "items": [{"name": "bica", "price": 1.2}, {"name": "pastel"}],
        "note": "x",
    }
    check = _check(answer)
    assert not check.valid and check.value is None
    assert check.errors == (
        "$: Additional properties are not allowed ('note' was unexpected)",
        "$.currency: 'GBP' is not one of ['EUR', 'USD']",
        "$.items[1]: 'price' is a required property",
        "$.merchant: 12 is not of type 'string'",
        "$.total: '7.50' is not of type 'number'",
    )
    assert check.error_count == 5 and check.kind == "invalid_output"


def test_invalid_json_is_one_error_at_the_root() -> None:
    check = _check('{"merchant": "Café", "total": 7.5,')
    assert check.errors == (
        "$: not valid JSON (Expecting property name enclosed in double quotes at line 1 column 35)",
    )
    assert not check.valid and check.kind == "invalid_output"


def test_an_answer_cut_off_by_max_tokens_is_never_valid() -> None:
    # Given an answer that happens to parse and match, but the model was stopped by max_tokens
    check = _check(VALID, stop_reason="max_tokens")
    assert not check.valid and check.cut_off and check.kind == "max_tokens"
    assert check.errors == ("$: the answer was cut off by max_tokens before it was complete",)
    assert check.value is None
    # And one cut in the middle reports the cut and the broken JSON
    cut = _check('{"merchant": "Caf', stop_reason="max_tokens")
    assert cut.error_count == 2 and cut.errors[0].startswith("$: the answer was cut off")


def test_errors_reported_are_capped_and_counted() -> None:
    schema = {"type": "array", "items": {"type": "integer"}}
    check = _check(["x"] * 50, schema=schema)
    assert len(check.errors) == MAX_REPORTED_ERRORS and check.error_count == 50
    assert check.errors[0] == "$[0]: 'x' is not of type 'integer'"
    assert "(and 47 more)" in check.describe()


def test_a_long_offending_value_is_cut_in_the_message() -> None:
    check = _check({**VALID, "merchant": ["y" * 2000]})
    (error,) = check.errors
    assert error.startswith("$.merchant: ['yyy") and error.endswith("...") and len(error) < 400


def test_the_schema_draft_is_taken_from_dollar_schema() -> None:
    # Draft 4's exclusiveMaximum is a boolean; under 2020-12 that would be an invalid schema.
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "number",
        "maximum": 5,
        "exclusiveMaximum": True,
    }
    assert not _check(5, schema=draft4).valid
    assert _check(4, schema=draft4).valid


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "objekt"}, "is not a valid JSON Schema"),
        (["not", "a", "schema"], "is not a JSON Schema (an object): got list"),
    ],
)
def test_a_broken_schema_is_refused_with_its_key(schema: Any, message: str) -> None:
    with pytest.raises(SchemaUnusable, match=r"schemas/receipt\.json") as raised:
        validator_of(schema, "schemas/receipt.json")
    assert message in str(raised.value)


# --- the schema cache ---------------------------------------------------------------------------


def test_each_schema_is_loaded_once() -> None:
    loads: list[str] = []

    def load(key: str) -> Any:
        loads.append(key)
        return RECEIPT

    cache = SchemaCache(load)
    first = cache.validator("jobs/j/schemas/extract.json")
    assert cache.validator("jobs/j/schemas/extract.json") is first
    cache.validator("jobs/j/schemas/other.json")
    assert loads == ["jobs/j/schemas/extract.json", "jobs/j/schemas/other.json"]


def test_a_missing_schema_copy_says_which_and_why_it_matters() -> None:
    cache = SchemaCache(lambda key: None)
    with pytest.raises(SchemaUnusable, match=r"jobs/j/schemas/extract.json, is missing"):
        cache.validator("jobs/j/schemas/extract.json")


# --- feedback -----------------------------------------------------------------------------------


def _request(content: Any = "Extract the receipt.") -> dict[str, Any]:
    return {
        "custom_id": "doc-1",
        "params": {
            "model": "claude-sonnet-5-5",
            "max_tokens": 1024,
            "output_config": {"format": {"type": "json_schema", "schema": RECEIPT}},
            "messages": [{"role": "user", "content": content}],
        },
    }


def test_feedback_lists_every_reported_error_and_what_to_send() -> None:
    check = _check({"merchant": 1, "total": 2, "items": []})
    prompt = feedback_prompt(check)
    assert prompt.splitlines() == [
        "Your previous answer does not match the required JSON Schema. These are the problems (JSON path: problem):",
        "- $.merchant: 1 is not of type 'string'",
        "Answer again with only a JSON document that matches the schema, fixing every problem listed, "
        "and no other text.",
    ]


def test_feedback_says_how_many_errors_were_left_out() -> None:
    check = _check(["x"] * 25, schema={"type": "array", "items": {"type": "integer"}})
    lines = feedback_prompt(check).splitlines()
    assert len([line for line in lines if line.startswith("- $")]) == MAX_REPORTED_ERRORS
    assert "- ... and 5 more" in lines


def test_feedback_for_a_cut_off_answer_asks_for_a_shorter_one() -> None:
    prompt = feedback_prompt(_check('{"merchant": "Caf', stop_reason="max_tokens"))
    assert "cut off by the max_tokens limit" in prompt and "more concisely" in prompt


def test_the_request_asked_again_keeps_its_params_and_adds_the_answer_and_the_errors() -> None:
    check = _check({"merchant": 1, "total": 2, "items": []})
    request = _request()

    again = with_feedback(request, Feedback.of("doc-1", check))

    # The original params are untouched (the same model, schema, max_tokens)
    assert request["params"]["messages"] == [{"role": "user", "content": "Extract the receipt."}]
    assert {k: v for k, v in again["params"].items() if k != "messages"} == {
        k: v for k, v in request["params"].items() if k != "messages"
    }
    assert again["custom_id"] == "doc-1"
    user, assistant, feedback = again["params"]["messages"]
    assert user == request["params"]["messages"][0]
    assert assistant == {"role": "assistant", "content": [{"type": "text", "text": check.text}]}
    assert feedback == {"role": "user", "content": [{"type": "text", "text": feedback_prompt(check)}]}


def test_a_second_round_keeps_the_first() -> None:
    first = with_feedback(_request(), Feedback("doc-1", '{"total": "x"}', "first errors"))
    second = with_feedback(first, Feedback("doc-1", '{"total": "y"}', "second errors"))
    roles = [m["role"] for m in second["params"]["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    assert second["params"]["messages"][-1]["content"][0]["text"] == "second errors"


def test_an_empty_answer_adds_the_errors_to_the_last_user_turn() -> None:
    # The API refuses an empty text block, so an answer that was all thinking is no assistant turn.
    again = with_feedback(_request("Extract the receipt."), Feedback("doc-1", "  ", "cut off"))
    (user,) = again["params"]["messages"]
    assert user == {
        "role": "user",
        "content": [{"type": "text", "text": "Extract the receipt."}, {"type": "text", "text": "cut off"}],
    }


def test_feedback_survives_its_json_round_trip() -> None:
    feedback = Feedback.of("doc-1", _check({"total": "x"}))
    assert Feedback.from_json(json.loads(json.dumps(feedback.to_json()))) == feedback
