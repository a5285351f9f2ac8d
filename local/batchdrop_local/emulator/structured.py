"""Structured outputs: which JSON Schemas the API takes, and an answer built to match one.

Supported (per the structured-outputs docs and what public schema converters for it list):
types object, array, string, number, integer, boolean, null (or a list of them); properties,
required, `additionalProperties: false`; items; minItems 0 or 1; enum of primitives; const;
anyOf; allOf; local $ref into $defs / definitions (not recursive); format (date-time, date,
time, duration, email, hostname, uri, uuid, ipv4, ipv6); pattern without backreferences or
lookaround; description, title, default, examples. Everything else (numeric and length bounds,
maxItems, oneOf, not, if/then/else, external or recursive $ref, ...) is refused.

`generate` builds a value valid against a checked schema from what the request said (its title,
summary and words); `spoil` turns it into one that is still JSON but fails the schema.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

try:  # Python 3.11 keeps the regex parser here; 3.12 too, with sre_parse a deprecated alias
    import re._parser as _sre_parse  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    import sre_parse as _sre_parse

TYPES = ("object", "array", "string", "number", "integer", "boolean", "null")
FORMATS = {
    "date-time": "2026-11-30T12:00:00Z",
    "date": "2026-11-30",
    "time": "12:00:00",
    "duration": "P1D",
    "email": "reader@example.com",
    "hostname": "example.com",
    "uri": "https://example.com/emulated",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
}
_ANNOTATIONS = {"description", "title", "default", "examples", "$comment", "$schema", "$id"}
_KEYWORDS = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "enum",
    "const",
    "anyOf",
    "allOf",
    "$ref",
    "$defs",
    "definitions",
    "format",
    "pattern",
    *_ANNOTATIONS,
}
_LOOKAROUND = re.compile(r"\(\?[=!<]|\\[1-9]|\\b|\\B|\(\?P=")
_MAX_REPEAT = 4


def check_schema(schema: dict[str, Any]) -> str:
    """The empty string for a schema the API takes, else the problem as ".path: what is wrong"."""
    try:
        _Checker(schema).check(schema, "", ())
    except _SchemaProblem as problem:
        return str(problem)
    return ""


class _SchemaProblem(Exception):
    pass


class _Checker:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def check(self, schema: Any, path: str, refs: tuple[str, ...]) -> None:
        if isinstance(schema, bool):
            raise _SchemaProblem(f"{path}: boolean schemas are not supported; give an object")
        if not isinstance(schema, dict):
            raise _SchemaProblem(f"{path}: a schema must be an object")
        for keyword in schema:
            if keyword not in _KEYWORDS:
                raise _SchemaProblem(f"{path}: '{keyword}' is not supported in structured output schemas")
        if "$ref" in schema:
            self._check_ref(schema["$ref"], path, refs)
        kinds = schema.get("type")
        if kinds is not None:
            names = kinds if isinstance(kinds, list) else [kinds]
            if not names or any(name not in TYPES for name in names):
                raise _SchemaProblem(f"{path}.type: must be one of {', '.join(TYPES)} (or a list of them)")
        if "additionalProperties" in schema and schema["additionalProperties"] is not False:
            raise _SchemaProblem(f"{path}.additionalProperties: only false is supported")
        if "minItems" in schema and schema["minItems"] not in (0, 1):
            raise _SchemaProblem(f"{path}.minItems: only 0 and 1 are supported")
        if "enum" in schema:
            values = schema["enum"]
            if not isinstance(values, list) or not values:
                raise _SchemaProblem(f"{path}.enum: must be a non-empty list")
            if any(isinstance(value, dict | list) for value in values):
                raise _SchemaProblem(f"{path}.enum: only strings, numbers, booleans and null are supported")
        if "format" in schema and schema["format"] not in (*FORMATS, "uuid"):
            raise _SchemaProblem(f"{path}.format: '{schema['format']}' is not supported")
        if "pattern" in schema:
            pattern = schema["pattern"]
            if not isinstance(pattern, str) or _LOOKAROUND.search(pattern):
                raise _SchemaProblem(
                    f"{path}.pattern: backreferences, lookaround and word boundaries are not supported"
                )
            try:
                re.compile(pattern)
            except re.error as exc:
                raise _SchemaProblem(f"{path}.pattern: not a valid regular expression ({exc})") from None
        required = schema.get("required", [])
        properties = schema.get("properties", {})
        if not isinstance(properties, dict):
            raise _SchemaProblem(f"{path}.properties: must be an object")
        if not isinstance(required, list) or any(name not in properties for name in required):
            raise _SchemaProblem(f"{path}.required: must list names found in properties")
        for name, sub in properties.items():
            self.check(sub, f"{path}.properties.{name}", refs)
        if "items" in schema:
            self.check(schema["items"], f"{path}.items", refs)
        for keyword in ("anyOf", "allOf"):
            if keyword in schema:
                branches = schema[keyword]
                if not isinstance(branches, list) or not branches:
                    raise _SchemaProblem(f"{path}.{keyword}: must be a non-empty list of schemas")
                for index, branch in enumerate(branches):
                    self.check(branch, f"{path}.{keyword}.{index}", refs)
        for keyword in ("$defs", "definitions"):
            if keyword in schema and path == "":
                for name, sub in schema[keyword].items():
                    self.check(sub, f".{keyword}.{name}", ())

    def _check_ref(self, ref: Any, path: str, refs: tuple[str, ...]) -> None:
        if not isinstance(ref, str) or not re.fullmatch(r"#/(\$defs|definitions)/[^/]+", ref):
            raise _SchemaProblem(
                f"{path}.$ref: only local references into $defs or definitions are supported"
            )
        if ref in refs:
            raise _SchemaProblem(f"{path}.$ref: recursive schemas are not supported")
        target = resolve(self.root, ref)
        if target is None:
            raise _SchemaProblem(f"{path}.$ref: {ref} is not defined")
        self.check(target, f"{path}.$ref", (*refs, ref))


def resolve(root: dict[str, Any], ref: str) -> Any:
    """The schema a local $ref names, or None."""
    _, section, name = ref.split("/", 2)
    definitions = root.get(section)
    return definitions.get(name) if isinstance(definitions, dict) else None


@dataclass
class Source:
    """What the answer may quote: the document's title, a summary and the words it was given."""

    title: str | None
    summary: str
    words: list[str]
    word_count: int
    seed: str
    attachments: int = 0
    _uses: dict[str, int] = field(default_factory=dict)

    def draw(self, path: str, modulo: int) -> int:
        digest = hashlib.sha256(f"{self.seed}\0{path}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % max(1, modulo)

    def phrase(self, path: str) -> str:
        if not self.words:
            return "emulated"
        start = self.draw(path, len(self.words))
        return " ".join(self.words[start : start + 2 + self.draw(path + "#n", 5)])


def generate(schema: dict[str, Any], source: Source) -> Any:
    """A value valid against `schema` (one `check_schema` accepted), built from `source`."""
    return _Generator(schema, source).value(schema, "", "")


class _Generator:
    def __init__(self, root: dict[str, Any], source: Source) -> None:
        self.root = root
        self.source = source

    def value(self, schema: dict[str, Any], path: str, name: str) -> Any:
        if "$ref" in schema:
            return self.value(resolve(self.root, schema["$ref"]), path, name)
        if "allOf" in schema:
            return self.value(_merge_all(self.root, schema), path, name)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][self.source.draw(path, len(schema["enum"]))]
        if "anyOf" in schema:
            branches = schema["anyOf"]
            concrete = [b for b in branches if _resolved(self.root, b).get("type") != "null"] or branches
            return self.value(concrete[0], path, name)
        kinds = schema.get("type")
        names = kinds if isinstance(kinds, list) else [kinds] if kinds else []
        kind = next((k for k in names if k != "null"), names[0] if names else _implied_type(schema))
        make: dict[str, Callable[[], Any]] = {
            "object": lambda: self.object(schema, path),
            "array": lambda: self.array(schema, path, name),
            "string": lambda: self.string(schema, path, name),
            "integer": lambda: self.integer(path, name),
            "number": lambda: self.integer(path, name) + self.source.draw(path + "#f", 100) / 100,
            "boolean": lambda: self.source.draw(path, 2) == 1,
            "null": lambda: None,
        }
        return make[kind]()

    def object(self, schema: dict[str, Any], path: str) -> dict[str, Any]:
        properties = schema.get("properties", {})
        return {key: self.value(sub, f"{path}.{key}", key) for key, sub in properties.items()}

    def array(self, schema: dict[str, Any], path: str, name: str) -> list[Any]:
        items = schema.get("items", {"type": "string"})
        count = 1 + self.source.draw(path + "#len", 3)
        return [self.value(items, f"{path}[{index}]", name) for index in range(count)]

    def string(self, schema: dict[str, Any], path: str, name: str) -> str:
        if schema.get("format") == "uuid":
            return str(uuid.UUID(bytes=hashlib.sha256(f"{self.source.seed}{path}".encode()).digest()[:16]))
        if "format" in schema:
            return FORMATS[schema["format"]]
        if "pattern" in schema:
            return pattern_example(schema["pattern"])
        lowered = name.lower()
        if "title" in lowered or lowered in ("name", "subject", "heading", "headline"):
            return self.source.title or self.source.phrase(path)
        if any(word in lowered for word in ("summary", "description", "abstract", "text")):
            return self.source.summary
        return self.source.phrase(path)

    def integer(self, path: str, name: str) -> int:
        lowered = name.lower()
        if "word" in lowered or "count" in lowered or lowered in ("length", "size", "total"):
            return self.source.word_count
        if "attachment" in lowered:
            return self.source.attachments
        return self.source.draw(path, 100)


