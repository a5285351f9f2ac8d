"""Profiles: how the documents of one ``inbox/<profile>/`` folder become Messages requests.

A profile is ``profiles/<name>.json`` or ``profiles/<name>.yaml`` in the bucket, validated
against ``ProfileSpec``; the ``default`` profile comes from the stack's parameters (and a
``profiles/default.*`` file may override its fields). Fields a file leaves out take the
default profile's values. A structured-output profile's ``output_schema`` is a JSON Schema
inline, or the name of ``schemas/<name>.json`` in the bucket, read with the profile files.

Profiles speak Claude API version 2026-10-21: no ``temperature``, ``top_p`` or ``top_k`` (the
API refuses requests that carry them); ``effort`` and ``thinking`` instead.

A profile's ``backend`` is ``anthropic`` (the Claude API's Message Batches) or ``bedrock``
(Amazon Bedrock batch inference, the model named by ``bedrock_model``: a Bedrock model id or
inference profile id or ARN); a profile that names none takes the stack's default. Bedrock batch
has no prompt caching, so a Bedrock profile that asks for it is invalid.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from string import Template
from typing import Any, Literal

from batchdrop.domain.api_rules import SAMPLING_PARAMS, sampling_removed

# The profile schema (pydantic, in profile_spec), yaml and jsonschema load when a profile file
# or a schema is first read, not at cold start: the default profile needs none of them.
from batchdrop.domain.keys import (
    DEFAULT_PROFILE,
    SCHEMA_SUFFIX,
    SCHEMAS_PREFIX,
    profile_name,
)
from batchdrop.domain.schemas import read_schemas
from batchdrop.settings import DefaultProfileSettings

# What an instruction may name: ${name} (file name), ${path} (path below the profile
# folder), ${key} (the whole S3 key), ${profile}.
INSTRUCTION_FIELDS = frozenset({"name", "path", "key", "profile"})
JSON_REMINDER = "Answer with a single valid JSON value only, with no text before or after it."
Effort = Literal["low", "medium", "high", "xhigh", "max"]
Backend = Literal["anthropic", "bedrock"]
BACKENDS: tuple[Backend, ...] = ("anthropic", "bedrock")
DEFAULT_BACKEND: Backend = "anthropic"


class UnknownProfile(LookupError):
    """A folder under ``inbox/`` names no profile. A typo must not fall back to the default."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(f"no profile named {name!r}; profiles are: {', '.join(self.known)}")


