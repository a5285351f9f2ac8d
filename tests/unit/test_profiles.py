"""profiles: the catalog, the default profile and UnknownProfile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batchdrop.domain.profiles import (
    DEFAULT_PROFILE,
    Profile,
    ProfileCatalog,
    UnknownProfile,
)
from batchdrop.domain.schemas import InvalidSchema, check_output_schema
from batchdrop.settings import DefaultProfileSettings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = DefaultProfileSettings(
    model="claude-haiku-4-5", max_tokens=1024, instruction="Summarise.", system_prompt="Be brief."
)
SUMMARIZE = Profile(name="summarize", model="claude-sonnet-4-6", max_tokens=2048, instruction="Summarise.")
EXTRACT = Profile(
    name="extract", model="claude-opus-4-5", max_tokens=4096, instruction="Extract.", output_format="json"
)


def test_with_default_builds_default_profile() -> None:
    catalog = ProfileCatalog.with_default(DEFAULTS)
    assert catalog.names() == ["default"]
    assert catalog.get(DEFAULT_PROFILE) == Profile(
        name="default",
        model="claude-haiku-4-5",
        max_tokens=1024,
        instruction="Summarise.",
        system_prompt="Be brief.",
        output_format="markdown",
    )


def test_get_known_profiles() -> None:
    catalog = ProfileCatalog([SUMMARIZE, EXTRACT])
    assert catalog.get("summarize") is SUMMARIZE
    assert catalog.get("extract") is EXTRACT
    assert catalog.names() == ["extract", "summarize"]


def test_later_profile_with_same_name_wins() -> None:
    replacement = Profile(name="summarize", model="claude-haiku-4-5", max_tokens=10, instruction="x")
    assert ProfileCatalog([SUMMARIZE, replacement]).get("summarize") is replacement


@pytest.mark.parametrize("name", ["summarise", "Summarize", "default", ""])
def test_unknown_profile_lists_the_profiles(name: str) -> None:
    catalog = ProfileCatalog([SUMMARIZE, EXTRACT])
    with pytest.raises(UnknownProfile) as info:
        catalog.get(name)
    assert str(info.value) == f"no profile named {name!r}; profiles are: extract, summarize"
    assert info.value.name == name
    assert info.value.known == ["extract", "summarize"]


def test_unknown_profile_is_a_lookup_error() -> None:
    assert isinstance(UnknownProfile("x", ["b", "a"]), LookupError)
    assert UnknownProfile("x", ["b", "a"]).known == ["a", "b"]


@pytest.mark.parametrize(
    ("output_format", "suffix"), [("markdown", ".md"), ("json", ".json"), ("text", ".md"), ("JSON", ".md")]
)
def test_result_suffix(output_format: str, suffix: str) -> None:
    profile = Profile(name="p", model="m", max_tokens=1, instruction="i", output_format=output_format)
    assert profile.result_suffix == suffix


# --- profile files ------------------------------------------------------------------------------

from batchdrop.domain.profiles import InvalidProfile  # noqa: E402


def _catalog(files: dict[str, str]) -> ProfileCatalog:
    return ProfileCatalog.from_files(DEFAULTS, {k: v.encode() for k, v in files.items()})


def test_profile_files_in_json_and_yaml_fill_gaps_from_the_default() -> None:
    catalog = _catalog(
        {
            "profiles/summarize.yaml": "model: claude-haiku-4-5\nmax_tokens: 300\ninstruction: Three bullets on ${name}.\n",
            "profiles/extract.json": '{"model": "claude-sonnet-4-6", "output_format": "json", "instruction": "Extract."}',
            "profiles/README.txt": "not a profile",
        }
    )
    assert catalog.names() == ["default", "extract", "summarize"]
    summarize = catalog.get("summarize")
    assert (summarize.model, summarize.max_tokens, summarize.system_prompt) == (
        "claude-haiku-4-5",
        300,
        DEFAULTS.system_prompt,
    )
    extract = catalog.get("extract")
    assert (extract.max_tokens, extract.output_format, extract.result_suffix) == (
        DEFAULTS.max_tokens,
        "json",
        ".json",
    )


def test_a_default_profile_file_overrides_the_stack_default_and_others_build_on_it() -> None:
    catalog = _catalog(
        {"profiles/default.json": '{"model": "claude-sonnet-4-6"}', "profiles/a.json": '{"max_tokens": 5}'}
    )
    assert catalog.get("default").model == "claude-sonnet-4-6"
    assert catalog.get("a").model == "claude-sonnet-4-6"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"profiles/x.json": '{"modle": "claude-haiku-4-5"}'},
            "profiles/x.json: modle: Extra inputs are not permitted",
        ),
        (
            {"profiles/x.json": '{"max_tokens": 0}'},
            "profiles/x.json: max_tokens: Input should be greater than or equal to 1",
        ),
        (
            {"profiles/x.json": '{"temperature": 0}'},
            "profiles/x.json: temperature: removed in Claude API version 2026-10-21 (requests carrying "
            "temperature, top_p or top_k fail); steer with effort (low|medium|high|xhigh|max) and the "
            "prompt instead",
        ),
        ({"profiles/x.yaml": "top_p: 0.9\ntop_k: 5"}, "top_p: removed in Claude API version 2026-10-21"),
        ({"profiles/x.yaml": "top_k: 5"}, "top_k: removed in Claude API version 2026-10-21"),
        ({"profiles/x.json": '{"effort": "extreme"}'}, "effort: Input should be 'low', 'medium', 'high'"),
        (
            {"profiles/x.json": '{"thinking": {"type": "enabled", "budget_tokens": 10}}'},
            'thinking: Value error, must be "adaptive", "disabled", or {"type": "enabled"',
        ),
        (
            {"profiles/x.json": '{"output_schema": "missing"}'},
            "output_schema 'missing' names schemas/missing.json, which is not in the bucket",
        ),
        (
            {"profiles/x.json": '{"output_schema": {"type": "object", "properties": {}}}'},
            'an object needs "additionalProperties": false',
        ),
        (
            {"profiles/x.json": '{"output_schema": {"type": "string"}}'},
            "the top level must be",
        ),
        (
            {"profiles/x.json": '{"output_schema": {"type": "object", "required": 5}}'},
            "not a valid JSON Schema at required",
        ),
        (
            {"profiles/x.json": '{"output_schema": "s"}', "schemas/s.json": '{"type": "object"}'},
            "output_schema 's' cannot be used: schemas/s.json: #: an object needs",
        ),
        (
            {
                "profiles/x.json": '{"output_schema": "s", "output_format": "markdown"}',
                "schemas/s.json": "{}",
            },
            "output_format 'markdown' cannot go with output_schema",
        ),
        (
            {"profiles/x.json": '{"output_format": "xml"}'},
            "output_format: Input should be 'markdown', 'text' or 'json'",
        ),
        ({"profiles/x.json": "{not json"}, "profiles/x.json: not valid JSON"),
        ({"profiles/x.yaml": "model: [unclosed"}, "profiles/x.yaml: not valid YAML"),
        ({"profiles/x.yaml": "- a list"}, "must hold a mapping of profile fields, not list"),
        ({"profiles/x.json": '{"instruction": "Use ${title}."}'}, "uses unknown placeholder(s) ['title']"),
        ({"profiles/x.json": '{"instruction": "Costs $5."}'}, "has a '$' that is not a placeholder"),
        (
            {"profiles/x.json": "{}", "profiles/x.yaml": "{}"},
            "is defined twice (profiles/x.json, profiles/x.yaml)",
        ),
    ],
)
def test_an_invalid_profile_names_the_file_and_the_problem(files: dict[str, str], message: str) -> None:
    catalog = _catalog({**files, "profiles/good.json": "{}"})
    with pytest.raises(InvalidProfile) as caught:
        catalog.get("x")
    assert str(caught.value).startswith("profile 'x' ")
    assert message in str(caught.value)
    assert catalog.get("good").name == "good"  # one bad file spoils only its own profile


def test_a_profile_file_that_is_not_utf8_is_invalid() -> None:
    catalog = ProfileCatalog.from_files(DEFAULTS, {"profiles/x.json": b'{"model": "\xff"}'})
    with pytest.raises(InvalidProfile, match="is not UTF-8 text"):
        catalog.get("x")


def test_an_unknown_profile_lists_the_valid_and_invalid_names() -> None:
    catalog = _catalog({"profiles/a.json": "{}"})
    with pytest.raises(UnknownProfile, match="no profile named 'b'; profiles are: a, default"):
        catalog.get("b")


# --- workflows ----------------------------------------------------------------------------------


def test_a_workflow_chain_is_accepted() -> None:
    catalog = _catalog(
        {
            "profiles/draft.json": '{"model": "claude-opus-4-5", "next": "check"}',
            "profiles/check.json": '{"model": "claude-haiku-4-5", "next": "rewrite"}',
            "profiles/rewrite.json": '{"model": "claude-sonnet-4-6"}',
        }
    )
    assert [catalog.get(n).next for n in ("draft", "check", "rewrite")] == ["check", "rewrite", None]


@pytest.mark.parametrize(
    ("files", "name", "message"),
    [
        ({"profiles/a.json": '{"next": "a"}'}, "a", "its workflow has a cycle (a -> a)"),
        (
            {
                "profiles/a.json": '{"next": "b"}',
                "profiles/b.json": '{"next": "c"}',
                "profiles/c.json": '{"next": "b"}',
            },
            "a",
            "its workflow has a cycle (b -> c -> b)",
        ),
        ({"profiles/a.json": '{"next": "nowhere"}'}, "a", "its next profile 'nowhere' does not exist"),
        (
            {"profiles/a.json": '{"next": "b"}', "profiles/b.json": '{"bad": 1}'},
            "a",
            "its next profile 'b' is invalid",
        ),
    ],
)
def test_a_broken_workflow_is_refused_before_anything_is_submitted(
    files: dict[str, str], name: str, message: str
) -> None:
    catalog = _catalog(files)
    with pytest.raises(InvalidProfile) as caught:
        catalog.get(name)
    assert message in str(caught.value)


def test_a_cached_instruction_may_not_vary_per_document() -> None:
    catalog = _catalog(
        {"profiles/x.json": '{"instruction": "Summarise ${name}.", "cache_instruction": true}'}
    )
    with pytest.raises(InvalidProfile, match="cache_instruction needs an instruction without"):
        catalog.get("x")


SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"n": {"type": "number"}},
                "required": ["n"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["title", "items"],
    "additionalProperties": False,
}


def test_a_schema_named_by_a_profile_is_read_from_schemas_and_answers_are_json() -> None:
    catalog = _catalog(
        {
            "profiles/x.yaml": "output_schema: facts\neffort: medium\nthinking: adaptive",
            "schemas/facts.json": json.dumps(SCHEMA),
        }
    )
    profile = catalog.get("x")
    assert profile.output_schema == SCHEMA
    assert profile.schema_name == "facts"
    assert profile.output_format == "json" and profile.result_suffix == ".json"
    assert profile.output_config() == {
        "format": {"type": "json_schema", "schema": SCHEMA},
        "effort": "medium",
    }
    assert profile.thinking == {"type": "adaptive"}
    assert profile.system_blocks() == "Be brief."  # no JSON reminder: the API answers JSON itself


def test_an_inline_schema_and_older_models_manual_thinking_are_accepted() -> None:
    catalog = _catalog(
        {
            "profiles/x.json": json.dumps(
                {"output_schema": SCHEMA, "thinking": {"type": "enabled", "budget_tokens": 2048}}
            )
        }
    )
    profile = catalog.get("x")
    assert profile.output_schema == SCHEMA and profile.schema_name is None
    assert profile.thinking == {"type": "enabled", "budget_tokens": 2048}


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({**SCHEMA, "properties": {"n": {"type": "number", "minimum": 0}}}, "#/properties/n: 'minimum'"),
        ({**SCHEMA, "properties": {"s": {"type": "string", "maxLength": 5}}}, "'maxLength' is not supported"),
        ({**SCHEMA, "properties": {"a": {"type": "array", "minItems": 2}}}, "minItems may only be 0 or 1"),
        (
            {**SCHEMA, "properties": {"r": {"$ref": "https://x.example/s.json"}}},
            "must point inside the schema",
        ),
        (
            {
                **SCHEMA,
                "$defs": {
                    "node": {
                        "type": "object",
                        "properties": {"kids": {"$ref": "#/$defs/node"}},
                        "additionalProperties": False,
                    }
                },
            },
            "makes the schema recursive",
        ),
        ({**SCHEMA, "properties": {"e": {"enum": [{"a": 1}]}}}, "enum values must be strings"),
    ],
)
def test_a_schema_outside_the_structured_outputs_subset_is_refused(schema: dict, problem: str) -> None:
    with pytest.raises(InvalidSchema) as refused:
        check_output_schema(schema)
    assert problem in str(refused.value)


def test_the_settings_hash_changes_with_every_effective_setting_and_nothing_else() -> None:
    base = Profile(name="a", model="m", max_tokens=10, instruction="i")
    same = Profile(name="b", model="m", max_tokens=10, instruction="i", next="c", cache_system_prompt=True)
    assert base.settings_hash() == same.settings_hash()  # name and caching change no answer
    changed = [
        Profile(name="a", model="m2", max_tokens=10, instruction="i"),
        Profile(name="a", model="m", max_tokens=11, instruction="i"),
        Profile(name="a", model="m", max_tokens=10, instruction="j"),
        Profile(name="a", model="m", max_tokens=10, instruction="i", system_prompt="s"),
        Profile(name="a", model="m", max_tokens=10, instruction="i", effort="low"),
        Profile(name="a", model="m", max_tokens=10, instruction="i", thinking={"type": "adaptive"}),
        Profile(
            name="a", model="m", max_tokens=10, instruction="i", output_schema=SCHEMA, output_format="json"
        ),
        Profile(name="a", model="m", max_tokens=10, instruction="i", output_format="json"),
    ]
    hashes = {p.settings_hash() for p in changed}
    assert len(hashes) == len(changed) and base.settings_hash() not in hashes


def test_the_samples_parse_on_current_models_and_extract_is_a_schema_profile() -> None:
    samples = PROJECT_ROOT / "samples"
    files = {f"profiles/{p.name}": p.read_bytes() for p in (samples / "profiles").iterdir()}
    files |= {f"schemas/{p.name}": p.read_bytes() for p in (samples / "schemas").iterdir()}
    catalog = ProfileCatalog.from_files(DEFAULTS, files)
    extract = catalog.get("extract")
    assert extract.model == "claude-sonnet-5-5" and extract.schema_name == "business-facts"
    assert catalog.get("summarize").model == "claude-haiku-5-5"
    assert catalog.get("headline").model == "claude-sonnet-5-5"
    for path in (samples / "profiles").iterdir():
        assert "temperature" not in path.read_text()
