"""The documents bucket: reading documents, writing results, manifests and summaries."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from batchdrop.results import (
    METADATA_JOB,
    METADATA_SEQUENCER,
    METADATA_SOURCE,
    METADATA_VERSION_ID,
    ResultObject,
    Superseded,
)
from batchdrop.s3_events import sequencer_is_newer

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


UPLOAD_PARTS_IN_MEMORY = 4
_UPLOADS = TransferConfig(max_concurrency=UPLOAD_PARTS_IN_MEMORY)
_UPLOADS.max_in_memory_upload_chunks = UPLOAD_PARTS_IN_MEMORY  # s3transfer's setting, not in boto3's __init__


class DocumentGone(LookupError):
    """The object (or that version of it) no longer exists."""


class WriteContended(RuntimeError):
    """A conditional write kept losing to other writers of the same key."""


# A conditional write that fails (412: the key changed since it was looked at; 409: another
# write of the key was under way; 404: the object looked at is gone) is decided again.
_CONDITION_FAILED = frozenset(
    {"PreconditionFailed", "412", "ConditionalRequestConflict", "409", "NoSuchKey", "404"}
)
CONDITIONAL_ATTEMPTS = 5


@dataclass(frozen=True)
class StoredDocument:
    key: str
    body: bytes
    version_id: str | None
    etag: str
    content_type: str
    metadata: dict[str, str]


class DocumentStore:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def get_document(self, key: str, version_id: str | None = None) -> StoredDocument:
        """The document as the notification named it: that version, when there is one."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            response = self._s3.get_object(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"NoSuchKey", "NoSuchVersion", "404"}:
                raise DocumentGone(key) from exc
            raise
        return StoredDocument(
            key=key,
            body=response["Body"].read(),
            version_id=response.get("VersionId") or version_id,
            etag=response.get("ETag", "").strip('"'),
            content_type=response.get("ContentType", ""),
            metadata=response.get("Metadata", {}),
        )

    def put_result(self, obj: ResultObject) -> None:
        self._s3.put_object(
            Bucket=self.bucket,
            Key=obj.key,
            Body=obj.body,
            ContentType=obj.content_type,
            Metadata=obj.metadata,
        )

    def put_newest(self, obj: ResultObject, sibling: str | None = None) -> Superseded | None:
        """Write a document version's result object unless its key already holds the outcome
        of a newer version of the same document; then write nothing and say who holds it.

        Versions are ordered by their S3 event sequencer (metadata ``batchdrop-sequencer``),
        comparable only for one source key (``batchdrop-source``). An object without a
        sequencer is written unconditionally, as before. The write is conditional: created
        with ``If-None-Match: *`` (one request when the key is new), or replacing exactly the
        object that was looked at (``If-Match`` its ETag), so a newer version's answer written
        between the look and the write is never overwritten. ``sibling``: the document's other
        result key (its answer's, for an error object); a newer version there supersedes too
        (that check is a plain HEAD, not atomic with the write).
        """
        sequencer = obj.metadata.get(METADATA_SEQUENCER)
        if not sequencer:
            self.put_result(obj)
            return None
        if sibling:
            head = self._head(sibling)
            held = _newer_holder(obj, sibling, head) if head is not None else None
            if held is not None:
                return held
        condition = {"IfNoneMatch": "*"}
        for _ in range(CONDITIONAL_ATTEMPTS):
            try:
                self._s3.put_object(
                    Bucket=self.bucket,
                    Key=obj.key,
                    Body=obj.body,
                    ContentType=obj.content_type,
                    Metadata=obj.metadata,
                    **condition,  # type: ignore[arg-type]
                )
                return None
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in _CONDITION_FAILED:
                    raise
            head = self._head(obj.key)
            if head is None:
                condition = {"IfNoneMatch": "*"}
                continue
            held = _newer_holder(obj, obj.key, head)
            if held is not None:
                return held
            condition = {"IfMatch": str(head["ETag"])}
        raise WriteContended(f"{obj.key}: other writes kept winning over {CONDITIONAL_ATTEMPTS} attempts")

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(self._s3.head_object(Bucket=self.bucket, Key=key))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    def put_once(
        self, key: str, body: bytes, content_type: str, metadata: dict[str, str], owner: str
    ) -> bool:
        """Write an object unless this owner (metadata ``batchdrop-previous-job``) already did.

        For objects whose every new version starts work (a workflow's next-stage documents): a
        completion resumed after a crash must not write them again.
        """
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=key)
            if head.get("Metadata", {}).get("batchdrop-previous-job") == owner:
                return False
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {"404", "NoSuchKey", "NotFound"}:
                raise
        self._s3.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, Metadata=metadata
        )
        return True

    def put_bytes(self, key: str, body: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def put_json(self, key: str, data: Any) -> None:
        body = json.dumps(data, ensure_ascii=False, indent=2).encode()
        self.put_bytes(key, body, "application/json; charset=utf-8")

    def get_json(self, key: str) -> Any:
        """The JSON object at a key, or None when there is none."""
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                return None
            raise
        return json.loads(body)

    def upload_file(self, key: str, path: str, content_type: str) -> None:
        """Upload a local file (multipart when large) without reading it into memory: at most
        UPLOAD_PARTS_IN_MEMORY parts of 8 MB at once (boto3's default is 10, 80 MB)."""
        self._s3.upload_file(path, self.bucket, key, ExtraArgs={"ContentType": content_type}, Config=_UPLOADS)

    def objects_under(self, prefix: str, suffixes: tuple[str, ...]) -> dict[str, bytes]:
        """``{key: body}`` of the objects under a prefix whose names end with one of the suffixes."""
        texts = {}
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                if obj["Key"].endswith(suffixes):
                    body = self._s3.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                    texts[obj["Key"]] = body
        return texts

    def read_lines(self, key: str) -> Iterator[str]:
        """Stream a text object line by line."""
        body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        for raw in body.iter_lines():
            yield raw.decode("utf-8")


def _newer_holder(obj: ResultObject, key: str, head: dict[str, Any]) -> Superseded | None:
    """Who holds ``key``, when that is a newer version of the document ``obj`` is about."""
    held = head.get("Metadata", {})
    theirs = held.get(METADATA_SEQUENCER)
    ours = obj.metadata[METADATA_SEQUENCER]
    if not theirs or held.get(METADATA_SOURCE) != obj.metadata.get(METADATA_SOURCE):
        return None  # no order known, or another source (sequencers of two keys do not compare)
    if not sequencer_is_newer(theirs, ours):
        return None  # an older version, or this very one written before (rewritten, same content)
    version_id, job_id = held.get(METADATA_VERSION_ID), held.get(METADATA_JOB)
    return Superseded(
        key=key,
        version_id=unquote(version_id) if version_id else None,
        sequencer=theirs,
        job_id=unquote(job_id) if job_id else None,
    )


DocumentVersion = tuple[str, str | None]  # (key, version id)


class ReadAhead:
    """Reads the documents of a window before they are needed, ``concurrency`` at a time.

    Documents are handled one by one, in order (conversion, ids and batch splitting depend on
    it), but S3's latency need not be paid one by one: the reads of the next few documents are
    in flight while one is converted. At most ``2 * concurrency`` bodies are read ahead. A read
    that fails raises from ``get``, for that document alone.
    """

    def __init__(self, read: Callable[[str, str | None], StoredDocument], concurrency: int) -> None:
        self._read = read
        self._pool = (
            ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="document-reader")
            if concurrency > 1
            else None
        )
        self._depth = 2 * concurrency
        self._planned: list[DocumentVersion] = []
        self._position: dict[DocumentVersion, int] = {}
        self._next = 0
        self._inflight: OrderedDict[DocumentVersion, Future[StoredDocument]] = OrderedDict()

    def plan(self, documents: Iterable[DocumentVersion]) -> None:
        """The documents that ``get`` will be asked for, in that order (repeats are read once)."""
        for doc in documents:
            if doc not in self._position:
                self._position[doc] = len(self._planned)
                self._planned.append(doc)
        self._fill()

    def get(self, key: str, version_id: str | None) -> StoredDocument:
        """The document, read ahead when it was planned. Planned documents before it that were
        not asked for (rejected before reading) are dropped."""
        wanted = (key, version_id)
        position = self._position.get(wanted)
        future = None
        if position is not None:
            while self._inflight and self._position[next(iter(self._inflight))] < position:
                self._inflight.popitem(last=False)[1].cancel()
            future = self._inflight.pop(wanted, None)
            self._next = max(self._next, position + 1)
        self._fill()
        return future.result() if future is not None else self._read(key, version_id)

    def _fill(self) -> None:
        if self._pool is None:
            return
        while len(self._inflight) < self._depth and self._next < len(self._planned):
            doc = self._planned[self._next]
            self._next += 1
            self._inflight[doc] = self._pool.submit(self._read, *doc)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
