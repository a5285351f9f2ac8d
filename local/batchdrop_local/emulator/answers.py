"""A deterministic stand-in for Claude: one request's `params` in, one Message object out.

The reply names the model, counts the words it was given, quotes a document's title and
summarises the text by its first sentence, so demo output visibly relates to the input.
Token counts follow the input size (about four characters per token) so cost reports move
with the documents. Params the real API would refuse while processing raise `ParamsError`;
the batch then reports that request as `errored` with `invalid_request_error`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

MAX_OUTPUT_TOKENS = 128_000
INPUT_OVERHEAD_TOKENS = 8
CHARS_PER_TOKEN = 4
BINARY_BYTES_PER_TOKEN = 32
SUMMARY_WORDS = 30
SUMMARY_SCAN_CHARS = 4000  # enough for 30 words; spares splitting whole documents
_ROLES = ("user", "assistant")
_FIRST_SENTENCE = re.compile(r"(.+?[.!?])(?:\s|$)")


# The API caches a marked prefix of at least this many tokens (1,024 on Sonnet and Opus).
MIN_CACHEABLE_TOKENS = 1024


class ParamsError(ValueError):
    """Params the API accepts at create time but fails when it processes the request."""


@dataclass
class _Digest:
    """What the emulated model "read" in one request."""

    system: str = ""
    texts: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    attachments: int = 0
    binary_bytes: int = 0
    extra_chars: int = 0
    last_user_text: str = ""

    @property
    def input_tokens(self) -> int:
        chars = len(self.system) + sum(map(len, self.texts)) + sum(map(len, self.titles)) + self.extra_chars
        return (
            INPUT_OVERHEAD_TOKENS
            + math.ceil(chars / CHARS_PER_TOKEN)
            + math.ceil(self.binary_bytes / BINARY_BYTES_PER_TOKEN)
        )


def cached_prefix(params: dict[str, Any]) -> str:
    """The text up to the last block marked ``cache_control``, system prompt then messages in
    order (what prompt caching keeps); empty when nothing is marked."""
    blocks: list[Any] = []
    system = params.get("system")
    if isinstance(system, str):
        blocks.append({"type": "text", "text": system})
    elif isinstance(system, list):
        blocks.extend(system)
    for message in params.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            blocks.append({"type": "text", "text": content})
        elif isinstance(content, list):
            blocks.extend(content)
    marked = [i for i, block in enumerate(blocks) if isinstance(block, dict) and block.get("cache_control")]
    if not marked:
        return ""
    return "\n".join(
        str(block.get("text", "")) for block in blocks[: marked[-1] + 1] if isinstance(block, dict)
    )


def answer(params: Any, message_id: str, cache: set[str] | None = None) -> dict[str, Any]:
    """Return the Message object the emulated model produces for `params`.

    ``cache`` is the batch's prompt cache: a marked prefix of at least MIN_CACHEABLE_TOKENS is
    written (``cache_creation_input_tokens``) the first time and read (``cache_read_input_tokens``)
    after, as the API does within a batch. Raises ParamsError with an API-style message
    ("field: problem") for invalid params.
    """
    model, max_tokens = _check_top_level(params)
    digest = _digest(params)
    cache_write = cache_read = 0
    prefix = cached_prefix(params)
    prefix_tokens = math.ceil(len(prefix) / CHARS_PER_TOKEN)
    if cache is not None and prefix_tokens >= MIN_CACHEABLE_TOKENS:
        key = hashlib.sha256(f"{model}\0{prefix}".encode()).hexdigest()
        if key in cache:
            cache_read = prefix_tokens
        else:
            cache.add(key)
            cache_write = prefix_tokens
    text = _reply_text(model, digest)
    stop_reason, stop_sequence = "end_turn", None
    found = [(text.find(sequence), sequence) for sequence in _stop_sequences(params) if sequence in text]
    if found:
        position, stop_sequence = min(found)
        text, stop_reason = text[:position], "stop_sequence"
    output_tokens = max(1, math.ceil(len(text) / CHARS_PER_TOKEN))
    if output_tokens > max_tokens:
        text, output_tokens, stop_reason, stop_sequence = (
            text[: max_tokens * CHARS_PER_TOKEN],
            max_tokens,
            "max_tokens",
            None,
        )
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": {
            "input_tokens": digest.input_tokens - cache_write - cache_read,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "output_tokens": output_tokens,
            "service_tier": "batch",
        },
    }


def summarise(text: str) -> str:
    """First sentence of `text` if it is short, else its first SUMMARY_WORDS words."""
    words = text[:SUMMARY_SCAN_CHARS].split()
    if not words:
        return "(no text content)"
    sentence = _FIRST_SENTENCE.match(" ".join(words))
    if sentence and len(sentence.group(1).split()) <= SUMMARY_WORDS:
        return sentence.group(1)
    return " ".join(words[:SUMMARY_WORDS]) + ("..." if len(words) > SUMMARY_WORDS else "")


def _reply_text(model: str, digest: _Digest) -> str:
    title = digest.titles[0] if digest.titles else None
    words = sum(len(text.split()) for text in digest.texts)
    summary = summarise(digest.documents[0] if digest.documents else digest.last_user_text)
    if "json" in f"{digest.system}\n{digest.last_user_text}".lower():
        reply = {
            "model": model,
            "title": title,
            "word_count": words,
            "attachments": digest.attachments,
            "summary": summary,
        }
        return json.dumps(reply, ensure_ascii=False)
    subject = f'Document "{title}": ' if title else ""
    attached = (
        f" and {digest.attachments} attachment(s) of {digest.binary_bytes} bytes"
        if digest.attachments
        else ""
    )
    return f"[emulated {model}] {subject}{words} words{attached}. Summary: {summary}"


def _check_top_level(params: Any) -> tuple[str, int]:
    if not isinstance(params, dict):
        raise ParamsError("params: Input should be an object")
    model = params.get("model")
    if model is None:
        raise ParamsError("model: Field required")
    if not isinstance(model, str) or not model.startswith("claude-"):
        raise ParamsError(f"model: {model!r} is not a known model")
    max_tokens = params.get("max_tokens")
    if max_tokens is None:
        raise ParamsError("max_tokens: Field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise ParamsError("max_tokens: Input should be a valid integer")
    if not 1 <= max_tokens <= MAX_OUTPUT_TOKENS:
        raise ParamsError(f"max_tokens: must be between 1 and {MAX_OUTPUT_TOKENS}, got {max_tokens}")
    if params.get("stream") is True:
        raise ParamsError("stream: streaming is not supported in the Message Batches API")
    if "messages" not in params:
        raise ParamsError("messages: Field required")
    messages = params["messages"]
    if not isinstance(messages, list) or not messages:
        raise ParamsError("messages: at least one message is required")
    return model, max_tokens


def _stop_sequences(params: dict[str, Any]) -> list[str]:
    sequences = params.get("stop_sequences") or []
    if not isinstance(sequences, list) or not all(isinstance(s, str) and s for s in sequences):
        raise ParamsError("stop_sequences: Input should be a list of non-empty strings")
    return sequences


def _digest(params: dict[str, Any]) -> _Digest:
    digest = _Digest()
    system = params.get("system")
    if isinstance(system, str):
        digest.system = system
    elif isinstance(system, list):
        digest.system = "\n".join(_system_texts(system))
    elif system is not None:
        raise ParamsError("system: Input should be a string or a list of text blocks")
    tools = params.get("tools")
    if tools is not None:
        digest.extra_chars += len(json.dumps(tools))
    for index, message in enumerate(params["messages"]):
        path = f"messages.{index}"
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise ParamsError(f"{path}.role: Input should be 'user' or 'assistant'")
        user_texts: list[str] = []
        _walk(message.get("content"), f"{path}.content", digest, user_texts)
        if message["role"] == "user":
            digest.last_user_text = "\n".join(user_texts)
    return digest


def _system_texts(blocks: list[Any]) -> list[str]:
    texts = []
    for index, block in enumerate(blocks):
        if (
            not isinstance(block, dict)
            or block.get("type") != "text"
            or not isinstance(block.get("text"), str)
        ):
            raise ParamsError(f"system.{index}: Input should be a text block")
        texts.append(block["text"])
    return texts


def _walk(content: Any, path: str, digest: _Digest, user_texts: list[str]) -> None:
    """Record a message's content: strings and text blocks also land in `user_texts`."""
    if isinstance(content, str):
        digest.texts.append(content)
        user_texts.append(content)
        return
    if not isinstance(content, list) or not content:
        raise ParamsError(f"{path}: Input should be a string or a non-empty list of content blocks")
    for index, block in enumerate(content):
        _walk_block(block, f"{path}.{index}", digest, user_texts)


