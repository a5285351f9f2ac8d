"""What a document's result line becomes: its result object (an answer or an ``.error.json``),
with the metadata that names its job, request and source version. Pure, no I/O."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from batchdrop.domain.manifest import ManifestEntry
from batchdrop.domain.result_line import REASONS, RESULT_TYPES, ResultLine, answer_text
from batchdrop.domain.structured import AnswerCheck, parse_answer

__all__ = ["OUTCOMES", "ResultLine", "ResultObject", "answer_text"]

# Outcomes of a document beyond the API's result types: an answer that should be JSON and is
# not, a schema profile's answer that does not match its schema on the last attempt (or was cut
# off by max_tokens), a document never sent, a request the results do not mention, results the API archived
# before they were collected, and a version whose key already holds a newer version's outcome.
OUTCOMES = (
    *RESULT_TYPES,
    "invalid_json",
    "invalid_output",
    "rejected",
    "not_submitted",  # no batch was ever made for it (the queue stayed full, the API refused it)
    "missing",
    "archived",
    "superseded",
    "retried",
)

# S3 user metadata of result objects (boto3 names them without x-amz-meta-). S3 allows 2 KB of
# user metadata in all (names and values, UTF-8) and returns only printable ASCII: keys are
# URL-quoted and every value capped (metadata_value), so even a 1,024-byte key fits.
METADATA_JOB = "batchdrop-job"
METADATA_CUSTOM_ID = "batchdrop-custom-id"
METADATA_SOURCE = "batchdrop-source"
METADATA_VERSION_ID = "batchdrop-version-id"
METADATA_SEQUENCER = "batchdrop-sequencer"
METADATA_VALUE_LIMIT = 256


def metadata_value(text: str, limit: int = METADATA_VALUE_LIMIT) -> str:
    """``text`` as an S3 metadata value: URL-quoted as the origin of a next-stage document is
    (``unquote`` gives it back), and when longer than ``limit`` cut and ended with ``#`` and a
    digest of the whole, so that two long values stay distinct."""
    quoted = quote(text, safe="/")
    if len(quoted) <= limit:
        return quoted
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    head = quoted[: limit - len(digest) - 1]
    if "%" in head[-2:]:  # never cut a %XX escape in half
        head = head[: head.rindex("%")]
    return f"{head}#{digest}"


class ResultsArchived(RuntimeError):
    """The API no longer has the batch's results: it archives them 29 days after the batch was
    created, and a batch ended but not collected by then answers 404 for its results."""

    def __init__(
        self,
        batch_id: str,
        *,
        created_at: str | None = None,
        ended_at: str | None = None,
        archived_at: str | None = None,
    ) -> None:
        super().__init__(f"the results of batch {batch_id} were archived by the API")
        self.batch_id = batch_id
        self.created_at = created_at
        self.ended_at = ended_at
        self.archived_at = archived_at

    @property
    def reason(self) -> str:
        dates = ", ".join(
            f"{name} {value}"
            for name, value in (
                ("created", self.created_at),
                ("ended", self.ended_at),
                ("archived", self.archived_at),
            )
            if value
        )
        return (
            f"the results of batch {self.batch_id} were archived by the API before batchdrop "
            f"collected them (the API keeps results 29 days after a batch is created"
            + (f"; batch {dates}" if dates else "")
            + ")"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "created_at": self.created_at,
            "ended_at": self.ended_at,
            "archived_at": self.archived_at,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Superseded:
    """A result key already holds the outcome of a newer version of the same document."""

    key: str
    version_id: str | None
    sequencer: str | None
    job_id: str | None

    def describe(self) -> str:
        version = f"version {self.version_id}" if self.version_id else "a newer version"
        job = f" (job {self.job_id})" if self.job_id else ""
        return f"{self.key} holds {version}{job}, sequencer {self.sequencer}"


def document_metadata(job_id: str | None, entry: ManifestEntry) -> dict[str, str]:
    """What every result object of a document version carries: its job and request, and which
    version of which source it answers (the sequencer orders versions of one key)."""
    metadata = {
        METADATA_JOB: metadata_value(job_id or ""),
        METADATA_CUSTOM_ID: metadata_value(entry.custom_id),
        METADATA_SOURCE: metadata_value(entry.source_key),
    }
    if entry.version_id:
        metadata[METADATA_VERSION_ID] = metadata_value(entry.version_id)
    if entry.sequencer:
        metadata[METADATA_SEQUENCER] = metadata_value(entry.sequencer)
    return metadata


@dataclass(frozen=True)
class ResultObject:
    """One object to write under ``results/``: an answer or an ``.error.json``."""

    key: str
    body: bytes
    content_type: str
    metadata: dict[str, str]
    outcome: str = "succeeded"


def result_object(
    job_id: str, entry: ManifestEntry, line: ResultLine, check: AnswerCheck | None = None
) -> ResultObject:
    """The object a result line produces: the answer, or an error naming why there is none.

    ``check``: a schema profile's answer checked against its schema (see batchdrop.domain.structured);
    an answer that failed it becomes an ``invalid_output`` error that keeps the answer and the
    errors (this is its last attempt: earlier ones are asked again instead).
    """
    if line.succeeded and entry.result_key:
        text = line.text
        content_type = "text/markdown"
        if check is not None and not check.valid:
            return invalid_output_object(job_id, entry, check)
        if check is not None:
            content_type = "application/json"
            text = json.dumps(check.value, ensure_ascii=False, indent=2) + "\n"
        elif entry.result_key.endswith(".json"):
            content_type = "application/json"
            try:
                text = json.dumps(parse_answer(text), ensure_ascii=False, indent=2) + "\n"
            except json.JSONDecodeError as exc:
                reason = (
                    f"the profile asks for JSON and the answer is not valid JSON ({exc.msg} at {exc.pos})"
                )
                failed = error_object(job_id, entry, result_type="invalid_json", reason=reason)
                body = {**json.loads(failed.body), "answer": text}
                return replace(failed, body=json.dumps(body, ensure_ascii=False, indent=2).encode())
        return ResultObject(
            key=entry.result_key,
            body=text.encode(),
            content_type=f"{content_type}; charset=utf-8",
            metadata={
                **document_metadata(job_id, entry),
                "batchdrop-model": metadata_value(str(line.message.get("model", ""))),
                "batchdrop-stop-reason": metadata_value(str(line.message.get("stop_reason", ""))),
            },
        )
    error = line.error
    if line.type == "errored":
        reason = f"the API answered {error['type']}: {error['message']}".rstrip(": ")
    else:
        reason = error["message"]
    return error_object(job_id, entry, result_type=line.type, reason=reason, error=error)


def invalid_output_object(job_id: str, entry: ManifestEntry, check: AnswerCheck) -> ResultObject:
    """The .error.json of a schema profile's answer that failed its schema on the last attempt:
    the answer as given, the errors (``"<JSON path>: <problem>"``), and the stop reason."""
    reason = (
        f"{check.describe()}; asked {entry.attempt} time{'s' if entry.attempt != 1 else ''} in all. "
        "Make the schema easier to satisfy, raise the profile's max_tokens, or shorten the document"
    )
    failed = error_object(
        job_id,
        entry,
        result_type="invalid_output",
        reason=reason,
        error={"type": check.kind, "message": check.describe()},
    )
    body = {
        **json.loads(failed.body),
        "stop_reason": check.stop_reason,
        "answer": check.text,
        "validation_errors": list(check.errors),
        "validation_error_count": check.error_count,
    }
    return replace(failed, body=json.dumps(body, ensure_ascii=False, indent=2).encode())


def error_object(
    job_id: str | None,
    entry: ManifestEntry,
    *,
    result_type: str,
    reason: str,
    error: dict[str, str] | None = None,
) -> ResultObject:
    body = {
        "document": entry.source_key,
        **({"item": entry.item} if entry.item is not None else {}),
        "version_id": entry.version_id,
        "profile": entry.profile,
        "job_id": job_id,
        "custom_id": entry.custom_id,
        "result_type": result_type,
        "reason": reason,
        "error": error or {"type": result_type, "message": reason},
    }
    return ResultObject(
        key=entry.error_key,
        body=json.dumps(body, ensure_ascii=False, indent=2).encode(),
        content_type="application/json; charset=utf-8",
        metadata=document_metadata(job_id, entry),
        outcome=result_type,
    )


def missing_object(job_id: str, entry: ManifestEntry) -> ResultObject:
    return error_object(job_id, entry, result_type="missing", reason=REASONS["missing"])


def archived_object(job_id: str, entry: ManifestEntry, archived: ResultsArchived) -> ResultObject:
    """The error of a document whose result the API archived before batchdrop collected it."""
    return error_object(job_id, entry, result_type="archived", reason=archived.reason)
