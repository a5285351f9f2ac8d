"""``.jsonl`` request lists: a file of ready-made requests, one per line.

Each line is either a shorthand ``{"id": "q1", "prompt": "...", "profile"?: "...", "model"?:
"...", "max_tokens"?: N}`` or full Messages params ``{"id": "q1", "params": {...}}``. Its answer
is written to ``results/<profile>/<list path>/<id>.md``. A bad line yields an error for that
line only, and so does a line the API would refuse under version 2026-10-21 (api_rules): it is
answered now instead of ending ``errored`` when the batch ends. Under a Bedrock profile a line
may name no model but the profile's ``bedrock_model`` (a model invocation job runs one model):
one naming another is that line's error, never sent to either model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from batchdrop.domain.api_rules import SAMPLING_PARAMS, sampling_removed, violations
from batchdrop.domain.documents import DocumentRejected, request_params
from batchdrop.domain.keys import InboxKey, error_key, result_key
from batchdrop.domain.profiles import InvalidProfile, Profile, ProfileCatalog, UnknownProfile

LIST_EXTENSION = ".jsonl"
# Ids become object names: keep them readable and safe in a key.
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SHORTHAND_FIELDS = {"id", "prompt", "profile", "model", "max_tokens", "system"}
_FULL_FIELDS = {"id", "params", "profile"}


@dataclass(frozen=True)
class ListedRequest:
    """One usable line: the request params and where its answer goes."""

    item: str
    line: int
    profile: Profile
    params: dict[str, Any]
    result_key: str
    error_key: str


@dataclass(frozen=True)
class ListedError:
    """One unusable line, and why."""

    item: str
    line: int
    error_key: str
    reason: str


def parse_request_list(
    doc: InboxKey, body: bytes, catalog: ProfileCatalog
) -> Iterator[ListedRequest | ListedError]:
    """Each line of the list, in order. The file as a whole is rejected only when it is unreadable."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentRejected(
            f"the request list is not UTF-8 (invalid byte at offset {exc.start})"
        ) from None
    seen: set[str] = set()
    lines = [(number, raw) for number, raw in enumerate(text.splitlines(), start=1) if raw.strip()]
    if not lines:
        raise DocumentRejected("the request list has no lines")
    for number, raw in lines:
        fallback = f"line-{number}"
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield _error(doc, fallback, number, f"line {number} is not valid JSON: {exc.msg}")
            continue
        except (ValueError, RecursionError) as exc:  # a number of over 4,300 digits; nesting too deep
            reason = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            yield _error(doc, fallback, number, f"line {number} cannot be read: {reason}")
            continue
        if not isinstance(data, dict):
            yield _error(doc, fallback, number, f"line {number} must be a JSON object")
            continue
        item = data.get("id")
        if not isinstance(item, str) or not _ID_RE.match(item):
            yield _error(
                doc,
                fallback,
                number,
                f"line {number} needs an \"id\" of up to 128 letters, digits, '.', '_', '-'; got {item!r}",
            )
            continue
        if item in seen:
            yield _error(doc, fallback, number, f"line {number} repeats the id {item!r}")
            continue
        seen.add(item)
        try:
            yield _request(doc, data, item, number, catalog)
        except (DocumentRejected, UnknownProfile, InvalidProfile) as exc:
            yield _error(doc, item, number, f"line {number} ({item}): {exc}")
        except Exception as exc:  # a line the checks above missed is that line's error, not the list's
            yield _error(
                doc, item, number, f"line {number} ({item}) cannot be used: {type(exc).__name__}: {exc}"
            )


def _error(doc: InboxKey, item: str, number: int, reason: str) -> ListedError:
    return ListedError(item=item, line=number, error_key=error_key(doc, item), reason=reason)


def _request(
    doc: InboxKey, data: dict[str, Any], item: str, number: int, catalog: ProfileCatalog
) -> ListedRequest:
    profile_name = data.get("profile", doc.profile)
    if not isinstance(profile_name, str):
        raise DocumentRejected('"profile" must be a string')
    profile = catalog.get(profile_name)
    sampling = [name for name in SAMPLING_PARAMS if name in data]
    if sampling:  # the shorthand has no such fields: say why, not only "unknown field"
        raise DocumentRejected("; ".join(sampling_removed(name) for name in sampling))
    if "params" in data:
        unknown = set(data) - _FULL_FIELDS
        if unknown:
            raise DocumentRejected(f'unknown field(s) {sorted(unknown)} beside "params"')
        params = _full_params(data["params"], profile)
    else:
        unknown = set(data) - _SHORTHAND_FIELDS
        if unknown:
            raise DocumentRejected(f'unknown field(s) {sorted(unknown)}; a line has "prompt" or "params"')
        params = _shorthand_params(data, profile)
    refused = violations(params)
    if refused:
        raise DocumentRejected("; ".join(refused))
    return ListedRequest(
        item=item,
        line=number,
        profile=profile,
        params=params,
        result_key=result_key(doc, profile, item),
        error_key=error_key(doc, item, profile.name),
    )


