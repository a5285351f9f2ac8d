"""Documents: where a key belongs, what its results are called, and the request it becomes.

Pure functions only: no AWS, no HTTP.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from batchdrop.profiles import DEFAULT_PROFILE, Profile

INBOX_PREFIX = "inbox/"
RESULTS_PREFIX = "results/"
JOBS_PREFIX = "jobs/"

# Extensions sent to Claude as plain text. Anything else is rejected with a reason.
TEXT_EXTENSIONS = frozenset({".txt", ".md", ".markdown", ".text"})
# The API takes documents of at most 32 MB per request; text is far below that in practice,
# but a single oversized file must be rejected clearly rather than failing the whole batch.
MAX_TEXT_BYTES = 8 * 1024 * 1024

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


def result_key(doc: InboxKey, profile: Profile) -> str:
    """``inbox/default/q3/report.txt`` -> ``results/default/q3/report.txt.md``."""
    return f"{RESULTS_PREFIX}{doc.profile}/{doc.path}{profile.result_suffix}"


def error_key(doc: InboxKey) -> str:
    return f"{RESULTS_PREFIX}{doc.profile}/{doc.path}.error.json"


def custom_id(sequence: int, key: str, version_id: str | None) -> str:
    """A valid, unique ``custom_id`` for the n-th document of a job.

    Keys may hold any Unicode and be 1,024 bytes long, so the id cannot be the key: it is a
    sequence number (unique within the batch) and a digest of the key and version (for
    reading logs); the manifest maps it back.
    """
    digest = hashlib.sha256(f"{key}\0{version_id or ''}".encode()).hexdigest()[:16]
    value = f"doc-{sequence:06d}-{digest}"
    assert _CUSTOM_ID_RE.match(value), value
    return value


def decode_text(doc: InboxKey, body: bytes) -> str:
    """The text of a text document, or DocumentRejected with a reason a person understands."""
    if doc.extension not in TEXT_EXTENSIONS:
        supported = ", ".join(sorted(TEXT_EXTENSIONS))
        raise DocumentRejected(
            f"unsupported file type {doc.extension or '(no extension)'!r}; supported: {supported}"
        )
    if len(body) > MAX_TEXT_BYTES:
        raise DocumentRejected(
            f"the document is {len(body):,} bytes; text documents are limited to {MAX_TEXT_BYTES:,} bytes"
        )
    # A leading BOM is dropped by hand (not with utf-8-sig) so that error offsets count from
    # the start of the file.
    start = len(codecs.BOM_UTF8) if body.startswith(codecs.BOM_UTF8) else 0
    try:
        text = body[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        raise DocumentRejected(
            f"the document is not valid UTF-8 (invalid byte 0x{body[offset]:02x} at offset {offset})"
        ) from None
    if not text.strip():
        raise DocumentRejected("the document is empty")
    return text


def message_params(profile: Profile, doc: InboxKey, text: str) -> dict[str, Any]:
    """Messages API params for one text document under a profile.

    The document comes before the instruction, as Anthropic recommends for long inputs.
    """
    params: dict[str, Any] = {
        "model": profile.model,
        "max_tokens": profile.max_tokens,
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": text},
                        "title": doc.name,
                    },
                    {"type": "text", "text": profile.instruction},
                ],
            }
        ],
    }
    if profile.system_prompt:
        params["system"] = profile.system_prompt
    if profile.temperature is not None:
        params["temperature"] = profile.temperature
    return params
