"""Documents: where a key belongs, what its results are called, and the request it becomes.

Pure functions only: no AWS, no HTTP.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote

from batchdrop.domain.api_rules import SAMPLING_PARAMS, sampling_removed
from batchdrop.domain.models import EFFORT_LEVELS
from batchdrop.domain.profiles import DEFAULT_PROFILE, Profile

INBOX_PREFIX = "inbox/"
RESULTS_PREFIX = "results/"
JOBS_PREFIX = "jobs/"


_CUSTOM_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class DocumentRejected(ValueError):
    """A document cannot become a request. The message is shown to the user as is."""


@dataclass(frozen=True)
class InboxKey:
    """An ``inbox/`` key split into the profile folder and the document's path below it."""

    key: str
    profile: str
    path: str

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def extension(self) -> str:
        return PurePosixPath(self.path).suffix.lower()


def parse_inbox_key(key: str) -> InboxKey | None:
    """Split ``inbox/<profile>/<path>``; ``inbox/<file>`` belongs to the default profile.

    Returns None for keys that are not documents in the inbox (other prefixes, folder markers),
    which must never start work.
    """
    if not key.startswith(INBOX_PREFIX) or key.endswith("/"):
        return None
    rest = key[len(INBOX_PREFIX) :]
    if not rest:
        return None
    profile, sep, path = rest.partition("/")
    if not sep:
        return InboxKey(key=key, profile=DEFAULT_PROFILE, path=rest)
    return InboxKey(key=key, profile=profile, path=path)


# S3 keys are at most 1,024 bytes of UTF-8.
MAX_KEY_BYTES = 1024
# A shortened key ends its path with "~" and this many hex digits of the digest of the full key.
_KEY_DIGEST_CHARS = 16
ERROR_SUFFIX = ".error.json"


def key_fits(key: str) -> bool:
    """Whether S3 accepts ``key`` as it is (at most 1,024 bytes of UTF-8)."""
    return len(key.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES


def fit_key(key: str, suffix: str = "") -> str:
    """``key`` itself when it fits S3's 1,024 bytes, else a shortened key that does.

    A shortened key keeps the first two folders (``results/<profile>/`` or
    ``inbox/<profile>/``) and ``suffix`` (which ``key`` must end with: ``.md``, ``.error.json``,
    ``/<item>.md``), cuts the path between them at a UTF-8 character boundary and puts
    ``~<16 hex digits of the SHA-256 of the full key>`` before the suffix:
    ``results/default/<long path cut>~0123456789abcdef.md``. The same key always gives the same
    shortened key, and two different keys give different ones (short of a 64-bit digest collision).
    """
    if key_fits(key):
        return key
    if not key.endswith(suffix):
        raise ValueError(f"{key!r} does not end with {suffix!r}")
    head, sep, rest = key.partition("/")
    profile, sep2, rest = rest.partition("/")
    prefix = f"{head}{sep}{profile}{sep2}"
    middle = key[len(prefix) : len(key) - len(suffix)]
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:_KEY_DIGEST_CHARS]
    marker = f"~{digest}"
    budget = MAX_KEY_BYTES - len(f"{prefix}{marker}{suffix}".encode("utf-8", "surrogatepass"))
    if budget < 0:
        raise ValueError(f"no room for a path in a key with prefix {prefix!r} and suffix {suffix!r}")
    # Cutting the encoded path and dropping a partial last character keeps valid UTF-8.
    cut = middle.encode("utf-8", "surrogatepass")[:budget].decode("utf-8", "ignore")
    return f"{prefix}{cut}{marker}{suffix}"


