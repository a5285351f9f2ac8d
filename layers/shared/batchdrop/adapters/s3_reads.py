"""What a failed S3 read of a document means for that document: gone, unreadable (archived,
encrypted with a key batchdrop cannot use, access denied), too large, or nothing about the
document at all (the notification is then retried). Used by the bucket adapter (s3_bucket)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from batchdrop.ports.bucket import DocumentGone, DocumentTooLarge, DocumentUnreadable

# Codes that say something about the request or the stack (credentials, clock, throttling, a
# missing bucket), not about the document: raised, so that the notification is retried.
_NOT_ABOUT_THE_DOCUMENT = frozenset(
    {
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "RequestTimeTooSkewed",
        "AuthorizationHeaderMalformed",
        "AccountProblem",
        "AllAccessDisabled",
        "NoSuchBucket",
        "SlowDown",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "InternalError",
        "ServiceUnavailable",
    }
)
_GONE = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})
# GET or HEAD of a version that is itself a delete marker.
_DELETE_MARKER_VERSION = frozenset({"MethodNotAllowed", "405"})


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB ({size:,} bytes)"


def too_large(size: int, limit: int) -> DocumentTooLarge:
    return DocumentTooLarge(
        f"the document is {megabytes(size)}; batchdrop reads documents of this kind up to {megabytes(limit)}"
    )


def read_failure(exc: ClientError, key: str) -> Exception | None:
    """What a failed GET or HEAD of a document means for that document, None when it is not
    about the document (raise the ClientError: the notification is retried).

    What S3 answers (its docs and SDK references): a missing key or version is 404 NoSuchKey /
    NoSuchVersion; a version that is a delete marker 405 MethodNotAllowed; an object in Glacier
    Flexible Retrieval, Deep Archive or an Intelligent-Tiering archive tier that is not restored
    403 InvalidObjectState (with StorageClass and AccessTier); an SSE-C object read without its
    key 400 InvalidRequest ("The object was stored using a form of Server Side Encryption...");
    a KMS key the caller may not use 403 AccessDenied (the same as no s3:GetObject), other KMS
    problems KMS.* codes. A HEAD error has no body: only its status code ("400", "403").
    """
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "")).strip()
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in _GONE or code in _DELETE_MARKER_VERSION:
        return DocumentGone(key)
    if code in _NOT_ABOUT_THE_DOCUMENT or not isinstance(status, int) or status >= 500:
        return None
    said = f" (S3: {code}{': ' + message if message and message != code else ''})"
    if code == "InvalidObjectState":
        storage_class = error.get("StorageClass") or exc.response.get("StorageClass") or "an archive class"
        tier = error.get("AccessTier") or exc.response.get("AccessTier")
        where = f"storage class {storage_class}" + (f", {tier} tier" if tier else "")
        return DocumentUnreadable(
            f"the document is archived ({where}) and cannot be read until it is restored; "
            "restore it (S3 RestoreObject) and upload it again"
        )
    if code.startswith("KMS."):
        return DocumentUnreadable(
            f"the document is encrypted with an AWS KMS key that batchdrop cannot use{said}; "
            "give the Submit function kms:Decrypt on that key, "
            "or upload the document with the bucket's default encryption"
        )
    if status == 400 and (code == "400" or "server side encryption" in message.lower()):
        return DocumentUnreadable(
            "the document is encrypted with a customer-provided key (SSE-C); batchdrop does not have "
            f"the key and cannot read it{said}; upload it without SSE-C"
        )
    if status == 403 and code in {"AccessDenied", "403"}:
        return DocumentUnreadable(
            f"S3 denied batchdrop access to the document{said}: the Submit function may not read it, "
            "or may not use the KMS key it is encrypted with (kms:Decrypt)"
        )
    if status in {400, 403}:
        return DocumentUnreadable(f"S3 refused to give batchdrop the document{said}")
    return None
