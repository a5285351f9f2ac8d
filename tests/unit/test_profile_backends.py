"""profiles: a profile's backend (anthropic or bedrock, the stack's default when it names none)
and its Bedrock model; a Bedrock profile that asks for prompt caching is refused when read."""

from __future__ import annotations

import json

import pytest

from batchdrop.domain.bedrock import to_record
from batchdrop.domain.documents import request_params
from batchdrop.domain.profiles import DEFAULT_PROFILE, InvalidProfile, ProfileCatalog, default_profile
from batchdrop.settings import DefaultProfileSettings

DEFAULTS = DefaultProfileSettings(
    model="claude-haiku-4-5", max_tokens=1024, instruction="Summarise.", system_prompt="Be brief."
)
BEDROCK_MODEL = "global.anthropic.claude-haiku-4-5-20251001-v1:0"


def catalog(files: dict[str, object], **defaults: str) -> ProfileCatalog:
    return ProfileCatalog.from_files(
        DEFAULTS,
        {f"profiles/{name}.json": json.dumps(body).encode() for name, body in files.items()},
        **defaults,  # type: ignore[arg-type]
    )


def test_profiles_run_on_the_claude_api_unless_told_otherwise() -> None:
    profiles = catalog({"plain": {"instruction": "Read."}})
    for name in (DEFAULT_PROFILE, "plain"):
        profile = profiles.get(name)
        assert profile.backend == "anthropic" and profile.bedrock_model is None
        assert profile.request_model == "claude-haiku-4-5"
        assert profile.backend_problem() is None


def test_a_profile_chooses_bedrock_and_its_model() -> None:
    profiles = catalog({"onbedrock": {"backend": "bedrock", "bedrock_model": BEDROCK_MODEL}, "plain": {}})
    profile = profiles.get("onbedrock")
    assert profile.backend == "bedrock" and profile.request_model == BEDROCK_MODEL
    assert profiles.get("plain").backend == "anthropic"
    assert profile.settings_hash() != profiles.get("plain").settings_hash()


def test_the_default_backend_is_a_setting_and_a_profile_may_leave_it() -> None:
    profiles = catalog(
        {"plain": {}, "direct": {"backend": "anthropic"}, "unset": {"backend": None}},
        backend="bedrock",
        bedrock_model=BEDROCK_MODEL,
    )
    assert profiles.get(DEFAULT_PROFILE).backend == "bedrock"
    assert profiles.get("plain").backend == "bedrock" and profiles.get("plain").request_model == BEDROCK_MODEL
    assert profiles.get("unset").backend == "bedrock"
    assert profiles.get("direct").backend == "anthropic"
    assert profiles.get("direct").request_model == "claude-haiku-4-5"


def test_the_claude_api_profiles_keep_their_settings_hash() -> None:
    plain = default_profile(DEFAULTS)
    assert plain.settings_hash() == default_profile(DEFAULTS, "anthropic", BEDROCK_MODEL).settings_hash()


@pytest.mark.parametrize("flag", ["cache_system_prompt", "cache_instruction"])
def test_a_bedrock_profile_that_asks_for_prompt_caching_is_refused(flag: str) -> None:
    profiles = catalog({"cached": {"backend": "bedrock", "bedrock_model": BEDROCK_MODEL, flag: True}})
    with pytest.raises(InvalidProfile) as raised:
        profiles.get("cached")
    text = str(raised.value)
    assert text.startswith("profile 'cached' is invalid: profiles/cached.json: ")
    assert f"{flag} asks for prompt caching (cache_control)" in text
    assert "Amazon Bedrock batch inference does not support" in text
    # The same profile on the Claude API is fine
    assert catalog({"cached": {flag: True}}).get("cached").backend == "anthropic"


def test_a_bedrock_profile_needs_its_model() -> None:
    with pytest.raises(InvalidProfile, match="backend bedrock needs bedrock_model"):
        catalog({"nomodel": {"backend": "bedrock"}}).get("nomodel")
    # The default profile too, when the stack's default is bedrock without a model
    profiles = catalog({"plain": {"backend": "anthropic"}}, backend="bedrock")
    with pytest.raises(InvalidProfile, match="profile 'default' is invalid: backend bedrock needs"):
        profiles.get(DEFAULT_PROFILE)
    with pytest.raises(InvalidProfile, match="needs bedrock_model"):
        ProfileCatalog.with_default(DEFAULTS, backend="bedrock").get(DEFAULT_PROFILE)
    assert ProfileCatalog.with_default(DEFAULTS, "bedrock", BEDROCK_MODEL).get(
        DEFAULT_PROFILE
    ).request_model == (BEDROCK_MODEL)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"backend": "vertex"}, "backend: Input should be 'anthropic' or 'bedrock'"),
        ({"bedrock_model": ""}, "bedrock_model: String should have at least 1 character"),
        ({"bedrock_model": "a model"}, "bedrock_model: String should match pattern"),
    ],
)
def test_a_backend_field_out_of_bounds_is_named(fields: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidProfile, match=message):
        catalog({"odd": fields}).get("odd")


def test_an_unknown_default_backend_fails_loudly() -> None:
    with pytest.raises(InvalidProfile, match="default backend must be one of anthropic, bedrock"):
        default_profile(DEFAULTS, "vertex")  # type: ignore[arg-type]


def test_a_bedrock_profiles_request_becomes_a_record_for_its_model() -> None:
    profile = catalog({"onbedrock": {"backend": "bedrock", "bedrock_model": BEDROCK_MODEL}}).get("onbedrock")
    assert profile.request_model == BEDROCK_MODEL
    params = request_params(profile, [{"type": "text", "text": "A document."}])
    assert params["model"] == BEDROCK_MODEL
    model, record = to_record({"custom_id": "doc-000001-ab", "params": params})
    assert model == BEDROCK_MODEL and "model" not in record["modelInput"]
    assert record["modelInput"]["system"] == "Be brief."
