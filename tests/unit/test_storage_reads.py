"""DocumentStore.get_document: what each refusal S3 can give becomes, with botocore's Stubber
(S3's answers as botocore parses them; no network)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from batchdrop.adapters.s3_bucket import DocumentGone, DocumentStore, DocumentUnreadable
from batchdrop.domain.documents import DocumentRejected

BUCKET = "batchdrop-unit"
KEY = "inbox/default/report.pdf"


@pytest.fixture
def s3() -> Any:
    return boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


@pytest.fixture
def stub(s3: Any) -> Iterator[Stubber]:
    with Stubber(s3) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def _fail_get(stub: Stubber, code: str, status: int, message: str = "", **fields: Any) -> None:
    stub.add_client_error(
        "get_object",
        service_error_code=code,
        service_message=message,
        http_status_code=status,
        service_error_meta=fields or None,
        modeled_fields=fields or None,
    )


def _unreadable(s3: Any) -> str:
    with pytest.raises(DocumentUnreadable) as caught:
        DocumentStore(s3, BUCKET).get_document(KEY)
    assert isinstance(caught.value, DocumentRejected)  # Submit's rejection path takes it as is
    return str(caught.value)


def test_an_sse_c_object_is_unreadable_and_says_why(s3: Any, stub: Stubber) -> None:
    _fail_get(
        stub,
        "InvalidRequest",
        400,
        "The object was stored using a form of Server Side Encryption. "
        "The correct parameters must be provided to retrieve the object.",
    )
    assert _unreadable(s3).startswith(
        "the document is encrypted with a customer-provided key (SSE-C); batchdrop does not have the key "
        "and cannot read it (S3: InvalidRequest: The object was stored using a form of Server Side Encryption."
    )


def test_an_sse_c_object_answers_head_with_a_bare_400(s3: Any, stub: Stubber) -> None:
    stub.add_client_error(
        "head_object", service_error_code="400", service_message="Bad Request", http_status_code=400
    )
    with pytest.raises(DocumentUnreadable, match=r"customer-provided key \(SSE-C\)"):
        DocumentStore(s3, BUCKET).head_document(KEY)


def test_a_kms_key_the_function_may_not_use_is_explained(s3: Any, stub: Stubber) -> None:
    _fail_get(stub, "AccessDenied", 403, "Access Denied")
    assert _unreadable(s3) == (
        "S3 denied batchdrop access to the document (S3: AccessDenied: Access Denied): the Submit function "
        "may not read it, or may not use the KMS key it is encrypted with (kms:Decrypt)"
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [("KMS.DisabledException", 400), ("KMS.NotFoundException", 400), ("KMS.KMSInvalidStateException", 400)],
)
def test_kms_errors_are_the_documents_own(s3: Any, stub: Stubber, code: str, status: int) -> None:
    _fail_get(stub, code, status, "The key is not usable")
    assert _unreadable(s3).startswith(
        f"the document is encrypted with an AWS KMS key that batchdrop cannot use (S3: {code}: The key is not usable)"
    )


def test_an_intelligent_tiering_archive_tier_is_named(s3: Any, stub: Stubber) -> None:
    _fail_get(
        stub,
        "InvalidObjectState",
        403,
        "The operation is not valid for the object's storage class",
        StorageClass="INTELLIGENT_TIERING",
        AccessTier="DEEP_ARCHIVE_ACCESS",
    )
    assert _unreadable(s3) == (
        "the document is archived (storage class INTELLIGENT_TIERING, DEEP_ARCHIVE_ACCESS tier) and cannot be "
        "read until it is restored; restore it (S3 RestoreObject) and upload it again"
    )


def test_any_other_400_or_403_is_the_documents_own_error(s3: Any, stub: Stubber) -> None:
    _fail_get(stub, "InvalidArgument", 400, "Something about this object")
    assert _unreadable(s3) == (
        "S3 refused to give batchdrop the document (S3: InvalidArgument: Something about this object)"
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ExpiredToken", 400),
        ("SignatureDoesNotMatch", 403),
        ("RequestTimeTooSkewed", 403),
        ("SlowDown", 503),
        ("InternalError", 500),
        ("NoSuchBucket", 404),
    ],
)
def test_errors_about_the_stack_not_the_document_are_raised_for_a_retry(
    s3: Any, stub: Stubber, code: str, status: int
) -> None:
    _fail_get(stub, code, status)
    with pytest.raises(ClientError) as caught:
        DocumentStore(s3, BUCKET).get_document(KEY)
    assert caught.value.response["Error"]["Code"] == code


def test_a_version_that_is_itself_a_delete_marker_is_gone(s3: Any, stub: Stubber) -> None:
    # Given the current version is a real object, but the version named is a delete marker
    stub.add_response("head_object", {"ContentLength": 3}, {"Bucket": BUCKET, "Key": KEY})
    _fail_get(stub, "MethodNotAllowed", 405, "The specified method is not allowed against this resource.")
    with pytest.raises(DocumentGone):
        DocumentStore(s3, BUCKET).get_document(KEY, "marker-version")


def test_a_delete_marker_on_top_is_seen_in_the_heads_headers(s3: Any, stub: Stubber) -> None:
    # S3 answers a HEAD of a key whose current version is a delete marker with a bare 404 whose
    # headers say x-amz-delete-marker: true
    stub.add_client_error(
        "head_object",
        service_error_code="404",
        service_message="Not Found",
        http_status_code=404,
        response_meta={"HTTPHeaders": {"x-amz-delete-marker": "true", "x-amz-version-id": "dm1"}},
    )
    with pytest.raises(DocumentGone):
        DocumentStore(s3, BUCKET).get_document(KEY, "v1")
