"""Output schemas: the JSON Schemas that structured-output profiles name (``schemas/<name>.json``
or inline), checked against the structured-outputs subset before anything is submitted.
jsonschema loads when a schema is first checked, not at cold start."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from batchdrop.domain.keys import NAME_RE, SCHEMA_SUFFIX, SCHEMAS_PREFIX

# Keywords outside the structured-outputs subset (Claude docs, "JSON Schema limitations"):
# numerical and string-length constraints, array sizes beyond minItems 0 or 1.
_UNSUPPORTED_KEYWORDS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "maxItems",
    "minProperties",
    "maxProperties",
    "uniqueItems",
    "patternProperties",
    "if",
    "then",
    "else",
    "not",
)
_SUBSCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions")


class InvalidSchema(ValueError):
    """A JSON Schema that structured outputs cannot use; the message says where and why."""


def check_output_schema(schema: Mapping[str, Any]) -> None:
    """Refuse a schema that is not valid JSON Schema, or that leaves the structured-outputs subset:
    objects, arrays, strings, numbers, booleans, enums, required, nested objects, with
    ``additionalProperties: false`` on every object; no numerical or length constraints, no
    recursion, no remote ``$ref``."""
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(dict(schema))
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the schema"
        raise InvalidSchema(f"not a valid JSON Schema at {where}: {exc.message}") from None
    if schema.get("type") != "object":
        raise InvalidSchema('the top level must be {"type": "object", ...}: an answer is one JSON object')
    problems = list(_subset_problems(schema, "#"))
    if problems:
        raise InvalidSchema("; ".join(problems))


def _subset_problems(node: Any, where: str) -> Iterator[str]:
    if not isinstance(node, Mapping):
        return
    for keyword in _UNSUPPORTED_KEYWORDS:
        if keyword in node:
            yield f"{where}: {keyword!r} is not supported by structured outputs; describe it in the prompt"
    if "minItems" in node and node["minItems"] not in (0, 1):
        yield f"{where}: minItems may only be 0 or 1 in structured outputs"
    ref = node.get("$ref")
    if isinstance(ref, str):
        if not ref.startswith("#/"):
            yield f"{where}: $ref {ref!r} must point inside the schema (#/$defs/...)"
        elif where.startswith(ref) or ref == "#/":
            yield f"{where}: $ref {ref!r} makes the schema recursive, which structured outputs refuse"
    for enum_value in node.get("enum", []) if isinstance(node.get("enum"), list) else []:
        if isinstance(enum_value, (dict, list)):
            yield f"{where}: enum values must be strings, numbers, booleans or null"
            break
    kinds = node.get("type")
    is_object = kinds == "object" or (isinstance(kinds, list) and "object" in kinds) or "properties" in node
    if is_object and node.get("additionalProperties") is not False:
        yield f'{where}: an object needs "additionalProperties": false in structured outputs'
    for name in _SUBSCHEMA_MAPS:
        children = node.get(name)
        if isinstance(children, Mapping):
            for child_name, child in children.items():
                yield from _subset_problems(child, f"{where}/{name}/{child_name}")
    for name in _SUBSCHEMA_LISTS:
        children = node.get(name)
        if isinstance(children, list):
            for index, child in enumerate(children):
                yield from _subset_problems(child, f"{where}/{name}/{index}")
    if isinstance(node.get("items"), Mapping):
        yield from _subset_problems(node["items"], f"{where}/items")


def read_schemas(files: Mapping[str, bytes]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The usable ``schemas/<name>.json`` of ``{key: body}`` by name, and why each other is not."""
    usable: dict[str, dict[str, Any]] = {}
    broken: dict[str, str] = {}
    for key, body in files.items():
        if not key.startswith(SCHEMAS_PREFIX) or not key.endswith(SCHEMA_SUFFIX):
            continue
        name = key[len(SCHEMAS_PREFIX) : -len(SCHEMA_SUFFIX)]
        if not NAME_RE.match(name):
            continue
        try:
            schema = json.loads(body.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            broken[name] = f"{key} is not JSON: {exc}"
            continue
        if not isinstance(schema, dict):
            broken[name] = f"{key} must hold a JSON Schema object"
            continue
        try:
            check_output_schema(schema)
        except InvalidSchema as exc:
            broken[name] = f"{key}: {exc}"
            continue
        usable[name] = schema
    return usable, broken
