"""A deterministic stand-in for Claude: one request's `params` in, one Message object out.

The reply names the model, counts the words it was given, quotes a document's title and
summarises the text by its first sentence, so demo output visibly relates to the input.
Token counts follow the input size (about four characters per token, times the model's
tokenizer ratio) so cost reports move with the documents. A model that thinks (adaptive or
enabled thinking requested, or always on) puts a signed thinking block before the text and
counts its tokens in output_tokens. With `output_config.format` the text is a JSON document
built from the schema. The params are checked first (`rules.check_params`); content the API
would refuse while processing raises `ParamsError`.
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

from batchdrop_local.emulator.catalogue import ModelEntry
from batchdrop_local.emulator.rules import ParamsError
from batchdrop_local.emulator.structured import Source, generate, spoil

INPUT_OVERHEAD_TOKENS = 8
CHARS_PER_TOKEN = 4
BINARY_BYTES_PER_TOKEN = 32
SUMMARY_WORDS = 30
SUMMARY_SCAN_CHARS = 4000  # enough for 30 words; spares splitting whole documents
SOURCE_WORDS = 400
"""Words of the input that structured answers may quote."""
THINKING_TOKENS = {"low": 24, "medium": 64, "high": 128, "xhigh": 256, "max": 512}
"""Thinking tokens an emulated model spends at each effort, before the input's share."""
THINKING_PER_INPUT = 100
"""One more thinking token per this many input tokens (at most THINKING_INPUT_CAP more)."""
THINKING_INPUT_CAP = 4096
_ROLES = ("user", "assistant")
_FIRST_SENTENCE = re.compile(r"(.+?[.!?])(?:\s|$)")


# The API caches a marked prefix of at least this many tokens (1,024 on Sonnet and Opus).
MIN_CACHEABLE_TOKENS = 1024

__all__ = ["ParamsError", "answer", "cached_prefix", "count_input_tokens", "summarise"]


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
    def input_chars_tokens(self) -> int:
        """Tokens of the text read, as the Claude 4.5 tokenizer counts them (with the overhead)."""
        chars = len(self.system) + sum(map(len, self.texts)) + sum(map(len, self.titles)) + self.extra_chars
        return INPUT_OVERHEAD_TOKENS + math.ceil(chars / CHARS_PER_TOKEN)

    @property
    def binary_tokens(self) -> int:
        """Tokens of images and PDFs (the tokenizer does not apply to them)."""
        return math.ceil(self.binary_bytes / BINARY_BYTES_PER_TOKEN)


def cached_prefix(params: dict[str, Any]) -> str:
    """The text up to the last block marked ``cache_control``, system prompt then messages in
    order (what prompt caching keeps); empty when nothing is marked."""
    return cached_prefix_and_ttl(params)[0]


def cached_prefix_and_ttl(params: dict[str, Any]) -> tuple[str, str]:
    """The cached prefix (see `cached_prefix`) and the TTL of its last mark ("5m" or "1h")."""
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
        return "", "5m"
    mark = blocks[marked[-1]]["cache_control"]
    ttl = "1h" if isinstance(mark, dict) and mark.get("ttl") == "1h" else "5m"
    text = "\n".join(
        str(block.get("text", "")) for block in blocks[: marked[-1] + 1] if isinstance(block, dict)
    )
    return text, ttl


def count_input_tokens(params: dict[str, Any], model: ModelEntry) -> int:
    """What `POST /v1/messages/count_tokens` answers for checked params."""
    digest = _digest(params)
    return _tokens(digest.input_chars_tokens, model) + digest.binary_tokens


