"""What the emulated model makes of one record: its modelOutput, or its error.

An InvokeModel record's modelInput is the Anthropic Messages body on Bedrock: anthropic_version
"bedrock-2023-05-31", max_tokens, messages, optionally system and the other Messages fields, and
no `model` (the job names the model). A Converse record is the Converse body (messages with
`{"text"}` blocks, inferenceConfig.maxTokens). The answer comes from the Anthropic emulator's
deterministic stand-in for Claude (`emulator.answers`), in the InvokeModel response shape
(id, type, role, model, content, stop_reason, stop_sequence, usage{input_tokens, output_tokens})
or the Converse one. Which records error on purpose (a rate drawn from the seed, or recordIds
named by pattern) comes from the configuration.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from batchdrop_local.bedrock_emulator.config import BedrockConfig
from batchdrop_local.bedrock_emulator.records import Record
from batchdrop_local.emulator.answers import answer
from batchdrop_local.emulator.catalogue import Catalogue, ModelEntry
from batchdrop_local.emulator.rules import ParamsError

ANTHROPIC_VERSION = "bedrock-2023-05-31"
INVALID_INPUT_CODE = 400
_REGION_PREFIXES = ("us.", "eu.", "apac.", "global.", "jp.", "au.", "ca.", "us-gov.")
_VERSION_SUFFIX = re.compile(r"-v\d+(:\d+)?$")
_DATE_SUFFIX = re.compile(r"-\d{8}$")


def catalogue_model(model_id: str, catalogue: Catalogue) -> ModelEntry:
    """The emulated model behind a Bedrock model id, inference profile or ARN: e.g.
    `us.anthropic.claude-sonnet-4-5-20250929-v1:0` is the catalogue's claude-sonnet-4-5. A model
    the catalogue lacks is answered under its own name with default tokenizer facts."""
    name = model_id.rsplit("/", 1)[-1]
    for prefix in _REGION_PREFIXES:
        name = name.removeprefix(prefix)
    name = _VERSION_SUFFIX.sub("", name.removeprefix("anthropic."))
    entry = catalogue.get(name) or catalogue.get(_DATE_SUFFIX.sub("", name))
    if entry is not None:
        return entry
    return ModelEntry(info={"id": name, "capabilities": {}}, internal={})


def message_id(job_id: str, record_id: str) -> str:
    digest = hashlib.sha256(f"{job_id}\0{record_id}".encode()).hexdigest()
    return "msg_bdrk_" + digest[:24]


def draws_error(config: BedrockConfig, job_id: str, record_id: str, attempt: int = 1) -> bool:
    """Whether the configuration makes this record error (named by pattern, or drawn by the
    rate); ``attempt``: the how-manieth job this recordId is in (error_records_attempts)."""
    named = any(re.fullmatch(pattern, record_id) for pattern in config.error_records)
    if named and (not config.error_records_attempts or attempt <= config.error_records_attempts):
        return True
    if config.record_error_rate <= 0:
        return False
    digest = hashlib.sha256(f"{config.seed}\0{job_id}\0{record_id}\0error".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < config.record_error_rate


def answer_record(
    record: Record,
    job_id: str,
    model: ModelEntry,
    invocation_type: str,
    config: BedrockConfig,
    attempt: int = 1,
) -> None:
    """Fill in the record's output (modelOutput or error) and its token counts; ``attempt``:
    the how-manieth job the record's recordId is in."""
    try:
        if invocation_type == "Converse":
            params = converse_params(record.model_input)
        else:
            check_invoke_body(record.model_input)
            params = record.model_input
        if draws_error(config, job_id, record.record_id, attempt):
            record.output = {
                "error": {"errorCode": config.record_error_code, "errorMessage": config.record_error_message}
            }
            return
        message = answer(params, message_id(job_id, record.record_id), model)
    except ParamsError as exc:
        record.output = {"error": {"errorCode": INVALID_INPUT_CODE, "errorMessage": exc.message}}
        return
    record.input_tokens = int(message["usage"]["input_tokens"])
    record.output_tokens = int(message["usage"]["output_tokens"])
    if invocation_type == "Converse":
        record.output = {"modelOutput": converse_output(message)}
        return
    record.output = {"modelOutput": invoke_output(message)}


