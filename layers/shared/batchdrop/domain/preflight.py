"""Preflight: what can be known before a window is submitted, decided before money is spent.

Batch validation is asynchronous: a request the API will refuse is discovered only when the
batch ends, hours later. So each request is checked first against the rules of API version
2026-10-21 (api_rules) and against its model's facts from the Models API: it exists, is not
retired, takes batches, and can do what the request asks (PDFs, images, structured outputs, the
effort level, the thinking type, max_tokens). What fails is answered at once, per document.

The decisions are pure; what the Models API said comes through ``ModelFactsSource``
(usecases.submit.preflight.ModelCatalogue asks it once per model and invocation).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from batchdrop.domain.api_rules import message_violations, violations
from batchdrop.domain.bedrock.records import refusal as bedrock_refusal
from batchdrop.domain.models import (
    EFFORT_LEVELS,
    ModelFacts,
    ModelsUnavailable,
    current_models,
    replacement_for,
)

CHECKED = "checked"
SKIPPED = "skipped"


class ModelFactsSource(Protocol):
    """Where check_request learns a model's facts (usecases.submit.preflight.ModelCatalogue: the
    Models API, asked once per model and invocation)."""

    def facts(self, model_id: str) -> ModelFacts | None:
        """The model's facts; None when it does not exist. Raises ModelsUnavailable."""
        ...

    def all(self) -> list[ModelFacts]:
        """Every model (for replacements); empty when the list cannot be had."""
        ...


@dataclass(frozen=True)
class Verdict:
    """A request's preflight: why it may not be sent (empty: send it), and the retirement date
    of a deprecated model it may still be sent to."""

    refused: tuple[str, ...] = ()
    retires_at: str | None = None


@dataclass(frozen=True)
class RequestNeeds:
    """What one request asks of its model, read from its params."""

    model: str
    max_tokens: int | None
    pdf: bool = False
    image: bool = False
    citations: bool = False
    structured_output: bool = False
    effort: str | None = None
    thinking: str | None = None

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> RequestNeeds:
        blocks = list(_content_blocks(params))
        output_config = _mapping(params.get("output_config"))
        output_format = _mapping(output_config.get("format"))
        thinking = _mapping(params.get("thinking"))
        max_tokens = params.get("max_tokens")
        return cls(
            model=str(params.get("model", "")),
            max_tokens=max_tokens if isinstance(max_tokens, int) else None,
            pdf=any(b.get("type") == "document" and _media_type(b) == "application/pdf" for b in blocks),
            image=any(b.get("type") == "image" for b in blocks),
            citations=any(
                isinstance(b.get("citations"), Mapping) and b["citations"].get("enabled") for b in blocks
            ),
            structured_output=output_format.get("type") == "json_schema",
            effort=output_config.get("effort") if isinstance(output_config.get("effort"), str) else None,
            thinking=thinking.get("type") if isinstance(thinking.get("type"), str) else None,
        )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _content_blocks(params: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    messages = params.get("messages")
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, Mapping) else None
        for block in content if isinstance(content, list) else []:
            if isinstance(block, Mapping):
                yield block


def _media_type(block: Mapping[str, Any]) -> str | None:
    source = block.get("source")
    return source.get("media_type") if isinstance(source, Mapping) else None


def _named(model: ModelFacts) -> str:
    return f"{model.id} ({model.display_name})" if model.display_name != model.id else model.id


def model_refusal(model_id: str, facts: ModelFacts | None, catalogue: list[ModelFacts]) -> str | None:
    """Why no request may be sent to this model at all (unknown, retired, or no batches)."""
    fix = 'set "model" in the profile (or the document\'s x-amz-meta-batchdrop-model)'
    if facts is None:
        offer = ", ".join(m.id for m in current_models(catalogue))
        return (
            f"model {model_id!r} does not exist (the Models API does not know it): nothing was sent; "
            f"{fix} to a current model{f': {offer}' if offer else ''}"
        )
    if facts.retired:
        when = f" on {facts.retires_at[:10]}" if facts.retires_at else ""
        replacement = replacement_for(facts, catalogue)
        instead = f" to {_named(replacement)}, the newest of its line" if replacement else " to a current one"
        return (
            f"model {_named(facts)} was retired{when}: requests naming it fail, so nothing was sent; "
            f"{fix}{instead}"
        )
    if facts.capabilities is not None and not facts.capabilities.batch:
        return f"model {_named(facts)} does not take Message Batches requests: nothing was sent; {fix}"
    return None