def _shorthand_params(data: dict[str, Any], profile: Profile) -> dict[str, Any]:
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise DocumentRejected('needs a non-empty "prompt" (or full "params")')
    overrides: dict[str, Any] = {}
    if "model" in data:
        if not isinstance(data["model"], str) or not data["model"]:
            raise DocumentRejected('"model" must be a model name')
        _check_bedrock_model('"model"', data["model"], profile)
        overrides["model"] = data["model"]
    if "max_tokens" in data:
        value = data["max_tokens"]
        if not _is_max_tokens(value):
            raise DocumentRejected('"max_tokens" must be a whole number from 1 to 128000')
        overrides["max_tokens"] = value
    if "system" in data:
        if not isinstance(data["system"], str):
            raise DocumentRejected('"system" must be a string')
        overrides["system_prompt"] = data["system"]
    return request_params(profile.with_overrides(overrides), [{"type": "text", "text": prompt}])


def _full_params(params: Any, profile: Profile) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise DocumentRejected('"params" must be a JSON object of Messages API parameters')
    if params.get("stream"):
        raise DocumentRejected('"stream" is not allowed in a batch')
    if "model" in params and (not isinstance(params["model"], str) or not params["model"].strip()):
        raise DocumentRejected(f'"params.model" must be a model name, not {_shown(params["model"])}')
    if "model" in params:
        _check_bedrock_model('"params.model"', params["model"], profile)
    if "max_tokens" in params and not _is_max_tokens(params["max_tokens"]):
        raise DocumentRejected(
            f'"params.max_tokens" must be a whole number from 1 to {MAX_TOKENS:,}, '
            f"not {_shown(params['max_tokens'])}"
        )
    if "system" in params:
        _check_system(params["system"])
    messages = params.get("messages")
    if not isinstance(messages, list) or not messages:
        raise DocumentRejected('"params" needs a non-empty "messages" list')
    for index, message in enumerate(messages):
        _check_message(index, message)
    # The profile fills in what the line leaves out.
    return {"model": profile.request_model, "max_tokens": profile.max_tokens, **params}


def _check_bedrock_model(field: str, model: str, profile: Profile) -> None:
    """On Bedrock the job's model is the profile's bedrock_model, and a record has no model of
    its own: a line naming another would otherwise be answered by a model it did not ask for."""
    if profile.backend != "bedrock" or model == profile.bedrock_model:
        return
    raise DocumentRejected(
        f"{field} is {_shown(model)}, but profile {profile.name!r} runs on Amazon Bedrock with "
        f"bedrock_model {_shown(profile.bedrock_model)}, and a Bedrock job runs that model only: "
        f"leave the model out of the line, or name {_shown(profile.bedrock_model)}"
    )


MAX_TOKENS = 128_000
_ROLES = ("user", "assistant")


def _is_max_tokens(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_TOKENS


def _check_system(system: Any) -> None:
    if isinstance(system, str):
        return
    if isinstance(system, list) and all(
        isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
        for block in system
    ):
        return
    raise DocumentRejected(
        '"params.system" must be a string or a list of {"type": "text", "text": "..."} blocks, '
        f"not {_shown(system)}"
    )


def _check_message(index: int, message: Any) -> None:
    where = f'"params.messages[{index}]"'
    if not isinstance(message, dict):
        raise DocumentRejected(f'{where} must be an object with "role" and "content", not {_shown(message)}')
    role = message.get("role")
    if role not in _ROLES:
        raise DocumentRejected(f'{where}.role must be "user" or "assistant", not {_shown(role)}')
    content = message.get("content")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise DocumentRejected(
            f"{where}.content must be a string or a list of content blocks, not {_shown(content)}"
        )
    for position, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise DocumentRejected(
                f'{where}.content[{position}] must be a content block (an object with a "type"), '
                f"not {_shown(block)}"
            )


def _shown(value: Any) -> str:
    """A JSON value as a person reads it in a reason, kept short."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