def result_key(doc: InboxKey, profile: Profile, item: str | None = None) -> str:
    """``inbox/default/q3/report.txt`` -> ``results/default/q3/report.txt.md``.

    A request of a ``.jsonl`` list (``item`` is its id) answers under the list's path:
    ``inbox/default/questions.jsonl`` line ``q1`` -> ``results/default/questions.jsonl/q1.md``.
    A key longer than S3 allows is shortened (see ``fit_key``); ``full_result_key`` is the
    key it would have had.
    """
    return fit_key(full_result_key(doc, profile, item), _kept_suffix(item, profile.result_suffix))


def error_key(doc: InboxKey, item: str | None = None, profile: str | None = None) -> str:
    """``inbox/default/q3/report.txt`` -> ``results/default/q3/report.txt.error.json``, shortened
    like ``result_key`` when too long."""
    return fit_key(full_error_key(doc, item, profile), _kept_suffix(item, ERROR_SUFFIX))


def full_result_key(doc: InboxKey, profile: Profile, item: str | None = None) -> str:
    """The result key by the layout alone, never shortened: it may be longer than S3 allows."""
    return f"{_result_base(doc, profile.name, item)}{profile.result_suffix}"


def full_error_key(doc: InboxKey, item: str | None = None, profile: str | None = None) -> str:
    """The error key by the layout alone, never shortened: it may be longer than S3 allows."""
    return f"{_result_base(doc, profile or doc.profile, item)}{ERROR_SUFFIX}"


def shortened_keys(doc: InboxKey, profile: Profile, item: str | None = None) -> dict[str, str]:
    """``{"result_key": <full key>, "error_key": <full key>}`` for those of the document's keys
    that had to be shortened (empty when both fit): what a manifest entry and a summary record
    so that a person can tell where a long-named document's answer went."""
    full = {
        "result_key": full_result_key(doc, profile, item),
        "error_key": full_error_key(doc, item, profile.name),
    }
    return {name: key for name, key in full.items() if not key_fits(key)}


def _kept_suffix(item: str | None, suffix: str) -> str:
    # A list item keeps its own name: the digest tells lists apart, the name tells items apart.
    return f"/{item}{suffix}" if item is not None else suffix


def _result_base(doc: InboxKey, profile: str, item: str | None) -> str:
    base = f"{RESULTS_PREFIX}{profile}/{doc.path}"
    return f"{base}/{item}" if item is not None else base


def custom_id(sequence: int, key: str, version_id: str | None, item: str = "") -> str:
    """A valid, unique ``custom_id`` for the n-th document of a job.

    Keys may hold any Unicode and be 1,024 bytes long, so the id cannot be the key: it is a
    sequence number (unique within the batch) and a digest of the key and version (for
    reading logs); the manifest maps it back.
    """
    digest = hashlib.sha256(f"{key}\0{version_id or ''}\0{item}".encode()).hexdigest()[:16]
    value = f"doc-{sequence:06d}-{digest}"
    assert _CUSTOM_ID_RE.match(value), value
    return value


# S3 user metadata that overrides the profile for one document (boto3 gives the names without
# the x-amz-meta- prefix, lower-cased).
METADATA_MODEL = "batchdrop-model"
METADATA_MAX_TOKENS = "batchdrop-max-tokens"
METADATA_EFFORT = "batchdrop-effort"
# Refused with the reason: the API version batchdrop speaks removed these.
METADATA_SAMPLING = {f"batchdrop-{name.replace('_', '-')}": name for name in SAMPLING_PARAMS}


# Written by Complete on the documents it hands to a workflow's next stage.
METADATA_WORKFLOW = "batchdrop-workflow"
METADATA_STAGE = "batchdrop-stage"
METADATA_ORIGIN = "batchdrop-origin"  # URL-quoted: S3 metadata is ASCII
METADATA_PREVIOUS_JOB = "batchdrop-previous-job"


