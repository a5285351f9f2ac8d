"""Model facts: what the Models API says of a model (lifecycle, limits, capabilities).

Pure: parsed from a Models API object (``GET /v1/models/{id}``) as JSON, free of SDK types.
Kept apart from prices (pricing.py): a model's price and its lifecycle change for different
reasons, and only these facts are read from the API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ACTIVE = "active"
DEPRECATED = "deprecated"
RETIRED = "retired"
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
THINKING_TYPES = ("adaptive", "disabled", "enabled", "between_tools")


def _supported(capabilities: Mapping[str, Any], name: str) -> bool:
    value = capabilities.get(name)
    return bool(isinstance(value, Mapping) and value.get("supported"))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


@dataclass(frozen=True)
class ModelCapabilities:
    """What a model can do, as the Models API's ``capabilities`` object says."""

    batch: bool
    citations: bool
    image_input: bool
    pdf_input: bool
    structured_outputs: bool
    effort_levels: frozenset[str]  # empty when the model takes no effort setting
    thinking_types: frozenset[str]  # the thinking.type values it accepts

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ModelCapabilities:
        effort = _mapping(data.get("effort"))
        types = _mapping(_mapping(data.get("thinking")).get("types"))
        levels = frozenset(
            level for level in EFFORT_LEVELS if effort.get("supported") and _supported(effort, level)
        )
        # "disabled" is true on a model that does not think at all: read each type on its own.
        accepted = frozenset(kind for kind in THINKING_TYPES if _supported(types, kind))
        return cls(
            batch=_supported(data, "batch"),
            citations=_supported(data, "citations"),
            image_input=_supported(data, "image_input"),
            pdf_input=_supported(data, "pdf_input"),
            structured_outputs=_supported(data, "structured_outputs"),
            effort_levels=levels,
            thinking_types=accepted,
        )


@dataclass(frozen=True)
class ModelFacts:
    """One model of the catalogue. ``capabilities`` is None when the API gave none: then
    nothing is refused for want of a capability."""

    id: str
    display_name: str
    lifecycle: str  # active, deprecated, retired
    created_at: str | None = None
    deprecated_at: str | None = None
    retires_at: str | None = None  # RFC 3339; the scheduled retirement of a deprecated model
    line: str | None = None  # haiku, sonnet, opus, fable, mythos... (never inferred from the id)
    max_input_tokens: int | None = None
    max_tokens: int | None = None
    capabilities: ModelCapabilities | None = None

    @property
    def retired(self) -> bool:
        return self.lifecycle == RETIRED

    @property
    def deprecated(self) -> bool:
        return self.lifecycle == DEPRECATED

    @property
    def active(self) -> bool:
        return self.lifecycle == ACTIVE

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ModelFacts:
        """From a Models API object as JSON (``ModelInfo.to_dict(mode="json")`` or the body)."""
        capabilities = data.get("capabilities")
        lifecycle = str(data.get("lifecycle") or ACTIVE)
        return cls(
            id=str(data["id"]),
            display_name=str(data.get("display_name") or data["id"]),
            lifecycle=lifecycle,
            created_at=_text(data.get("created_at")),
            deprecated_at=_text(data.get("deprecated_at")),
            retires_at=_text(data.get("retires_at")),
            line=_text(data.get("line")),
            max_input_tokens=_int_or_none(data.get("max_input_tokens")),
            max_tokens=_int_or_none(data.get("max_tokens")),
            capabilities=(
                ModelCapabilities.from_api(capabilities) if isinstance(capabilities, Mapping) else None
            ),
        )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def replacement_for(model: ModelFacts, catalogue: Iterable[ModelFacts]) -> ModelFacts | None:
    """The newest active model of the same line (Sonnet 4.5 -> the newest active Sonnet), or
    None when the model has no line or its line has no active model."""
    if model.line is None:
        return None
    same_line = [m for m in catalogue if m.line == model.line and m.active and m.id != model.id]
    return max(same_line, key=lambda m: (m.created_at or "", m.id), default=None)


def current_models(catalogue: Iterable[ModelFacts]) -> list[ModelFacts]:
    """The newest active model of each line, then active models without a line: what to offer
    someone who named a model that does not exist."""
    newest: dict[str, ModelFacts] = {}
    others: list[ModelFacts] = []
    for model in catalogue:
        if not model.active:
            continue
        if model.line is None:
            others.append(model)
        elif model.line not in newest or (model.created_at or "", model.id) > (
            newest[model.line].created_at or "",
            newest[model.line].id,
        ):
            newest[model.line] = model
    return sorted(newest.values(), key=lambda m: m.id) + sorted(others, key=lambda m: m.id)


class ModelsUnavailable(RuntimeError):
    """The Models API could not be reached or would not answer (after the SDK's retries)."""