def answer(
    params: dict[str, Any],
    message_id: str,
    model: ModelEntry,
    cache: set[str] | None = None,
    *,
    invalid_output: bool = False,
) -> dict[str, Any]:
    """Return the Message object the emulated `model` produces for checked `params`.

    ``cache`` is the batch's prompt cache: a marked prefix of at least MIN_CACHEABLE_TOKENS is
    written (``cache_creation_input_tokens``, by TTL in ``cache_creation``) the first time and
    read (``cache_read_input_tokens``) after, as the API does within a batch. With
    ``invalid_output`` a structured answer is deliberately made to fail its schema.
    """
    max_tokens = int(params["max_tokens"])
    digest = _digest(params)
    input_tokens = _tokens(digest.input_chars_tokens, model) + digest.binary_tokens
    cache_write = cache_read = 0
    prefix, ttl = cached_prefix_and_ttl(params)
    prefix_tokens = _tokens(math.ceil(len(prefix) / CHARS_PER_TOKEN), model)
    if cache is not None and prefix_tokens >= MIN_CACHEABLE_TOKENS:
        key = hashlib.sha256(f"{model.id}\0{prefix}".encode()).hexdigest()
        if key in cache:
            cache_read = prefix_tokens
        else:
            cache.add(key)
            cache_write = prefix_tokens
    content: list[dict[str, Any]] = []
    thinking_tokens = min(_thinking_budget(params, model, input_tokens), max_tokens)
    if thinking_tokens:
        content.append(_thinking_block(params, model, digest))
    text = _reply_text(params, model, digest, message_id, invalid_output)
    stop_reason, stop_sequence = "end_turn", None
    found = [(text.find(sequence), sequence) for sequence in _stop_sequences(params) if sequence in text]
    if found:
        position, stop_sequence = min(found)
        text, stop_reason = text[:position], "stop_sequence"
    room = max_tokens - thinking_tokens
    text_tokens = max(1, _tokens(math.ceil(len(text) / CHARS_PER_TOKEN), model))
    if text_tokens > room:
        keep = math.floor(room * CHARS_PER_TOKEN / model.tokenizer_ratio)
        text, text_tokens, stop_reason, stop_sequence = text[:keep], room, "max_tokens", None
    if text or not content:
        content.append({"type": "text", "text": text})
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model.id,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": {
            "input_tokens": input_tokens - cache_write - cache_read,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": cache_write if ttl != "1h" else 0,
                "ephemeral_1h_input_tokens": cache_write if ttl == "1h" else 0,
            },
            "output_tokens": thinking_tokens + text_tokens,
            "output_tokens_details": {"thinking_tokens": thinking_tokens},
            "service_tier": "batch",
        },
    }


def _tokens(base_tokens: int, model: ModelEntry) -> int:
    """Tokens of text the Claude 4.5 tokenizer counts as `base_tokens`, on `model`'s tokenizer."""
    return math.ceil(base_tokens * model.tokenizer_ratio)


def _thinking_budget(params: dict[str, Any], model: ModelEntry, input_tokens: int) -> int:
    """Thinking tokens this request spends (before max_tokens cuts them): 0 without thinking."""
    thinking = params.get("thinking") or {}
    kind = thinking.get("type")
    if kind not in ("adaptive", "enabled") and not model.thinking_always_on:
        return 0
    effort = (params.get("output_config") or {}).get("effort") or model.default_effort
    spent = THINKING_TOKENS.get(effort, THINKING_TOKENS["high"])
    spent += min(input_tokens // THINKING_PER_INPUT, THINKING_INPUT_CAP)
    if kind == "enabled":
        spent = min(spent, int(thinking["budget_tokens"]))
    return spent


def _thinking_block(params: dict[str, Any], model: ModelEntry, digest: _Digest) -> dict[str, Any]:
    thinking = params.get("thinking") or {}
    title = digest.titles[0] if digest.titles else "the request"
    text = (
        f"Reading {title}: {sum(len(t.split()) for t in digest.texts)} words. "
        "Working out what is asked and the shortest faithful answer."
    )
    shown = "" if thinking.get("display") == "omitted" else text
    signature = base64.b64encode(hashlib.sha256(f"{model.id}\0{text}".encode()).digest()).decode()
    return {"type": "thinking", "thinking": shown, "signature": signature}


def summarise(text: str) -> str:
    """First sentence of `text` if it is short, else its first SUMMARY_WORDS words."""
    words = text[:SUMMARY_SCAN_CHARS].split()
    if not words:
        return "(no text content)"
    sentence = _FIRST_SENTENCE.match(" ".join(words))
    if sentence and len(sentence.group(1).split()) <= SUMMARY_WORDS:
        return sentence.group(1)
    return " ".join(words[:SUMMARY_WORDS]) + ("..." if len(words) > SUMMARY_WORDS else "")


def _reply_text(
    params: dict[str, Any], model: ModelEntry, digest: _Digest, message_id: str, invalid_output: bool
) -> str:
    title = digest.titles[0] if digest.titles else None
    words = sum(len(text.split()) for text in digest.texts)
    summary = summarise(digest.documents[0] if digest.documents else digest.last_user_text)
    output_format = (params.get("output_config") or {}).get("format")
    if output_format:
        schema = output_format["schema"]
        quoted = " ".join([*digest.documents, digest.last_user_text])[: SOURCE_WORDS * 12].split()
        source = Source(
            title=title,
            summary=summary,
            words=quoted[:SOURCE_WORDS],
            word_count=words,
            seed=json.dumps(schema, sort_keys=True) + summary,
            attachments=digest.attachments,
        )
        value = generate(schema, source)
        return json.dumps(spoil(value, schema) if invalid_output else value, ensure_ascii=False)
    if "json" in f"{digest.system}\n{digest.last_user_text}".lower():
        reply = {
            "model": model.id,
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
    return f"[emulated {model.id}] {subject}{words} words{attached}. Summary: {summary}"


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
