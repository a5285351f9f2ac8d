"""Structured outputs at completion: check an answer against its profile's JSON Schema, and ask
again with the errors when it does not match. Pure: the schema arrives as data, no I/O.

A schema profile's requests carry ``output_config.format`` (``json_schema``), which makes the
answer's text a JSON document meant to match the schema; the contract leaves the supported
subset unverified, and an answer cut off by ``max_tokens`` is invalid JSON, so every answer is
validated here with ``jsonschema`` before it is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

# jsonschema loads when a schema is first checked, not at cold start.
if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

# Errors an answer's feedback (and its .error.json) lists; the rest are counted.
MAX_REPORTED_ERRORS = 20
# One error's message is cut here: a type error quotes the whole offending value.
MAX_ERROR_MESSAGE = 300
CUT_OFF = "max_tokens"


class SchemaUnusable(ValueError):
    """The job's copy of a schema is missing or is not a JSON Schema: no answer can be checked."""


@dataclass(frozen=True)
class AnswerCheck:
    """What checking one answer against its schema found.

    ``errors`` are ``"<JSON path>: <problem>"`` (at most MAX_REPORTED_ERRORS), ``error_count``
    all of them; ``value`` is the validated JSON value (None unless valid).
    """

    text: str
    stop_reason: str | None
    errors: tuple[str, ...] = ()
    error_count: int = 0
    value: Any = None

    @property
    def valid(self) -> bool:
        return self.error_count == 0

    @property
    def cut_off(self) -> bool:
        return self.stop_reason == CUT_OFF

    @property
    def kind(self) -> str:
        """Why the answer is not usable: ``max_tokens`` (cut off) or ``invalid_output``."""
        return CUT_OFF if self.cut_off else "invalid_output"

    def describe(self) -> str:
        """One sentence for a summary or an .error.json's reason."""
        if self.valid:
            return "the answer matches the schema"
        if self.cut_off:
            return "the answer was cut off by max_tokens before it was complete, so it is not valid JSON"
        shown = self.errors[:3]
        more = f" (and {self.error_count - len(shown)} more)" if self.error_count > len(shown) else ""
        return f"the answer does not match the profile's JSON Schema: {'; '.join(shown)}{more}"


def _cap(message: str) -> str:
    return message if len(message) <= MAX_ERROR_MESSAGE else message[: MAX_ERROR_MESSAGE - 3] + "..."


def _document_order(error: ValidationError) -> tuple[list[tuple[int, int, str]], str]:
    """Errors by where they are (array indexes as numbers: [2] before [10]), then by message."""
    path = [(0, part, "") if isinstance(part, int) else (1, 0, str(part)) for part in error.absolute_path]
    return path, error.message


def parse_answer(text: str) -> Any:
    """The JSON value of an answer (a schema profile's, or an ``output_format: json`` one); a
    Markdown code fence around it is tolerated."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0]
    return json.loads(stripped)


def validator_of(schema: Any, where: str) -> Validator:
    """A validator for ``schema`` (its ``$schema`` draft, else 2020-12); SchemaUnusable when it
    is not a valid JSON Schema. ``where`` names it in the error."""
    if not isinstance(schema, dict):
        raise SchemaUnusable(f"{where} is not a JSON Schema (an object): got {type(schema).__name__}")
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise SchemaUnusable(f"{where} is not a valid JSON Schema: {exc.message}") from exc
    validator: Validator = cls(schema)
    return validator


def check_answer(text: str, stop_reason: str | None, validator: Validator) -> AnswerCheck:
    """Check one answer's text (its text blocks only) against a schema's validator.

    An answer cut off by ``max_tokens`` is never usable, even where the part written parses.
    """
    errors: list[str] = []
    count = 0
    value: Any = None
    if stop_reason == CUT_OFF:
        errors.append("$: the answer was cut off by max_tokens before it was complete")
        count += 1
    try:
        value = parse_answer(text)
    except json.JSONDecodeError as exc:
        errors.append(f"$: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
        count += 1
    else:
        found = sorted(validator.iter_errors(value), key=_document_order)
        count += len(found)
        errors.extend(f"{error.json_path}: {_cap(error.message)}" for error in found)
    reported = tuple(errors[:MAX_REPORTED_ERRORS])
    return AnswerCheck(
        text=text,
        stop_reason=stop_reason,
        errors=reported,
        error_count=count,
        value=value if count == 0 else None,
    )


def feedback_prompt(check: AnswerCheck) -> str:
    """The user turn that asks for the answer again: what was wrong, where, and what to send."""
    if check.cut_off and check.error_count <= 2:
        return (
            "Your previous answer was cut off by the max_tokens limit before it was complete, so it "
            "is not valid JSON. Answer again, more concisely, with only a complete JSON document that "
            "matches the required JSON Schema, and no other text."
        )
    lines = [
        "Your previous answer does not match the required JSON Schema. These are the problems "
        "(JSON path: problem):",
        *(f"- {error}" for error in check.errors),
    ]
    if check.error_count > len(check.errors):
        lines.append(f"- ... and {check.error_count - len(check.errors)} more")
    lines.append(
        "Answer again with only a JSON document that matches the schema, fixing every problem "
        "listed, and no other text."
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class Feedback:
    """An invalid answer and its errors, to be sent back with the request's next attempt."""

    custom_id: str
    answer: str
    prompt: str

    def to_json(self) -> dict[str, str]:
        return {"custom_id": self.custom_id, "answer": self.answer, "prompt": self.prompt}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Feedback:
        return cls(custom_id=str(data["custom_id"]), answer=str(data["answer"]), prompt=str(data["prompt"]))

    @classmethod
    def of(cls, custom_id: str, check: AnswerCheck) -> Feedback:
        return cls(custom_id=custom_id, answer=check.text, prompt=feedback_prompt(check))


def with_feedback(request: dict[str, Any], feedback: Feedback) -> dict[str, Any]:
    """The request (``{"custom_id", "params"}``) asked again: its messages, then the invalid
    answer as the assistant's turn and the errors as the user's.

    Earlier rounds stay in the conversation (a third attempt sees both answers and both lists of
    errors). An empty answer (all of it thinking, or cut off before any text) is no assistant
    turn: the API refuses empty text blocks, so the errors are added to the last user turn.
    """
    params = dict(request["params"])
    messages = [dict(m) for m in params.get("messages") or []]
    prompt_block = {"type": "text", "text": feedback.prompt}
    if feedback.answer.strip():
        messages.append(
            {"role": "assistant", "content": [{"type": "text", "text": feedback.answer.rstrip()}]}
        )
        messages.append({"role": "user", "content": [prompt_block]})
    elif messages and messages[-1].get("role") == "user":
        content = messages[-1].get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
        messages[-1] = {**messages[-1], "content": [*blocks, prompt_block]}
    else:
        messages.append({"role": "user", "content": [prompt_block]})
    params["messages"] = messages
    return {**request, "params": params}


@dataclass
class SchemaCache:
    """Each schema's validator, loaded once (per job: the job's own copies of its schemas)."""

    load: Callable[[str], Any]
    _validators: dict[str, Validator] = field(default_factory=dict)

    def validator(self, key: str) -> Validator:
        found = self._validators.get(key)
        if found is None:
            schema = self.load(key)
            if schema is None:
                raise SchemaUnusable(
                    f"the job's copy of its JSON Schema, {key}, is missing: Submit writes it before the "
                    "job's batch is created, so the answers of this profile cannot be checked"
                )
            found = self._validators[key] = validator_of(schema, key)
        return found
