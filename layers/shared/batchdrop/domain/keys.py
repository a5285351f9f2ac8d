"""The bucket's key layout, in one place: where documents arrive, where their answers and
errors go, where each job keeps its files, where the profiles, schemas and the documents table
live. The layout is a contract with users (DESIGN.md); nothing else builds these keys.

    inbox/<profile>/<path>                 a document (inbox/<file>: the default profile)
    results/<profile>/<path>.md|.json      its answer;  ...<path>.error.json  its error
    jobs/<job-id>/...                      manifest, requests, checkpoint, summary, documents
    profiles/<name>.json|.yaml, schemas/<name>.json
    tables/documents/day=<YYYY-MM-DD>/<job-id>.jsonl   the documents table (Athena)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batchdrop.domain.profiles import Profile

DEFAULT_PROFILE = "default"
# A profile or schema name: the file name under profiles/ or schemas/, without its extension.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

INBOX_PREFIX = "inbox/"

RESULTS_PREFIX = "results/"

JOBS_PREFIX = "jobs/"


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
    return f"{result_base(doc, profile.name, item)}{profile.result_suffix}"


def full_error_key(doc: InboxKey, item: str | None = None, profile: str | None = None) -> str:
    """The error key by the layout alone, never shortened: it may be longer than S3 allows."""
    return f"{result_base(doc, profile or doc.profile, item)}{ERROR_SUFFIX}"


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


def result_base(doc: InboxKey, profile: str, item: str | None = None) -> str:
    """``results/<profile>/<path>`` (``/<item>`` for a request list's line): what every object
    that closes the document starts with, before its suffix."""
    base = f"{RESULTS_PREFIX}{profile}/{doc.path}"
    return f"{base}/{item}" if item is not None else base


def next_stage_key(result_key: str, profile: str, next_profile: str) -> str:
    """Where an answer becomes the next stage's document: ``results/draft/q3/r.pdf.md`` ->
    ``inbox/check/q3/r.pdf.md``; shortened like ``result_key`` (keeping the extension) when a
    longer profile name makes it too long."""
    full = full_next_stage_key(result_key, profile, next_profile)
    return fit_key(full, PurePosixPath(full).suffix)


def full_next_stage_key(result_key: str, profile: str, next_profile: str) -> str:
    """The next stage's key by the layout alone, never shortened."""
    return f"{INBOX_PREFIX}{next_profile}/{result_key.removeprefix(f'{RESULTS_PREFIX}{profile}/')}"


PROFILES_PREFIX = "profiles/"

PROFILE_SUFFIXES = (".json", ".yaml", ".yml")

SCHEMAS_PREFIX = "schemas/"

SCHEMA_SUFFIX = ".json"


def profile_name(key: str) -> str | None:
    if not key.startswith(PROFILES_PREFIX) or not key.endswith(PROFILE_SUFFIXES):
        return None
    stem = key[len(PROFILES_PREFIX) :].rsplit(".", 1)[0]
    return stem if NAME_RE.match(stem) else None


def manifest_key(job_id: str) -> str:
    return f"jobs/{job_id}/manifest.jsonl"


def requests_key(job_id: str) -> str:
    """The requests exactly as sent, kept so that a transient failure can be sent again."""
    return f"jobs/{job_id}/requests.jsonl"


def checkpoint_key(job_id: str) -> str:
    return f"jobs/{job_id}/checkpoint.json"


def results_key(job_id: str) -> str:
    return f"jobs/{job_id}/results.jsonl"


def summary_key(job_id: str) -> str:
    return f"jobs/{job_id}/summary.json"


def documents_key(job_id: str) -> str:
    """One row per document of the job: what happened to it (the documents table)."""
    return f"jobs/{job_id}/documents.jsonl"


def bedrock_input_key(job_id: str) -> str:
    """The records of the job's Bedrock model invocation job, which Bedrock reads."""
    return f"jobs/{job_id}/bedrock/input/records.jsonl"


def bedrock_output_prefix(job_id: str) -> str:
    """Where Bedrock writes the job's outputs (in a folder named by its own job id)."""
    return f"jobs/{job_id}/bedrock/output/"


def job_schema_key(job_id: str, profile: str) -> str:
    """The JSON Schema a structured-output profile's requests were sent with."""
    return f"jobs/{job_id}/schemas/{profile}.json"


TABLE_PREFIX = "tables/documents/"


def table_key(day: str, job_id: str) -> str:
    """The copy of a job's rows the Glue table reads (``day`` is ``YYYY-MM-DD``, UTC)."""
    return f"{TABLE_PREFIX}day={day}/{job_id}.jsonl"


def rows_part_key(job_id: str, part: int) -> str:
    """The rows (and retry feedback) of one checkpoint of a completion, until the job is done."""
    return f"jobs/{job_id}/documents-parts/{part:06d}.jsonl"


def cancel_key(job_id: str) -> str:
    """The marker a user writes to cancel a job: ``jobs/<job-id>/cancel``."""
    return f"{JOBS_PREFIX}{job_id}/cancel"


_MARKER_RE = re.compile(r"^jobs/(?P<job_id>[^/]+)/cancel$")


def cancel_marker_job(key: str) -> str | None:
    """The job a ``jobs/<job-id>/cancel`` key names, else None."""
    match = _MARKER_RE.match(key)
    return match["job_id"] if match else None


def bedrock_on_demand_prefix(job_id: str) -> str:
    """Where a held job answered on demand keeps each record's answer, and then all its results."""
    return f"jobs/{job_id}/bedrock/on-demand/"