def _resolved(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    return resolve(root, schema["$ref"]) if "$ref" in schema else schema


def _merge_all(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {key: value for key, value in schema.items() if key != "allOf"}
    for branch in schema["allOf"]:
        branch = _resolved(root, branch)
        if "allOf" in branch:
            branch = _merge_all(root, branch)
        for key, value in branch.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged.setdefault(key, value)
    return merged


def _implied_type(schema: dict[str, Any]) -> str:
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def spoil(value: Any, schema: dict[str, Any]) -> Any:
    """A JSON value that fails `schema`: a required field dropped, else a value of the wrong type."""
    target = _resolved(schema, schema)
    if "allOf" in target:
        target = _merge_all(schema, target)
    required = target.get("required") or []
    if isinstance(value, dict) and required:
        return {key: item for key, item in value.items() if key != required[0]}
    kinds = target.get("type")
    allowed = set(kinds if isinstance(kinds, list) else [kinds] if kinds else [_implied_type(target)])
    if "number" in allowed:
        allowed.add("integer")
    candidates: tuple[Any, ...] = ([], "not the requested type", 0, {}, None)
    # A schema that allows every type cannot be failed by type; such schemas carry no "type".
    return next((wrong for wrong in candidates if _json_type(wrong) not in allowed), [])


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, str):
        return "string"
    return "integer"


def pattern_example(pattern: str) -> str:
    """A string that `re.search(pattern, ...)` matches (patterns check_schema accepted)."""
    text = "".join(_emit(_sre_parse.parse(pattern)))
    return text if re.search(pattern, text) else ""


def _emit(parsed: Any) -> list[str]:
    out: list[str] = []
    for op, arg in parsed:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if chr(arg) != "a" else "b")
        elif name == "ANY":
            out.append("x")
        elif name == "IN":
            out.append(_class_member(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            count = max(low, min(high, 1)) if high != _sre_parse.MAXREPEAT else max(low, 1)
            for _ in range(min(count, max(low, _MAX_REPEAT))):
                out.extend(_emit(sub))
        elif name == "SUBPATTERN":
            out.extend(_emit(arg[-1]))
        elif name == "BRANCH":
            out.extend(_emit(arg[1][0]))
        elif name == "CATEGORY":
            out.append(_category(str(arg)))
        elif name == "ATOMIC_GROUP":
            out.extend(_emit(arg))
        # AT (anchors) emit nothing
    return out


def _class_member(items: Any) -> str:
    negate = False
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif negate:
            continue
        elif name == "LITERAL":
            return chr(arg)
        elif name == "RANGE":
            return chr(arg[0])
        elif name == "CATEGORY":
            return _category(str(arg))
    if negate:
        excluded = {chr(arg) for op, arg in items if str(op) == "LITERAL"}
        return next(c for c in "aZ0_-" if c not in excluded)
    return "a"


def _category(name: str) -> str:
    return {
        "CATEGORY_DIGIT": "0",
        "CATEGORY_NOT_DIGIT": "a",
        "CATEGORY_SPACE": " ",
        "CATEGORY_NOT_SPACE": "a",
        "CATEGORY_WORD": "a",
        "CATEGORY_NOT_WORD": "-",
    }.get(name, "a")
