"""The schema subset, the generated answers and the spoiled ones, without HTTP."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest

from batchdrop_local.emulator.structured import Source, check_schema, generate, pattern_example, spoil

from .test_thinking_and_schemas import INVOICE_SCHEMA

SOURCE = Source(
    title="T", summary="S.", words=["one", "two", "three", "four", "five", "six"], word_count=6, seed="x"
)


@pytest.mark.parametrize(
    "pattern",
    [r"^[A-Z]{3}-\d{4}$", r"^(foo|bar)+x?$", r"[^abc]\w+@\w+\.com", r"\d{2,5}", r"^\s*[a-z]+$", r"a*"],
)
def test_pattern_examples_match_their_pattern(pattern: str) -> None:
    assert re.search(pattern, pattern_example(pattern))


@pytest.mark.parametrize(
    "schema",
    [
        INVOICE_SCHEMA,
        {"type": "string"},
        {"type": "integer"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": ["string", "null"]},
        {"type": "array", "items": {"type": "number"}},
        {"enum": ["x", "y"]},
        {"type": "object", "properties": {}, "additionalProperties": False},
    ],
)
def test_generated_values_are_valid_and_spoiled_ones_are_not(schema: dict[str, Any]) -> None:
    assert check_schema(schema) == ""
    value = generate(schema, SOURCE)
    validator = jsonschema.Draft202012Validator(schema)

    assert validator.is_valid(value)
    assert not validator.is_valid(spoil(value, schema))


def test_problems_name_the_path() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "array", "items": {"type": "integer", "maximum": 3}}},
    }

    assert (
        check_schema(schema) == ".properties.a.items: 'maximum' is not supported in structured output schemas"
    )
    assert check_schema({"type": "object", "required": ["b"], "properties": {}}).startswith(".required:")
