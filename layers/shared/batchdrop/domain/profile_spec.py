"""The schema of a profile file (pydantic), apart from ``profiles`` so that pydantic loads only
when a profile file is first read, not at a function's cold start."""

from __future__ import annotations

from string import Template
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from batchdrop.domain.keys import NAME_RE, SCHEMA_SUFFIX, SCHEMAS_PREFIX
from batchdrop.domain.profiles import INSTRUCTION_FIELDS, Backend, Effort
from batchdrop.domain.schemas import check_output_schema


class ProfileSpec(BaseModel):
    """The schema of a profile file. Unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    model: str | None = Field(default=None, min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=128_000)
    system_prompt: str | None = None
    instruction: str | None = Field(default=None, min_length=1)
    # Claude API 2026-10-21: depth of work (output_config.effort) and thinking, not sampling.
    effort: Effort | None = None
    thinking: Literal["adaptive", "disabled"] | dict[str, Any] | None = None
    # A JSON Schema (inline) or the name of schemas/<name>.json: answers are JSON matching it.
    output_schema: dict[str, Any] | str | None = None
    output_format: Literal["markdown", "text", "json"] = "markdown"
    citations: bool = False
    cache_system_prompt: bool = False
    # Put the instruction before the document and mark it too, so the cached prefix covers it.
    cache_instruction: bool = False
    max_job_cost_usd: float | None = Field(default=None, gt=0)
    # Workflows: each answer of this profile becomes a document of the `next` profile.
    next: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    notify_each_stage: bool = False
    # Where the profile's batches run: the Claude API, or Amazon Bedrock batch inference with
    # bedrock_model (a Bedrock model id, inference profile id or ARN). Unset: the stack's default.
    backend: Backend | None = None
    bedrock_model: str | None = Field(default=None, min_length=1, max_length=2048, pattern=r"^\S+$")
    # Bedrock refuses a job below its minimum record count: a profile's smaller set waits for more
    # of its documents, then is answered on demand (InvokeModel, at the on-demand price) or each
    # document gets an .error.json that explains the minimum.
    below_minimum: Literal["on_demand", "error"] = "error"

    @field_validator("thinking")
    @classmethod
    def _thinking(cls, value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if value is None or isinstance(value, str):
            return value
        kind = value.get("type")
        if kind in ("adaptive", "disabled") and set(value) <= {"type", "display"}:
            return value
        budget = value.get("budget_tokens")
        if (
            kind == "enabled"
            and set(value) <= {"type", "budget_tokens", "display"}
            and isinstance(budget, int)
            and not isinstance(budget, bool)
            and budget >= 1024
        ):
            return value
        raise ValueError(
            'must be "adaptive", "disabled", or {"type": "enabled", "budget_tokens": <1024 or more>} '
            "(enabled only on models before Claude 4.7; the newer ones take adaptive and effort)"
        )

    @field_validator("output_schema")
    @classmethod
    def _schema(cls, value: dict[str, Any] | str | None) -> dict[str, Any] | str | None:
        if isinstance(value, str) and not NAME_RE.match(value):
            raise ValueError(
                f"must be a JSON Schema object or the name of {SCHEMAS_PREFIX}<name>{SCHEMA_SUFFIX} "
                f"(letters, digits, '.', '_', '-'), not {value!r}"
            )
        if isinstance(value, dict):
            check_output_schema(value)
        return value

    @model_validator(mode="after")
    def _schema_answers_json(self) -> ProfileSpec:
        if (
            self.output_schema is not None
            and "output_format" in self.model_fields_set
            and self.output_format != "json"
        ):
            raise ValueError(
                f"output_format {self.output_format!r} cannot go with output_schema: a schema's "
                "answers are JSON (leave output_format out, or set it to json)"
            )
        return self

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