def capability_refusals(needs: RequestNeeds, facts: ModelFacts) -> list[str]:
    """What this request asks that its model cannot do."""
    reasons: list[str] = []
    if facts.max_tokens is not None and needs.max_tokens is not None and needs.max_tokens > facts.max_tokens:
        reasons.append(
            f"max_tokens {needs.max_tokens:,} is more than {facts.id} allows ({facts.max_tokens:,}); "
            f"set max_tokens to {facts.max_tokens:,} or less"
        )
    can = facts.capabilities
    if can is None:
        return reasons
    if needs.pdf and not can.pdf_input:
        reasons.append(f"{facts.id} cannot read PDFs; use a model with PDF input, or send the text instead")
    if needs.image and not can.image_input:
        reasons.append(f"{facts.id} cannot read images; use a model with image input")
    if needs.citations and not can.citations:
        reasons.append(f"{facts.id} does not support citations; turn citations off in the profile")
    if needs.structured_output and not can.structured_outputs:
        reasons.append(
            f"{facts.id} does not support structured outputs (output_schema); use a model that does, "
            'or drop output_schema and use output_format: "json"'
        )
    if needs.effort is not None and needs.effort not in can.effort_levels:
        offered = ", ".join(level for level in EFFORT_LEVELS if level in can.effort_levels)
        reasons.append(
            f"effort {needs.effort!r} is not available on {facts.id}"
            + (f"; it offers {offered}" if offered else "; it takes no effort setting: leave effort out")
        )
    if needs.thinking is not None and needs.thinking not in can.thinking_types:
        offered = ", ".join(sorted(can.thinking_types))
        hint = ' (use {"type": "adaptive"} and effort instead)' if "adaptive" in can.thinking_types else ""
        reasons.append(
            f"thinking type {needs.thinking!r} is not accepted by {facts.id}{hint}; "
            f"it accepts {offered or 'none'}"
        )
    return reasons


def check_request(params: Mapping[str, Any], catalogue: ModelFactsSource | None) -> Verdict:
    """The preflight of one request: the version rules always; the model's facts when the
    catalogue can be reached (``catalogue.unavailable`` says when it could not)."""
    refused = violations(params)
    if catalogue is None:
        return Verdict(tuple(refused))
    needs = RequestNeeds.of(params)
    try:
        facts = catalogue.facts(needs.model)
    except ModelsUnavailable:
        return Verdict(tuple(refused))
    problem = model_refusal(needs.model, facts, catalogue.all() if facts is None or facts.retired else [])
    if problem is not None:
        return Verdict((problem,))  # the model is the problem: nothing else matters
    assert facts is not None
    if any(reason.startswith('"thinking.type.enabled"') for reason in refused):
        needs = replace(needs, thinking=None)  # said once, by the version rule
    refused += capability_refusals(needs, facts)
    return Verdict(tuple(refused), facts.retires_at if facts.deprecated else None)


def check_bedrock_request(params: Mapping[str, Any]) -> Verdict:
    """The preflight of a request to Amazon Bedrock batch inference.

    Its model is a Bedrock model id or inference profile, which the Claude API's Models API
    does not know: the catalogue checks are skipped (Bedrock validates the model at create).
    The Claude API's version rules (2026-10-21: the sampling parameters removed, the thinking
    type by Claude API model id) are that API's, not Bedrock's (its bodies carry
    ``anthropic_version: bedrock-2023-05-31``): skipped too. The Messages shape rules hold on
    both, and what Bedrock batch lacks (cache_control, stream, speed) is refused here, for its
    document alone, instead of failing the whole job's create. Prompt caching set by a profile
    was already refused when the profile was read."""
    refused = message_violations(params)
    lacking = bedrock_refusal(params)
    if lacking is not None:
        refused.append(lacking)
    return Verdict(tuple(refused))
