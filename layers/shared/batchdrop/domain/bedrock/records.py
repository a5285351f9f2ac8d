"""A Messages request (``{"custom_id", "params"}``, as Submit builds it for the Claude API) as
a Bedrock batch record (``{"recordId", "modelInput"}``). Pure, no I/O.

``modelInput`` is the InvokeModel body of the Anthropic Messages API on Bedrock: the request's
params without ``model`` (the job names the model) and with ``anthropic_version``
``bedrock-2023-05-31``. What Bedrock batch inference lacks is refused with a clear reason:
prompt caching (any ``cache_control``) and streaming.

A recordId must be alphanumeric while a custom_id may hold ``-`` and ``_``, so the recordId is
the custom_id escaped reversibly (``X`` is the escape: ``-`` is ``X0``, ``_`` is ``X1``, ``X``
is ``X2``): unique when the custom_ids are, and turned back without the manifest.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

ANTHROPIC_VERSION = "bedrock-2023-05-31"
# The longest recordId sent (Bedrock documents no limit; the emulator accepts 64).
MAX_RECORD_ID = 64
# Params of the Claude API that a Bedrock batch record cannot carry, and why.
REFUSED_PARAMS = {
    "stream": "a batch record is never streamed",
    "speed": "fast mode is not offered in batch inference",
}
_ESCAPES = {"-": "X0", "_": "X1", "X": "X2"}
_UNESCAPES = {code: char for char, code in _ESCAPES.items()}


class BedrockUnsupported(ValueError):
    """A request (or a profile) asks for what Bedrock batch inference does not offer. The
    message says what and what to do instead; it is shown to the user as is."""


def record_id(custom_id: str) -> str:
    """The recordId of a custom_id: alphanumeric, reversible (``custom_id_of``)."""
    if not custom_id:
        raise BedrockUnsupported("a request without a custom_id cannot become a Bedrock record")
    out = []
    for char in custom_id:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isascii() and char.isalnum():
            out.append(char)
        else:
            raise BedrockUnsupported(f"custom_id {custom_id!r}: {char!r} is not a letter, digit, '-' or '_'")
    value = "".join(out)
    if len(value) > MAX_RECORD_ID:
        raise BedrockUnsupported(
            f"custom_id {custom_id!r} makes a recordId of {len(value)} characters, more than {MAX_RECORD_ID}"
        )
    return value


def custom_id_of(record: str) -> str:
    """The custom_id a recordId was made from; ValueError for one batchdrop did not make."""
    out = []
    chars = iter(record)
    for char in chars:
        if char == "X":
            code = char + next(chars, "")
            if code not in _UNESCAPES:
                raise ValueError(f"recordId {record!r} was not made by batchdrop (bad escape {code!r})")
            out.append(_UNESCAPES[code])
        elif char.isascii() and char.isalnum():
            out.append(char)
        else:
            raise ValueError(f"recordId {record!r} was not made by batchdrop ({char!r})")
    return "".join(out)


def cache_control_paths(value: Any, path: str = "") -> Iterator[str]:
    """Where ``cache_control`` appears in params (``system[0]``, ``messages[0].content[1]``...)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key == "cache_control":
                yield path or "params"
            else:
                yield from cache_control_paths(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from cache_control_paths(item, f"{path}[{index}]")


def refusal(params: Mapping[str, Any]) -> str | None:
    """Why these params cannot be sent to Bedrock batch inference, or None when they can."""
    cached = list(cache_control_paths(params))
    if cached:
        return (
            f"prompt caching (cache_control at {', '.join(cached)}) is not supported by Amazon Bedrock "
            "batch inference: turn off cache_system_prompt and cache_instruction for this profile, or "
            "use the anthropic backend"
        )
    for name, why in REFUSED_PARAMS.items():
        if params.get(name):
            return f"{name!r} cannot be sent to Amazon Bedrock batch inference: {why}"
    return None


def to_record(request: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The request's model (None when its params name none) and its Bedrock record.

    Raises ``BedrockUnsupported`` when the request asks for what Bedrock batch lacks."""
    custom_id = str(request.get("custom_id") or "")
    params = request.get("params")
    if not isinstance(params, Mapping):
        raise BedrockUnsupported(f"request {custom_id!r} has no params")
    why = refusal(params)
    if why is not None:
        raise BedrockUnsupported(f"request {custom_id!r}: {why}")
    model = params.get("model")
    body = {"anthropic_version": ANTHROPIC_VERSION}
    body.update({key: value for key, value in params.items() if key not in ("model", "stream")})
    return (str(model) if model else None), {"recordId": record_id(custom_id), "modelInput": body}
