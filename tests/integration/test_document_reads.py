"""DocumentStore's reads against moto's S3 (in process): deleted, archived and oversize objects
each become that document's own explained outcome, and nothing is read that need not be."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from batchdrop.adapters.s3_bucket import DocumentGone, DocumentStore, DocumentTooLarge, DocumentUnreadable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "batchdrop-reads"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Client]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


@pytest.fixture
def store(s3: S3Client) -> DocumentStore:
    return DocumentStore(s3, BUCKET)


def _put(s3: S3Client, key: str, body: bytes, **extra: Any) -> str:
    return s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)["VersionId"]


def test_the_named_version_is_read(s3: S3Client, store: DocumentStore) -> None:
    first = _put(s3, "inbox/a.txt", b"first")
    _put(s3, "inbox/a.txt", b"second")
    # A newer real version on top does not hide the one the event named
    document = store.get_document("inbox/a.txt", first, max_bytes=100)
    assert (document.body, document.version_id, document.storage_class) == (b"first", first, "STANDARD")


def test_a_version_whose_key_was_deleted_since_is_gone_and_not_read(
    s3: S3Client, store: DocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a document deleted (a delete marker on top) before Submit reads the version named by its event
    version = _put(s3, "inbox/a.txt", b"secret")
    s3.delete_object(Bucket=BUCKET, Key="inbox/a.txt")
    gets: list[dict[str, Any]] = []
    real_get = s3.get_object

    def watched_get(**kwargs: Any) -> Any:
        gets.append(kwargs)
        return real_get(**kwargs)

    monkeypatch.setattr(s3, "get_object", watched_get)
    # Then it is gone, and its bytes were never fetched
    with pytest.raises(DocumentGone):
        store.get_document("inbox/a.txt", version)
    assert gets == []
    assert store.current_version_deleted("inbox/a.txt")


def test_a_missing_key_or_version_is_gone(s3: S3Client, store: DocumentStore) -> None:
    _put(s3, "inbox/a.txt", b"x")
    with pytest.raises(DocumentGone):
        store.get_document("inbox/never.txt")
    with pytest.raises(DocumentGone):
        store.get_document("inbox/a.txt", "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    assert not store.current_version_deleted("inbox/a.txt")
    assert not store.current_version_deleted("inbox/never.txt")


@pytest.mark.parametrize("storage_class", ["GLACIER", "DEEP_ARCHIVE"])
def test_an_archived_document_is_unreadable_with_its_storage_class(
    s3: S3Client, store: DocumentStore, storage_class: str
) -> None:
    version = _put(s3, "inbox/old.pdf", b"%PDF-1.7", StorageClass=storage_class)
    assert store.head_document("inbox/old.pdf").storage_class == storage_class
    with pytest.raises(DocumentUnreadable) as caught:
        store.get_document("inbox/old.pdf", version)
    assert str(caught.value) == (
        f"the document is archived (storage class {storage_class}) and cannot be read until it is "
        "restored; restore it (S3 RestoreObject) and upload it again"
    )


def test_an_oversize_document_is_refused_by_its_length_without_reading_its_body(
    s3: S3Client, store: DocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = _put(s3, "inbox/big.txt", b"x" * 2048)
    reads: list[int | None] = []
    real_get = s3.get_object

    def watched_get(**kwargs: Any) -> Any:
        response = real_get(**kwargs)
        body = response["Body"]
        real_read = body.read

        def watched_read(amt: int | None = None) -> bytes:
            reads.append(amt)
            return real_read(amt)

        monkeypatch.setattr(body, "read", watched_read)
        return response

    monkeypatch.setattr(s3, "get_object", watched_get)
    with pytest.raises(DocumentTooLarge) as caught:
        store.get_document("inbox/big.txt", version, max_bytes=1024)
    assert str(caught.value) == (
        "the document is 0.0 MB (2,048 bytes); batchdrop reads documents of this kind up to 0.0 MB (1,024 bytes)"
    )
    assert reads == []
    # At the limit it is read
    assert store.get_document("inbox/big.txt", version, max_bytes=2048).body == b"x" * 2048


def test_the_events_size_refuses_an_oversize_document_before_any_request(
    s3: S3Client, store: DocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(s3, "head_object", lambda **kw: calls.append("head"))
    monkeypatch.setattr(s3, "get_object", lambda **kw: calls.append("get"))
    with pytest.raises(DocumentTooLarge):
        store.get_document("inbox/huge.pdf", "v1", max_bytes=1024, size=5 * 1024**3)
    assert calls == []


def test_head_document_reports_size_version_and_class(s3: S3Client, store: DocumentStore) -> None:
    version = _put(s3, "inbox/a.txt", b"hello", StorageClass="STANDARD_IA")
    head = store.head_document("inbox/a.txt", version)
    assert (head.size, head.version_id, head.storage_class) == (5, version, "STANDARD_IA")
    s3.delete_object(Bucket=BUCKET, Key="inbox/a.txt")
    with pytest.raises(DocumentGone):
        store.head_document("inbox/a.txt")