def invoke_answer(body: dict[str, Any], msg_id: str, model: ModelEntry) -> dict[str, Any]:
    """The InvokeModel response body for an Anthropic InvokeModel request body, as a batch record
    with that modelInput would be answered; ParamsError if the body is not one."""
    check_invoke_body(body)
    return invoke_output(answer(body, msg_id, model))


def invoke_output(message: dict[str, Any]) -> dict[str, Any]:
    """A Messages answer in the InvokeModel response shape (a batch record's modelOutput)."""
    return {
        "id": message["id"],
        "type": "message",
        "role": "assistant",
        "model": message["model"],
        "content": message["content"],
        "stop_reason": message["stop_reason"],
        "stop_sequence": message["stop_sequence"],
        "usage": {
            "input_tokens": int(message["usage"]["input_tokens"]),
            "output_tokens": int(message["usage"]["output_tokens"]),
        },
    }


def check_invoke_body(body: dict[str, Any]) -> None:
    """ParamsError unless `body` is an Anthropic InvokeModel body on Bedrock."""
    if "model" in body:
        raise ParamsError("model: Extra inputs are not permitted")
    if "anthropic_version" not in body:
        raise ParamsError("anthropic_version: Field required")
    if body["anthropic_version"] != ANTHROPIC_VERSION:
        raise ParamsError(f"anthropic_version: Input should be '{ANTHROPIC_VERSION}'")
    if "max_tokens" not in body:
        raise ParamsError("max_tokens: Field required")
    max_tokens = body["max_tokens"]
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ParamsError("max_tokens: Input should be an integer greater than or equal to 1")
    messages = body.get("messages")
    if messages is None:
        raise ParamsError("messages: Field required")
    if not isinstance(messages, list) or not messages:
        raise ParamsError("messages: Input should be a non-empty list")


def converse_params(body: dict[str, Any]) -> dict[str, Any]:
    """The Messages params a Converse body stands for; ParamsError if it is not one."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ParamsError("messages: Field required")
    converted = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), list):
            raise ParamsError(f"messages.{index}.content: Field required")
        blocks = []
        for block in message["content"]:
            text = block.get("text") if isinstance(block, dict) else None
            if not isinstance(text, str):
                raise ParamsError(f"messages.{index}.content: only text blocks are emulated")
            blocks.append({"type": "text", "text": text})
        converted.append({"role": message.get("role"), "content": blocks})
    system = body.get("system") or []
    texts = (
        [block.get("text", "") for block in system if isinstance(block, dict)]
        if isinstance(system, list)
        else []
    )
    inference = body.get("inferenceConfig") or {}
    max_tokens = inference.get("maxTokens", 4096) if isinstance(inference, dict) else 4096
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ParamsError("inferenceConfig.maxTokens: Input should be an integer greater than or equal to 1")
    params: dict[str, Any] = {"max_tokens": max_tokens, "messages": converted}
    if texts:
        params["system"] = "\n".join(texts)
    return params


def converse_output(message: dict[str, Any]) -> dict[str, Any]:
    """A Messages answer in the Converse response shape."""
    usage = message["usage"]
    stop = {"end_turn": "end_turn", "max_tokens": "max_tokens", "stop_sequence": "stop_sequence"}
    return {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"text": block["text"]} for block in message["content"] if block["type"] == "text"
                ],
            }
        },
        "stopReason": stop.get(message["stop_reason"], "end_turn"),
        "usage": {
            "inputTokens": usage["input_tokens"],
            "outputTokens": usage["output_tokens"],
            "totalTokens": usage["input_tokens"] + usage["output_tokens"],
        },
    }
