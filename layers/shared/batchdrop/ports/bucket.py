"""The bucket port: documents read, result objects and job files written."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from batchdrop.domain.documents import DocumentRejected
from batchdrop.domain.results import ResultObject, Superseded


class DocumentGone(LookupError):
    """The object (or that version of it) no longer exists, or a delete marker hides it."""


class DocumentUnreadable(DocumentRejected):
    """S3 will not give batchdrop this document's bytes (encrypted with a key batchdrop does
    not have or may not use, archived, forbidden). The message says why, for the user."""


class DocumentTooLarge(DocumentRejected):
    """The document is larger than any request of its kind may be; it was not read."""


class WriteContended(RuntimeError):
    """A conditional write kept losing to other writers of the same key."""


@dataclass(frozen=True)
class StoredDocument:
    key: str
    body: bytes
    version_id: str | None
    etag: str
    content_type: str
    metadata: dict[str, str]
    storage_class: str = "STANDARD"


@dataclass(frozen=True)
class DocumentHead:
    """What a HEAD of a document says, without its bytes."""

    key: str
    size: int
    version_id: str | None
    etag: str
    storage_class: str  # STANDARD when S3 leaves the header out
    archive_status: str | None  # ARCHIVE_ACCESS / DEEP_ARCHIVE_ACCESS (Intelligent-Tiering)
    restore: str | None  # the x-amz-restore header of an archived object being or once restored


class Bucket(Protocol):
    """What the use cases need of the documents bucket (adapters.s3_bucket.DocumentStore)."""

    bucket: str

    def uri(self, key: str) -> str: ...

    def head_document(self, key: str, version_id: str | None = None) -> DocumentHead: ...

    def get_document(
        self,
        key: str,
        version_id: str | None = None,
        *,
        max_bytes: int | None = None,
        size: int | None = None,
    ) -> StoredDocument: ...

    def put_result(self, obj: ResultObject, **condition: str) -> None: ...

    def put_newest(self, obj: ResultObject, sibling: str | None = None) -> Superseded | None: ...

    def put_once(
        self, key: str, body: bytes, content_type: str, metadata: dict[str, str], owner: str
    ) -> bool: ...

    def put_bytes(self, key: str, body: bytes, content_type: str) -> None: ...

    def put_json(self, key: str, data: Any) -> None: ...

    def get_json(self, key: str) -> Any: ...

    def upload_file(self, key: str, path: str, content_type: str) -> None: ...

    def objects_under(self, prefix: str, suffixes: tuple[str, ...]) -> dict[str, bytes]: ...

    def exists(self, key: str) -> bool: ...

    def read_lines(self, key: str) -> Iterator[str]: ...
