"""profiles: the catalog, the default profile and UnknownProfile."""

from __future__ import annotations

import pytest

from batchdrop.config import DefaultProfileSettings
from batchdrop.profiles import DEFAULT_PROFILE, Profile, ProfileCatalog, UnknownProfile

DEFAULTS = DefaultProfileSettings(
    model="claude-haiku-4-5", max_tokens=1024, instruction="Summarise.", system_prompt="Be brief."
)
SUMMARIZE = Profile(name="summarize", model="claude-sonnet-4-5", max_tokens=2048, instruction="Summarise.")
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
        temperature=None,
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
