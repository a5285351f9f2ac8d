"""What the API refuses in a request's params, by API version and model.

`check_params` runs the checks in the order the API does: the shape of the params (what the
version's schema allows), then the model (unknown or retired: `not_found_error`), then what that
model allows (max_tokens, sampling, thinking, effort, structured outputs, inputs). In a batch a
failure ends that request `errored`; for count_tokens it is the HTTP answer.

Wording: "temperature: Extra inputs are not permitted" (the 2026-10-21 migration guide),
"model: <id>" for an unknown or retired model, "`temperature` is deprecated for this model." for
sampling on Claude 4.7 and later, and the `thinking.type.enabled` message for a thinking budget on
those models come from real API answers quoted in public issue threads; the others follow the
API's "field: problem" form and are the emulator's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from batchdrop_local.emulator.catalogue import Catalogue, ModelEntry
from batchdrop_local.emulator.structured import check_schema

LEGACY_VERSION = "2023-06-01"
CURRENT_VERSION = "2026-10-21"
API_VERSIONS = (LEGACY_VERSION, CURRENT_VERSION)
"""The anthropic-version values the API accepts."""
OUTPUT_300K_BETA = "output-300k-2026-03-24"
OUTPUT_300K_TOKENS = 300_000
SAMPLING_PARAMS = ("temperature", "top_p", "top_k")
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
THINKING_TYPES = ("enabled", "disabled", "adaptive", "between_tools")
MIN_THINKING_BUDGET = 1024
_ROLES = ("user", "assistant")
_SUPPORTED_DOCUMENT_MEDIA = ("application/pdf", "text/plain")


class ParamsError(ValueError):
    """Params the API refuses: the error type and the API-style message."""

    def __init__(self, message: str, error_type: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type


@dataclass(frozen=True)
class RequestContext:
    """How a request arrived: its API version, its beta headers and the endpoint's kind."""

    version: str = CURRENT_VERSION
    betas: tuple[str, ...] = ()
    in_batch: bool = True
    """A Message Batches request (else count_tokens: no max_tokens, no sampling)."""


def parse_betas(header: str) -> tuple[str, ...]:
    """The anthropic-beta header's comma-separated names."""
    return tuple(name.strip() for name in header.split(",") if name.strip())


def check_params(params: Any, catalogue: Catalogue, context: RequestContext) -> ModelEntry:
    """The model the params name, if the API would run them; else ParamsError."""
    if not isinstance(params, dict):
        raise ParamsError("params: Input should be an object")
    model_id = _check_shape(params, context)
    model = catalogue.get(model_id)
    if model is None or model.lifecycle == "retired":
        raise ParamsError(f"model: {model_id}", "not_found_error")
    _check_for_model(params, model, context)
    return model


def _check_shape(params: dict[str, Any], context: RequestContext) -> str:
    model_id = params.get("model")
    if model_id is None:
        raise ParamsError("model: Field required")
    if not isinstance(model_id, str) or not model_id:
        raise ParamsError("model: Input should be a valid string")
    if context.in_batch:
        max_tokens = params.get("max_tokens")
        if max_tokens is None:
            raise ParamsError("max_tokens: Field required")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
            raise ParamsError("max_tokens: Input should be a valid integer")
        if max_tokens < 1:
            raise ParamsError("max_tokens: Input should be greater than or equal to 1")
        if params.get("stream") is True:
            raise ParamsError("stream: streaming is not supported in the Message Batches API")
        if "speed" in params:
            raise ParamsError("speed: fast mode is not supported in the Message Batches API")
    else:
        # count_tokens takes a message's params without max_tokens and never took sampling.
        for name in ("max_tokens", "stream", *SAMPLING_PARAMS):
            if name in params:
                raise ParamsError(f"{name}: Extra inputs are not permitted")
    if context.version == CURRENT_VERSION:
        for name in SAMPLING_PARAMS:
            if name in params:
                raise ParamsError(f"{name}: Extra inputs are not permitted")
    if "messages" not in params:
        raise ParamsError("messages: Field required")
    messages = params["messages"]
    if not isinstance(messages, list) or not messages:
        raise ParamsError("messages: List should have at least 1 item")
    for index, message in enumerate(messages):
        path = f"messages.{index}"
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise ParamsError(f"{path}.role: Input should be 'user' or 'assistant'")
        if context.version == CURRENT_VERSION:
            _check_current_content(message["role"], message.get("content"), f"{path}.content")
    return model_id


def _check_current_content(role: str, content: Any, path: str) -> None:
    """The 2026-10-21 rules on message content: no document block in an assistant message, no
    non-empty citations on a user text block (directly or inside a search_result block)."""
    if not isinstance(content, list):
        return
    for index, block in enumerate(content):
        if not isinstance(block, dict):
            continue
        where = f"{path}.{index}"
        kind = block.get("type")
        if role == "assistant" and kind == "document":
            raise ParamsError(
                f"{where}: document blocks are not permitted in assistant messages; "
                "put the document in a user message"
            )
        if role != "user":
            continue
        if kind == "text" and block.get("citations"):
            raise ParamsError(
                f"{where}.citations: citations are not permitted on text blocks in user messages"
            )
        if kind == "search_result" and isinstance(block.get("content"), list):
            for inner, nested in enumerate(block["content"]):
                if isinstance(nested, dict) and nested.get("type") == "text" and nested.get("citations"):
                    raise ParamsError(
                        f"{where}.content.{inner}.citations: citations are not permitted on text "
                        "blocks in user messages"
                    )