class InvalidProfile(ValueError):
    """A profile file exists but cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Profile:
    name: str
    model: str
    max_tokens: int
    instruction: str
    system_prompt: str = ""
    effort: str | None = None
    # The thinking param as sent: {"type": "adaptive"}, {"type": "disabled"}, or
    # {"type": "enabled", "budget_tokens": N} (older models only).
    thinking: Mapping[str, Any] | None = field(default=None, hash=False)
    output_schema: Mapping[str, Any] | None = field(default=None, hash=False)
    schema_name: str | None = None  # schemas/<name>.json it came from; None when inline
    output_format: str = "markdown"
    citations: bool = False
    cache_system_prompt: bool = False
    cache_instruction: bool = False
    max_job_cost_usd: float | None = None
    next: str | None = None
    notify_each_stage: bool = False
    backend: Backend = DEFAULT_BACKEND
    bedrock_model: str | None = None  # a Bedrock model id, inference profile id or ARN
    below_minimum: str = "error"  # fewer than Bedrock's minimum after the wait: "on_demand" or "error"

    @property
    def request_model(self) -> str:
        """The model its requests name: on Bedrock the Bedrock model id (priced by Bedrock rows)."""
        if self.backend == "bedrock" and self.bedrock_model:
            return self.bedrock_model
        return self.model

    @property
    def result_suffix(self) -> str:
        return ".json" if self.output_format == "json" else ".md"

    @property
    def _reminds_json(self) -> bool:
        # A schema makes the API itself answer JSON: no reminder text is needed.
        return self.output_format == "json" and self.output_schema is None

    def instruction_for(self, *, name: str, path: str, key: str) -> str:
        text = Template(self.instruction).safe_substitute(name=name, path=path, key=key, profile=self.name)
        if self._reminds_json and "json" not in text.lower():
            text = f"{text}\n\n{JSON_REMINDER}"
        return text

    def output_config(self) -> dict[str, Any] | None:
        """The ``output_config`` param: the schema's format and the effort, only what is set."""
        config: dict[str, Any] = {}
        if self.output_schema is not None:
            config["format"] = {"type": "json_schema", "schema": dict(self.output_schema)}
        if self.effort is not None:
            config["effort"] = self.effort
        return config or None

    def settings_hash(self) -> str:
        """SHA-256 of the effective settings a request is built with (model, max_tokens, system
        prompt, instruction, effort, thinking, schema, output format): two documents with the same
        hash were asked the same way."""
        settings = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "system": self.system_prompt,
            "instruction": self.instruction,
            "effort": self.effort,
            "thinking": self.thinking,
            "schema": self.output_schema,
            "output_format": self.output_format,
        }
        if self.backend != DEFAULT_BACKEND:  # so that every Claude API profile keeps its hash
            settings["backend"] = self.backend
            settings["bedrock_model"] = self.bedrock_model
        text = json.dumps(settings, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def system_blocks(self) -> str | list[dict[str, Any]] | None:
        """The ``system`` param: marked for prompt caching when the profile asks for it."""
        system = self.system_prompt
        if self._reminds_json and JSON_REMINDER not in system:
            system = f"{system}\n\n{JSON_REMINDER}".strip()
        if not system:
            return None
        if self.cache_system_prompt:
            return [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
        return system

    def with_overrides(self, overrides: Mapping[str, Any]) -> Profile:
        return replace(self, **dict(overrides)) if overrides else self

    def backend_problem(self) -> str | None:
        """Why the profile cannot run on its backend, or None when it can."""
        if self.backend != "bedrock":
            return None
        if not self.bedrock_model:
            return "backend bedrock needs bedrock_model (a Bedrock model id or inference profile)"
        cached = [name for name in ("cache_system_prompt", "cache_instruction") if getattr(self, name)]
        if not cached:
            return None
        return (
            f"{' and '.join(cached)} asks for prompt caching (cache_control), which Amazon Bedrock "
            "batch inference does not support: turn it off, or use backend anthropic"
        )


def default_profile(
    defaults: DefaultProfileSettings, backend: Backend = DEFAULT_BACKEND, bedrock_model: str | None = None
) -> Profile:
    """The stack's default profile; its backend (and bedrock_model) are every profile's default."""
    if backend not in BACKENDS:
        raise InvalidProfile(f"the default backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    return Profile(
        name=DEFAULT_PROFILE,
        model=defaults.model,
        max_tokens=defaults.max_tokens,
        instruction=defaults.instruction,
        system_prompt=defaults.system_prompt,
        backend=backend,
        bedrock_model=bedrock_model or None,
    )


def parse_profile_file(
    key: str, text: str, base: Profile, schemas: Mapping[str, Mapping[str, Any]] | None = None
) -> Profile:
    """A profile from the text of ``profiles/<name>.(json|yaml)``, its gaps filled from ``base``.

    ``schemas`` holds the bucket's ``schemas/<name>.json`` by name, already checked
    (``read_schemas``), for a profile whose ``output_schema`` names one.
    """
    name = profile_name(key)
    if name is None:
        raise InvalidProfile(f"{key}: not a profile file name (profiles/<name>.json or .yaml)")
    import yaml
    from pydantic import ValidationError

    from batchdrop.domain.profile_spec import ProfileSpec

    try:
        data = json.loads(text) if key.endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidProfile(
            f"{key}: not valid {'JSON' if key.endswith('.json') else 'YAML'}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise InvalidProfile(f"{key}: must hold a mapping of profile fields, not {type(data).__name__}")
    sampling = [field_name for field_name in SAMPLING_PARAMS if field_name in data]
    if sampling:
        raise InvalidProfile(f"{key}: {'; '.join(sampling_removed(n) for n in sampling)}")
    try:
        spec = ProfileSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'profile'}: {error['msg']}" for error in exc.errors()
        )
        raise InvalidProfile(f"{key}: {problems}") from None
    fields = spec.model_dump(exclude_unset=True, exclude={"description"})
    for unset in ("backend", "bedrock_model"):  # null: the stack's default
        if unset in fields and fields[unset] is None:
            del fields[unset]
    if isinstance(fields.get("thinking"), str):
        fields["thinking"] = {"type": fields["thinking"]}
    if "output_schema" in fields:
        schema = fields["output_schema"]
        if isinstance(schema, str):
            fields["schema_name"] = schema
            if schema not in (schemas or {}):
                known = ", ".join(sorted(schemas or {})) or "none"
                raise InvalidProfile(
                    f"{key}: output_schema {schema!r} names {SCHEMAS_PREFIX}{schema}{SCHEMA_SUFFIX}, "
                    f"which is not in the bucket (or is not a usable schema); schemas there: {known}"
                )
            fields["output_schema"] = schemas[schema]  # type: ignore[index]
        else:
            fields["schema_name"] = None
        fields["output_format"] = "json"
    profile = replace(base, name=name, **fields)
    problem = profile.backend_problem()
    if problem is not None:
        raise InvalidProfile(f"{key}: {problem}")
    return profile


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
    def with_default(
        cls,
        defaults: DefaultProfileSettings,
        backend: Backend = DEFAULT_BACKEND,
        bedrock_model: str | None = None,
    ) -> ProfileCatalog:
        base = default_profile(defaults, backend, bedrock_model)
        problem = base.backend_problem()
        return cls(
            [base],
            {DEFAULT_PROFILE: f"profile {DEFAULT_PROFILE!r} is invalid: {problem}"} if problem else None,
        )

    @classmethod
    def from_files(
        cls,
        defaults: DefaultProfileSettings,
        files: Mapping[str, bytes],
        backend: Backend = DEFAULT_BACKEND,
        bedrock_model: str | None = None,
    ) -> ProfileCatalog:
        """From ``{key: body}`` of the bucket's profile files (and ``schemas/<name>.json``, the
        schemas they may name). A bad file spoils only its profile. ``backend`` and
        ``bedrock_model`` are the stack's defaults for the profiles that name none."""
        base = default_profile(defaults, backend, bedrock_model)
        schemas, broken_schemas = read_schemas(files)
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
                profiles[name] = parse_profile_file(keys[0], text, profiles[DEFAULT_PROFILE], schemas)
            except InvalidProfile as exc:
                why = str(exc)
                for schema_name, problem in broken_schemas.items():
                    if f"output_schema {schema_name!r}" in why:
                        why = f"{keys[0]}: output_schema {schema_name!r} cannot be used: {problem}"
                invalid[name] = f"profile {name!r} is invalid: {why}"
        unfit = profiles[DEFAULT_PROFILE].backend_problem()
        if unfit is not None and DEFAULT_PROFILE not in invalid:
            invalid[DEFAULT_PROFILE] = f"profile {DEFAULT_PROFILE!r} is invalid: {unfit}"
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


def __getattr__(name: str) -> Any:
    """``profiles.ProfileSpec``, loaded on first use (it lives in ``profile_spec``)."""
    if name == "ProfileSpec":
        from batchdrop.domain.profile_spec import ProfileSpec

        return ProfileSpec
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
