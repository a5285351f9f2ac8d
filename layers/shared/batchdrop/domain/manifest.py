"""The job manifest: one JSON line per document, mapping ``custom_id`` back to its source."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime

SUBMITTED = "submitted"
REJECTED = "rejected"


@dataclass(frozen=True)
class ManifestEntry:
    """What batchdrop knows about one document of a job.

    ``rejected`` entries never reached the API (unsupported, empty, unknown profile...): they are
    kept so that the job's summary accounts for every document of the window.
    """

    custom_id: str
    source_key: str
    version_id: str | None
    etag: str
    profile: str
    error_key: str
    result_key: str | None = None
    model: str | None = None
    attempt: int = 1
    status: str = SUBMITTED
    reason: str | None = None
    item: str | None = None  # the line id, for a request of a .jsonl list
    kind: str | None = None  # text, html, pdf, image, docx, request-list
    # The estimate made before submitting (input from the content; output at most max_tokens).
    estimated_input_tokens: int | None = None
    estimated_cost: float | None = None  # at batch price, USD; None when the model has no price
    # Workflows: the profile the answer goes on to, and where this document came from.
    next_profile: str | None = None
    notify_stage: bool = False
    workflow_id: str | None = None  # the first stage's job id
    stage: int = 1
    origin_key: str | None = None  # the document the workflow started from
    previous_job_id: str | None = None
    # The S3 event's sequencer of this version: orders the versions of one key (newest wins in
    # results/). Written only when known, so manifests without it read the same as before.
    sequencer: str | None = None
    # The keys the layout gives this document that S3 cannot hold (over 1,024 bytes), by the
    # field they were shortened in ({"result_key": <full key>, ...}); None when all fit.
    full_keys: dict[str, str] | None = None
    # What the documents table records of the source: SHA-256 of the bytes read, and a hash of
    # the profile's effective settings (model, params, schema) the request was built with.
    content_sha256: str | None = None
    settings_hash: str | None = None
    # A structured-output profile's JSON Schema as submitted: the job's own copy
    # (``schema_key``), so that an edited schema file cannot change how answers are checked.
    schema_key: str | None = None
    # Set when the model was deprecated at submit: its scheduled retirement (RFC 3339).
    model_retires_at: str | None = None

    def to_json(self) -> str:
        # Every field is a plain value: no need for asdict's recursive deep copy (a third of
        # Submit's own CPU per document when it was used).
        data = {name: getattr(self, name) for name in _ENTRY_FIELDS}
        for optional in _OPTIONAL_FIELDS:
            if data[optional] is None:
                del data[optional]
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> ManifestEntry:
        return cls(**json.loads(line))


_ENTRY_FIELDS = tuple(f.name for f in fields(ManifestEntry))
# Written only when set, so manifests without them read the same as before.
_OPTIONAL_FIELDS = (
    "sequencer",
    "full_keys",
    "content_sha256",
    "settings_hash",
    "schema_key",
    "model_retires_at",
)


def new_job_id(now: datetime) -> str:
    """Sortable by creation time, unique without coordination: ``20261125T152301Z-3f9a1c2b``."""
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"


_ATTEMPT_SUFFIX = re.compile(r"-a\d+$")


def follow_up_job_id(job_id: str, attempt: int) -> str:
    """The id of a job's attempt ``attempt``: ``<first job's id>-a<attempt>``.

    Only a trailing ``-a<digits>`` is an attempt suffix: the random part of an id is hex and may
    itself begin with ``a`` (``20261125T182614Z-a5c0bdc5``).
    """
    return f"{_ATTEMPT_SUFFIX.sub('', job_id)}-a{attempt}"


def dump_manifest(entries: Iterable[ManifestEntry]) -> bytes:
    return "".join(entry.to_json() + "\n" for entry in entries).encode()


def load_manifest(lines: Iterable[str]) -> Iterator[ManifestEntry]:
    for line in lines:
        if line.strip():
            yield ManifestEntry.from_json(line)