def _check_for_model(params: dict[str, Any], model: ModelEntry, context: RequestContext) -> None:
    if context.in_batch:
        limit = model.max_tokens
        if model.output_300k_beta and OUTPUT_300K_BETA in context.betas:
            limit = max(limit, OUTPUT_300K_TOKENS)
        max_tokens = params["max_tokens"]
        if max_tokens > limit:
            raise ParamsError(
                f"max_tokens: {max_tokens} > {limit}, which is the maximum allowed number of output "
                f"tokens for {model.id}"
            )
        _check_sampling(params, model)
    _check_thinking(params, model, context)
    _check_output_config(params, model)
    _check_inputs(params, model)


def _check_sampling(params: dict[str, Any], model: ModelEntry) -> None:
    """Sampling parameters under 2023-06-01 (2026-10-21 has refused them already)."""
    sent = [name for name in SAMPLING_PARAMS if name in params]
    if not sent:
        return
    if model.rejects_sampling:
        raise ParamsError(f"`{sent[0]}` is deprecated for this model.")
    for name in ("temperature", "top_p"):
        value = params.get(name)
        if name not in params:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParamsError(f"{name}: Input should be a valid number")
        if not 0 <= value <= 1:
            raise ParamsError(f"{name}: Input should be between 0 and 1, got {value}")
    if "top_k" in params:
        top_k = params["top_k"]
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
            raise ParamsError("top_k: Input should be a non-negative integer")
    if model.exclusive_sampling and "temperature" in params and "top_p" in params:
        raise ParamsError(
            "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
        )


def _check_thinking(params: dict[str, Any], model: ModelEntry, context: RequestContext) -> None:
    thinking = params.get("thinking")
    if thinking is None:
        return
    if not isinstance(thinking, dict) or thinking.get("type") not in THINKING_TYPES:
        allowed = ", ".join(f"'{kind}'" for kind in THINKING_TYPES)
        raise ParamsError(f"thinking.type: Input should be one of {allowed}")
    kind = thinking["type"]
    if not model.supports("thinking", "types", kind):
        if kind == "enabled" and model.supports("thinking", "types", "adaptive"):
            raise ParamsError(
                '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" '
                'and "output_config.effort" to control thinking behavior.'
            )
        raise ParamsError(f'"thinking.type.{kind}" is not supported for this model.')
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if isinstance(budget, bool) or not isinstance(budget, int):
            raise ParamsError("thinking.enabled.budget_tokens: Field required (an integer)")
        if budget < MIN_THINKING_BUDGET:
            raise ParamsError(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to "
                f"{MIN_THINKING_BUDGET}"
            )
        if context.in_batch and budget >= params["max_tokens"]:
            raise ParamsError("`max_tokens` must be greater than `thinking.budget_tokens`.")
    display = thinking.get("display")
    if display is not None and display not in ("summarized", "omitted"):
        raise ParamsError("thinking.display: Input should be 'summarized' or 'omitted'")


def _check_output_config(params: dict[str, Any], model: ModelEntry) -> None:
    config = params.get("output_config")
    if config is None:
        return
    if not isinstance(config, dict):
        raise ParamsError("output_config: Input should be an object")
    unknown = sorted(set(config) - {"effort", "format"})
    if unknown:
        raise ParamsError(f"output_config.{unknown[0]}: Extra inputs are not permitted")
    effort = config.get("effort")
    if effort is not None:
        if effort not in EFFORT_LEVELS:
            allowed = ", ".join(f"'{level}'" for level in EFFORT_LEVELS)
            raise ParamsError(f"output_config.effort: Input should be one of {allowed}")
        levels = model.effort_levels()
        if not levels:
            raise ParamsError("output_config.effort: effort is not supported for this model")
        if effort not in levels:
            raise ParamsError(
                f'output_config.effort: "{effort}" is not supported by this model; supported values: '
                + ", ".join(levels)
            )
    output_format = config.get("format")
    if output_format is not None:
        path = "output_config.format"
        if not isinstance(output_format, dict) or output_format.get("type") != "json_schema":
            raise ParamsError(f"{path}.type: Input should be 'json_schema'")
        if not model.supports("structured_outputs"):
            raise ParamsError(f"{path}: structured outputs are not supported by {model.id}")
        schema = output_format.get("schema")
        if not isinstance(schema, dict):
            raise ParamsError(f"{path}.schema: Field required (a JSON Schema object)")
        problem = check_schema(schema)
        if problem:
            raise ParamsError(f"{path}.schema{problem}")


def _check_inputs(params: dict[str, Any], model: ModelEntry) -> None:
    """PDF and image blocks need the model's pdf_input / image_input capability."""
    for index, message in enumerate(params["messages"]):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for position, block in enumerate(content):
            if not isinstance(block, dict):
                continue
            where = f"messages.{index}.content.{position}"
            raw_source = block.get("source")
            source: dict[str, Any] = raw_source if isinstance(raw_source, dict) else {}
            if block.get("type") == "image" and not model.supports("image_input"):
                raise ParamsError(f"{where}: {model.id} does not accept image input")
            if (
                block.get("type") == "document"
                and source.get("media_type") == "application/pdf"
                and not model.supports("pdf_input")
            ):
                raise ParamsError(f"{where}: {model.id} does not accept PDF input")
            if block.get("type") == "document" and source.get("type") in ("base64", "text"):
                media = source.get("media_type")
                if media not in _SUPPORTED_DOCUMENT_MEDIA:
                    raise ParamsError(
                        f"{where}.source.media_type: Input should be 'application/pdf' or 'text/plain'"
                    )
