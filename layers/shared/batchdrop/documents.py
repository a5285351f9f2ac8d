"""Documents: where a key belongs, what its results are called, and the request it becomes.

Pure functions only: no AWS, no HTTP.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote

from batchdrop.profiles import DEFAULT_PROFILE, Profile

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


def result_key(doc: InboxKey, profile: Profile, item: str | None = None) -> str:
    """``inbox/default/q3/report.txt`` -> ``results/default/q3/report.txt.md``.

    A request of a ``.jsonl`` list (``item`` is its id) answers under the list's path:
    ``inbox/default/questions.jsonl`` line ``q1`` -> ``results/default/questions.jsonl/q1.md``.
    """
    return f"{_result_base(doc, profile.name, item)}{profile.result_suffix}"


def error_key(doc: InboxKey, item: str | None = None, profile: str | None = None) -> str:
    return f"{_result_base(doc, profile or doc.profile, item)}.error.json"


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
    ``inbox/check/q3/r.pdf.md``."""
    return f"{INBOX_PREFIX}{next_profile}/{result_key.removeprefix(f'{RESULTS_PREFIX}{profile}/')}"


def metadata_overrides(metadata: dict[str, str]) -> dict[str, Any]:
    """Profile fields a document's S3 metadata overrides, validated."""
    overrides: dict[str, Any] = {}
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
    """Messages API params for one user turn, with the profile's model and settings."""
    params: dict[str, Any] = {
        "model": profile.model,
        "max_tokens": profile.max_tokens,
        "messages": [{"role": "user", "content": content}],
    }
    system = profile.system_blocks()
    if system:
        params["system"] = system
    if profile.temperature is not None:
        params["temperature"] = profile.temperature
    return params
