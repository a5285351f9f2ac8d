"""Profiles: how the documents of one ``inbox/<profile>/`` folder become Messages requests.

A profile is ``profiles/<name>.json`` or ``profiles/<name>.yaml`` in the bucket, validated
against ``ProfileSpec``; the ``default`` profile comes from the stack's parameters (and a
``profiles/default.*`` file may override its fields). Fields a file leaves out take the
default profile's values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from string import Template
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from batchdrop.config import DefaultProfileSettings

DEFAULT_PROFILE = "default"
PROFILES_PREFIX = "profiles/"
PROFILE_SUFFIXES = (".json", ".yaml", ".yml")
# What an instruction may name: ${name} (file name), ${path} (path below the profile
# folder), ${key} (the whole S3 key), ${profile}.
INSTRUCTION_FIELDS = frozenset({"name", "path", "key", "profile"})
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
JSON_REMINDER = "Answer with a single valid JSON value only, with no text before or after it."


class UnknownProfile(LookupError):
    """A folder under ``inbox/`` names no profile. A typo must not fall back to the default."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(f"no profile named {name!r}; profiles are: {', '.join(self.known)}")


class InvalidProfile(ValueError):
    """A profile file exists but cannot be used; the message names the file and the problem."""


class ProfileSpec(BaseModel):
    """The schema of a profile file. Unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    model: str | None = Field(default=None, min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=128_000)
    system_prompt: str | None = None
    instruction: str | None = Field(default=None, min_length=1)
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)
    output_format: Literal["markdown", "text", "json"] = "markdown"
    citations: bool = False
    cache_system_prompt: bool = False
    # Put the instruction before the document and mark it too, so the cached prefix covers it.
    cache_instruction: bool = False
    max_job_cost_usd: float | None = Field(default=None, gt=0)
    # Workflows: each answer of this profile becomes a document of the `next` profile.
    next: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    notify_each_stage: bool = False

    @model_validator(mode="after")
    def _cacheable_instruction(self) -> ProfileSpec:
        if self.cache_instruction and self.instruction and set(Template(self.instruction).get_identifiers()):
            raise ValueError(
                "cache_instruction needs an instruction without ${...} placeholders: "
                "a prefix that differs per document is never read from the cache"
            )
        return self

    @field_validator("instruction")
    @classmethod
    def _known_placeholders(cls, value: str | None) -> str | None:
        if value is None:
            return value
        template = Template(value)
        if not template.is_valid():
            raise ValueError("has a '$' that is not a placeholder (write $$ for a literal $)")
        unknown = set(template.get_identifiers()) - INSTRUCTION_FIELDS
        if unknown:
            names = ", ".join(f"${{{n}}}" for n in sorted(INSTRUCTION_FIELDS))
            raise ValueError(f"uses unknown placeholder(s) {sorted(unknown)}; available: {names}")
        return value


@dataclass(frozen=True)
class Profile:
    name: str
    model: str
    max_tokens: int
    instruction: str
    system_prompt: str = ""
    temperature: float | None = None
    output_format: str = "markdown"
    citations: bool = False
    cache_system_prompt: bool = False
    cache_instruction: bool = False
    max_job_cost_usd: float | None = None
    next: str | None = None
    notify_each_stage: bool = False

    @property
    def result_suffix(self) -> str:
        return ".json" if self.output_format == "json" else ".md"

    def instruction_for(self, *, name: str, path: str, key: str) -> str:
        text = Template(self.instruction).safe_substitute(name=name, path=path, key=key, profile=self.name)
        if self.output_format == "json" and "json" not in text.lower():
            text = f"{text}\n\n{JSON_REMINDER}"
        return text

    def system_blocks(self) -> str | list[dict[str, Any]] | None:
        """The ``system`` param: marked for prompt caching when the profile asks for it."""
        system = self.system_prompt
        if self.output_format == "json" and JSON_REMINDER not in system:
            system = f"{system}\n\n{JSON_REMINDER}".strip()
        if not system:
            return None
        if self.cache_system_prompt:
            return [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
        return system

    def with_overrides(self, overrides: Mapping[str, Any]) -> Profile:
        return replace(self, **dict(overrides)) if overrides else self


def default_profile(defaults: DefaultProfileSettings) -> Profile:
    return Profile(
        name=DEFAULT_PROFILE,
        model=defaults.model,
        max_tokens=defaults.max_tokens,
        instruction=defaults.instruction,
        system_prompt=defaults.system_prompt,
    )


def parse_profile_file(key: str, text: str, base: Profile) -> Profile:
    """A profile from the text of ``profiles/<name>.(json|yaml)``, its gaps filled from ``base``."""
    name = profile_name(key)
    if name is None:
        raise InvalidProfile(f"{key}: not a profile file name (profiles/<name>.json or .yaml)")
    try:
        data = json.loads(text) if key.endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidProfile(
            f"{key}: not valid {'JSON' if key.endswith('.json') else 'YAML'}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise InvalidProfile(f"{key}: must hold a mapping of profile fields, not {type(data).__name__}")
    try:
        spec = ProfileSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'profile'}: {error['msg']}" for error in exc.errors()
        )
        raise InvalidProfile(f"{key}: {problems}") from None
    fields = spec.model_dump(exclude_unset=True, exclude={"description"})
    return replace(base, name=name, **fields)


def profile_name(key: str) -> str | None:
    if not key.startswith(PROFILES_PREFIX) or not key.endswith(PROFILE_SUFFIXES):
        return None
    stem = key[len(PROFILES_PREFIX) :].rsplit(".", 1)[0]
    return stem if _NAME_RE.match(stem) else None


def _broken_chains(profiles: Mapping[str, Profile], invalid: Mapping[str, str]) -> dict[str, str]:
    """Profiles whose ``next`` chain cannot run: a cycle, or a next profile that is missing or
    invalid. Refused here, before anything is submitted."""
    broken: dict[str, str] = {}
    for name, profile in profiles.items():
        chain = [name]
        step = profile
        while step.next is not None:
            if step.next in chain:
                cycle = " -> ".join([*chain[chain.index(step.next) :], step.next])
                broken[name] = f"profile {name!r} is invalid: its workflow has a cycle ({cycle})"
                break
            if step.next in invalid or step.next not in profiles:
                why = "is invalid" if step.next in invalid else "does not exist"
                broken[name] = f"profile {name!r} is invalid: its next profile {step.next!r} {why}"
                break
            chain.append(step.next)
            step = profiles[step.next]
    return broken


class ProfileCatalog:
    """The profiles one invocation can use, read once and looked up by name."""

    def __init__(self, profiles: Iterable[Profile], invalid: Mapping[str, str] | None = None) -> None:
        self._profiles = {p.name: p for p in profiles}
        self._invalid = dict(invalid or {})

    @classmethod
    def with_default(cls, defaults: DefaultProfileSettings) -> ProfileCatalog:
        return cls([default_profile(defaults)])

    @classmethod
    def from_files(cls, defaults: DefaultProfileSettings, files: Mapping[str, bytes]) -> ProfileCatalog:
        """From ``{key: body}`` of the bucket's profile files. A bad file spoils only its profile."""
        base = default_profile(defaults)
        by_name: dict[str, list[str]] = {}
        for key in files:
            name = profile_name(key)
            if name is not None:
                by_name.setdefault(name, []).append(key)
        if DEFAULT_PROFILE in by_name:  # the default profile is read first: others build on it
            by_name = {DEFAULT_PROFILE: by_name.pop(DEFAULT_PROFILE), **by_name}
        profiles = {DEFAULT_PROFILE: base}
        invalid: dict[str, str] = {}
        for name, keys in by_name.items():
            if len(keys) > 1:
                invalid[name] = f"profile {name!r} is defined twice ({', '.join(sorted(keys))}); keep one"
                continue
            try:
                text = files[keys[0]].decode("utf-8-sig")
            except UnicodeDecodeError:
                invalid[name] = f"profile {name!r} is invalid: {keys[0]} is not UTF-8 text"
                continue
            try:
                profiles[name] = parse_profile_file(keys[0], text, profiles[DEFAULT_PROFILE])
            except InvalidProfile as exc:
                invalid[name] = f"profile {name!r} is invalid: {exc}"
        invalid.update(_broken_chains(profiles, invalid))
        return cls(profiles.values(), invalid)

    def get(self, name: str) -> Profile:
        if name in self._invalid:
            raise InvalidProfile(self._invalid[name])
        try:
            return self._profiles[name]
        except KeyError:
            raise UnknownProfile(name, self._profiles) from None

    def names(self) -> list[str]:
        return sorted(self._profiles)
