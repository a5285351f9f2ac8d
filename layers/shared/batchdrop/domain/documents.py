"""Documents: where a key belongs, what its results are called, and the request it becomes.

Pure functions only: no AWS, no HTTP.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from batchdrop.domain.api_rules import SAMPLING_PARAMS, sampling_removed
from batchdrop.domain.keys import InboxKey
from batchdrop.domain.models import EFFORT_LEVELS
from batchdrop.domain.profiles import Profile

_CUSTOM_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class DocumentRejected(ValueError):
    """A document cannot become a request. The message is shown to the user as is."""


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
        "model": profile.request_model,  # a Bedrock profile's: its Bedrock model id
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


@dataclass(frozen=True)
class S3ObjectRef:
    """One created object, with the version that the notification was about."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str = ""
    size: int | None = None
    # Orders the events of one key (a later version has a greater one): see sequencer_is_newer
    # (adapters.events).
    sequencer: str | None = None
