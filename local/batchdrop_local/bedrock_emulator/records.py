"""A job's records in S3: the input JSONL read and checked, the outputs and the manifest written.

Input: the s3Uri of one `.jsonl` object, or a folder whose `.jsonl` objects (at any depth) are
read in key order. Each non-blank line is `{"recordId": ..., "modelInput": {...}}`; a line
without a recordId gets one (Bedrock adds it in the output). What Bedrock checks while a job
validates (each line a JSON object with a modelInput object, recordIds alphanumeric and unique,
the record count within the quotas) fails the whole job; what the model would refuse is a
record error, decided later (`answering`).

Output, under the output s3Uri in a folder named by the job id: `<input file name>.out` for
each input file (its relative key for a folder input), lines in processing order rather than
input order, and `manifest.json.out` with the counts and token totals.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

RECORD_ID = re.compile(r"[a-zA-Z0-9]{1,64}")
"""A recordId Bedrock accepts here: alphanumeric (the docs' example has 11 characters)."""
MANIFEST_NAME = "manifest.json.out"


class JobInputError(Exception):
    """The job's input cannot be used: the job ends Failed with this message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Record:
    """One input line, and (once answered) its output line."""

    record_id: str
    model_input: Any
    file_name: str
    order: str
    """Where it falls in processing order (a hash): output order is not input order."""
    output: dict[str, Any] = field(default_factory=dict)
    """modelOutput or error, once answered."""
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def errored(self) -> bool:
        return "error" in self.output

    def line(self) -> bytes:
        return json.dumps(
            {"recordId": self.record_id, "modelInput": self.model_input, **self.output}, ensure_ascii=False
        ).encode()


@dataclass(frozen=True)
class InputFile:
    """One input object: its key, the name its output is written under, its non-blank lines."""

    key: str
    name: str
    lines: tuple[bytes, ...]


def split_uri(uri: str) -> tuple[str, str]:
    """(bucket, key or prefix) of an s3:// URI."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def read_input(s3: Any, uri: str) -> list[InputFile]:
    """The input files of a job; JobInputError if none can be read."""
    bucket, key = split_uri(uri)
    try:
        if key.endswith(".jsonl"):
            return [_read_file(s3, bucket, key, key.rsplit("/", 1)[-1])]
        prefix = key if not key or key.endswith("/") else key + "/"
        keys: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", ()) if item["Key"].endswith(".jsonl"))
    except ClientError as exc:
        raise JobInputError(f"Unable to read the input data at {uri}: {_reason(exc)}") from None
    except BotoCoreError as exc:
        raise JobInputError(f"Unable to read the input data at {uri}: {exc}") from None
    if not keys:
        raise JobInputError(f"No .jsonl input files were found at {uri}")
    try:
        return [_read_file(s3, bucket, name, name[len(prefix) :]) for name in sorted(keys)]
    except ClientError as exc:
        raise JobInputError(f"Unable to read the input data at {uri}: {_reason(exc)}") from None


def _read_file(s3: Any, bucket: str, key: str, name: str) -> InputFile:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    lines = tuple(line for line in body.splitlines() if line.strip())
    return InputFile(key=key, name=name, lines=lines)


def _reason(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return f"{details.get('Code', 'Error')} ({details.get('Message') or 'no message'})"


def count_records(files: list[InputFile]) -> int:
    return sum(len(file.lines) for file in files)


def parse_records(files: list[InputFile], job_id: str, seed: int) -> list[Record]:
    """Every record of the job, checked as validation checks them; JobInputError if one is malformed."""
    records: list[Record] = []
    seen: set[str] = set()
    for file in files:
        for number, raw in enumerate(file.lines, start=1):
            where = f"line {number} of {file.name}"
            try:
                line = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise JobInputError(f"The record on {where} is not valid JSON") from None
            if not isinstance(line, dict) or not isinstance(line.get("modelInput"), dict):
                raise JobInputError(f"The record on {where} must be a JSON object with a modelInput object")
            record_id = line.get("recordId")
            if record_id is None:
                record_id = _generated_id(file.name, number)
            if not isinstance(record_id, str) or RECORD_ID.fullmatch(record_id) is None:
                raise JobInputError(
                    f"The recordId on {where} must be an alphanumeric string, got {record_id!r}"
                )
            if record_id in seen:
                raise JobInputError(f"The recordId {record_id} on {where} is not unique in the job")
            seen.add(record_id)
            order = hashlib.sha256(f"{seed}\0{job_id}\0{record_id}".encode()).hexdigest()
            records.append(Record(record_id, line["modelInput"], file.name, order))
    return records


def _generated_id(file_name: str, number: int) -> str:
    digest = hashlib.sha256(f"{file_name}\0{number}".encode()).hexdigest().upper()
    return digest[:11]


def processing_order(records: list[Record]) -> list[Record]:
    return sorted(records, key=lambda record: record.order)


def manifest(total: int, processed: list[Record]) -> dict[str, int]:
    """manifest.json.out: counts, and the tokens of the records answered."""
    answered = [record for record in processed if not record.errored]
    return {
        "totalRecordCount": total,
        "processedRecordCount": len(processed),
        "successRecordCount": len(answered),
        "errorRecordCount": len(processed) - len(answered),
        "inputTokenCount": sum(record.input_tokens for record in answered),
        "outputTokenCount": sum(record.output_tokens for record in answered),
    }


def output_folder(output_uri: str, job_id: str) -> tuple[str, str]:
    """(bucket, key prefix) of the job's output folder: <output s3Uri>/<job id>/."""
    bucket, prefix = split_uri(output_uri)
    prefix = prefix.rstrip("/")
    return bucket, f"{prefix}/{job_id}/" if prefix else f"{job_id}/"


def write_outputs(
    s3: Any, output_uri: str, job_id: str, files: list[InputFile], processed: list[Record], total: int
) -> list[str]:
    """Write one `.out` per input file (the processed records, processing order) and the manifest;
    the keys written. ClientError propagates."""
    bucket, folder = output_folder(output_uri, job_id)
    written = []
    for file in files:
        lines = [record.line() for record in processed if record.file_name == file.name]
        key = f"{folder}{file.name}.out"
        body = b"\n".join(lines) + (b"\n" if lines else b"")
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/jsonl")
        written.append(key)
    key = folder + MANIFEST_NAME
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(manifest(total, processed)).encode(),
        ContentType="application/json",
    )
    written.append(key)
    return written