def _walk_block(block: Any, path: str, digest: _Digest, user_texts: list[str]) -> None:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise ParamsError(f"{path}.type: Field required")
    kind = block["type"]
    if kind == "text":
        if not isinstance(block.get("text"), str):
            raise ParamsError(f"{path}.text: Field required")
        digest.texts.append(block["text"])
        user_texts.append(block["text"])
    elif kind in ("document", "image"):
        _walk_source(block, path, digest)
    elif kind == "tool_result":
        nested = block.get("content")
        if nested is not None:
            _walk(nested, f"{path}.content", digest, [])
    else:
        digest.extra_chars += len(json.dumps(block))


def _walk_source(block: dict[str, Any], path: str, digest: _Digest) -> None:
    source = block.get("source")
    if not isinstance(source, dict):
        raise ParamsError(f"{path}.source: Field required")
    for key in ("title", "context"):
        value = block.get(key)
        if isinstance(value, str) and value:
            if key == "title":
                digest.titles.append(value)
            else:
                digest.extra_chars += len(value)
    kind = source.get("type")
    if kind == "base64":
        try:
            decoded = base64.b64decode(source.get("data") or "", validate=True)
        except (binascii.Error, TypeError, ValueError) as exc:
            raise ParamsError(f"{path}.source.data: invalid base64 data") from exc
        digest.attachments += 1
        digest.binary_bytes += len(decoded)
    elif kind == "text" and block["type"] == "document":
        data = source.get("data")
        if not isinstance(data, str):
            raise ParamsError(f"{path}.source.data: Field required")
        digest.documents.append(data)
        digest.texts.append(data)
    elif kind == "content" and block["type"] == "document":
        texts: list[str] = []
        _walk(source.get("content"), f"{path}.source.content", digest, texts)
        digest.documents.append("\n".join(texts))
    elif kind in ("url", "file"):
        digest.attachments += 1
    else:
        raise ParamsError(f"{path}.source.type: unsupported source type {kind!r}")
