"""The documents bucket: reading documents, writing results, manifests and summaries."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from batchdrop.adapters.events import sequencer_is_newer
from batchdrop.adapters.s3_reads import read_failure, too_large
from batchdrop.domain.results import (
    METADATA_JOB,
    METADATA_SEQUENCER,
    METADATA_SOURCE,
    METADATA_VERSION_ID,
    ResultObject,
    Superseded,
)
from batchdrop.ports.bucket import (
    DocumentGone,
    DocumentHead,
    DocumentTooLarge,
    DocumentUnreadable,
    StoredDocument,
    WriteContended,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "DocumentGone",
    "DocumentHead",
    "DocumentStore",
    "DocumentTooLarge",
    "DocumentUnreadable",
    "StoredDocument",
    "WriteContended",
]


UPLOAD_PARTS_IN_MEMORY = 4
_UPLOADS = TransferConfig(max_concurrency=UPLOAD_PARTS_IN_MEMORY)
_UPLOADS.max_in_memory_upload_chunks = UPLOAD_PARTS_IN_MEMORY  # s3transfer's setting, not in boto3's __init__


# A conditional write that fails (412: the key changed since it was looked at; 409: another
# write of the key was under way; 404: the object looked at is gone) is decided again.
_CONDITION_FAILED = frozenset(
    {"PreconditionFailed", "412", "ConditionalRequestConflict", "409", "NoSuchKey", "404"}
)
CONDITIONAL_ATTEMPTS = 5


class DocumentStore:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def head_document(self, key: str, version_id: str | None = None) -> DocumentHead:
        """The document's size, storage class and version, without reading it.

        DocumentGone when it (or that version) does not exist or a delete marker hides it;
        DocumentUnreadable when S3 refuses even its metadata (SSE-C objects answer HEAD with 400
        without their key).
        """
        response = self._read_call(self._s3.head_object, key, version_id)
        return DocumentHead(
            key=key,
            size=int(response.get("ContentLength", 0)),
            version_id=response.get("VersionId") or version_id,
            etag=response.get("ETag", "").strip('"'),
            storage_class=response.get("StorageClass") or "STANDARD",
            archive_status=response.get("ArchiveStatus"),
            restore=response.get("Restore"),
        )

    def current_version_deleted(self, key: str) -> bool:
        """Whether the key's current version is a delete marker: the document was deleted
        (S3 answers a HEAD without a version id with 404 and ``x-amz-delete-marker: true``).
        Any other answer, a newer real version included, is False: the GET decides."""
        try:
            self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            return str(headers.get("x-amz-delete-marker", "")).lower() == "true"
        return False

    def get_document(
        self,
        key: str,
        version_id: str | None = None,
        *,
        max_bytes: int | None = None,
        size: int | None = None,
    ) -> StoredDocument:
        """The document as the notification named it: that version, when there is one.

        - ``size`` (the event's object size) over ``max_bytes``: DocumentTooLarge, no request made.
        - A named version whose key is now a delete marker (deleted after the upload):
          DocumentGone, not read. A newer real version on top is fine: the named one is read.
        - An object over ``max_bytes`` (its Content-Length) is DocumentTooLarge without its body
          being read; a body longer than it said is cut off at ``max_bytes`` + 1 and refused too.
        - What S3 refuses to hand over: DocumentGone or DocumentUnreadable (see s3_reads.read_failure);
          other errors (throttling, credentials, 5xx) are raised as they are, to be retried.
        """
        if max_bytes is not None and size is not None and size > max_bytes:
            raise too_large(size, max_bytes)
        if version_id and self.current_version_deleted(key):
            raise DocumentGone(key)
        response = self._read_call(self._s3.get_object, key, version_id)
        stream = response["Body"]
        try:
            length = response.get("ContentLength")
            if max_bytes is not None and isinstance(length, int) and length > max_bytes:
                raise too_large(length, max_bytes)
            body = stream.read() if max_bytes is None else stream.read(max_bytes + 1)
            if max_bytes is not None and len(body) > max_bytes:
                raise too_large(len(body), max_bytes)
        finally:
            stream.close()
        return StoredDocument(
            key=key,
            body=body,
            version_id=response.get("VersionId") or version_id,
            etag=response.get("ETag", "").strip('"'),
            content_type=response.get("ContentType", ""),
            metadata=response.get("Metadata", {}),
            storage_class=response.get("StorageClass") or "STANDARD",
        )

    def _read_call(self, call: Callable[..., Any], key: str, version_id: str | None) -> Any:
        """A GET or HEAD of a document (that version, when named); a failure that is about the
        document (gone, unreadable) raised as what it means, others as they came."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            return call(**kwargs)
        except ClientError as exc:
            failure = read_failure(exc, key)
            if failure is None:
                raise
            raise failure from exc

    def put_result(self, obj: ResultObject, **condition: str) -> None:
        """Write a result object; ``condition``: S3's IfNoneMatch or IfMatch, when given."""
        self._s3.put_object(
            Bucket=self.bucket,
            Key=obj.key,
            Body=obj.body,
            ContentType=obj.content_type,
            Metadata=obj.metadata,
            **condition,  # type: ignore[arg-type]
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
                self.put_result(obj, **condition)
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

    def exists(self, key: str) -> bool:
        """Whether an object is at the key (HEAD)."""
        try:
            self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

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