def workflow_links(metadata: dict[str, str]) -> dict[str, Any]:
    """Manifest fields linking a next-stage document to its workflow, from its S3 metadata."""
    if not metadata.get(METADATA_WORKFLOW):
        return {}
    stage = metadata.get(METADATA_STAGE, "")
    return {
        "workflow_id": metadata[METADATA_WORKFLOW],
        "stage": int(stage) if stage.isdigit() else 2,
        "origin_key": unquote(metadata.get(METADATA_ORIGIN, "")) or None,
        "previous_job_id": metadata.get(METADATA_PREVIOUS_JOB) or None,
    }


def next_stage_key(result_key: str, profile: str, next_profile: str) -> str:
    """Where an answer becomes the next stage's document: ``results/draft/q3/r.pdf.md`` ->
    ``inbox/check/q3/r.pdf.md``; shortened like ``result_key`` (keeping the extension) when a
    longer profile name makes it too long."""
    full = full_next_stage_key(result_key, profile, next_profile)
    return fit_key(full, PurePosixPath(full).suffix)


def full_next_stage_key(result_key: str, profile: str, next_profile: str) -> str:
    """The next stage's key by the layout alone, never shortened."""
    return f"{INBOX_PREFIX}{next_profile}/{result_key.removeprefix(f'{RESULTS_PREFIX}{profile}/')}"


def metadata_overrides(metadata: dict[str, str]) -> dict[str, Any]:
    """Profile fields a document's S3 metadata overrides, validated."""
    overrides: dict[str, Any] = {}
    for header, name in METADATA_SAMPLING.items():
        if header in metadata:
            raise DocumentRejected(f"x-amz-meta-{header}: {sampling_removed(name)}")
    effort = metadata.get(METADATA_EFFORT, "").strip()
    if effort:
        if effort not in EFFORT_LEVELS:
            raise DocumentRejected(
                f"x-amz-meta-{METADATA_EFFORT} must be one of {', '.join(EFFORT_LEVELS)}, not {effort!r}"
            )
        overrides["effort"] = effort
    model = metadata.get(METADATA_MODEL, "").strip()
    if model:
        overrides["model"] = model
    raw = metadata.get(METADATA_MAX_TOKENS, "").strip()
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= 128_000:
            raise DocumentRejected(
                f"x-amz-meta-{METADATA_MAX_TOKENS} must be a whole number from 1 to 128000, not {raw!r}"
            )
        overrides["max_tokens"] = int(raw)
    return overrides


def message_params(profile: Profile, doc: InboxKey, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """Messages API params for one document's content blocks under a profile.

    The document comes before the instruction, as Anthropic recommends for long inputs.
    """
    if profile.citations:
        blocks = [{**b, "citations": {"enabled": True}} if b.get("type") == "document" else b for b in blocks]
    instruction = profile.instruction_for(name=doc.name, path=doc.path, key=doc.key)
    if profile.cache_instruction:
        # system prompt, then the instruction: the same prefix for every document, cached once
        marked = {"type": "text", "text": instruction, "cache_control": {"type": "ephemeral"}}
        return request_params(profile, [marked, *blocks])
    return request_params(profile, [*blocks, {"type": "text", "text": instruction}])


def request_params(profile: Profile, content: list[dict[str, Any]]) -> dict[str, Any]:
    """Messages API params for one user turn, with the profile's model and settings: the
    schema and effort in ``output_config``, and ``thinking``, only when the profile sets them."""
    params: dict[str, Any] = {
        "model": profile.model,
        "max_tokens": profile.max_tokens,
        "messages": [{"role": "user", "content": content}],
    }
    system = profile.system_blocks()
    if system:
        params["system"] = system
    output_config = profile.output_config()
    if output_config:
        params["output_config"] = output_config
    if profile.thinking is not None:
        params["thinking"] = dict(profile.thinking)
    return params


def params_settings_hash(params: dict[str, Any]) -> str:
    """SHA-256 of a ready-made request's settings (its params but the messages): the settings
    hash of a request-list line, whose params do not come from a profile alone."""
    settings = {name: value for name, value in params.items() if name != "messages"}
    text = json.dumps(settings, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
