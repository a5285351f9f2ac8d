"""What S3 does that moto does not: its limits on keys and metadata, and the fields of its events.

Limits (answered before moto sees the request, see ``s3_limit_refusal``):

- An object key is "a sequence of Unicode characters whose UTF-8 encoding is at most 1,024
  bytes long" (S3 User Guide, *Naming objects*); a longer one is refused with 400
  ``KeyTooLongError`` ("Your key is too long"), with ``Size`` and ``MaxSizeAllowed``.
- "Within the PUT request header, the user-defined metadata is limited to 2 KB in size. The size
  of user-defined metadata is measured by taking the sum of the number of bytes in the UTF-8
  encoding of each key and value" (S3 User Guide, *Working with object metadata*): more than
  2,048 bytes is refused with 400 ``MetadataTooLarge`` ("Your metadata headers exceed the
  maximum allowed metadata size").

Events (``make_s3_events_faithful``, a patch of moto's ``moto.s3.notifications`` in this
process): moto's records carry no ``versionId`` and no ``sequencer``, and encode the slashes of a
key (S3 form-encodes the key but keeps its slashes). S3's carry the object's
version when the bucket is versioned, and a sequencer, "a string representation of a hexadecimal
value used to determine event sequence, only used with PUTs and DELETEs". The S3 User Guide
(*Event message structure*): "If you compare the sequencer strings from two event notifications
on the same object key, the event notification with the greater sequencer hexadecimal value is
the event that occurred later ... The sequencers can be of different lengths. So, to compare
these values, first right pad the shorter value with zeros, and then do a lexicographical
comparison." (Older revisions of that page said "left pad"; the current one, which batchdrop's
``s3_events.sequencer_is_newer`` follows, says right.) The sequencers made here are S3's usual
18 hexadecimal digits: a time stamp that grows per key, then a per-key counter's low byte;
``sequencer_order`` is the documented comparison.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote_plus

MAX_KEY_BYTES = 1024
MAX_USER_METADATA_BYTES = 2048
_METADATA_PREFIX = "HTTP_X_AMZ_META_"

# Operations that name a new object key (and, for the metadata limit, carry its metadata).
_KEY_OPERATIONS = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})


def s3_limit_refusal(
    operation: str, key_bytes: bytes, environ: Mapping[str, Any]
) -> tuple[int, str, str, dict[str, str]] | None:
    """(status, code, message, extra elements) when S3 would refuse the request, else None."""
    if operation not in _KEY_OPERATIONS:
        return None
    if len(key_bytes) > MAX_KEY_BYTES:
        return (
            400,
            "KeyTooLongError",
            "Your key is too long",
            {"Size": str(len(key_bytes)), "MaxSizeAllowed": str(MAX_KEY_BYTES)},
        )
    if (
        operation == "CopyObject"
        and environ.get("HTTP_X_AMZ_METADATA_DIRECTIVE", "COPY").upper() != "REPLACE"
    ):
        return None  # the copy keeps the source's metadata, which S3 already accepted
    size = user_metadata_bytes(environ)
    if size > MAX_USER_METADATA_BYTES:
        return (
            400,
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size",
            {"Size": str(size), "MaxSizeAllowed": str(MAX_USER_METADATA_BYTES)},
        )
    return None


def user_metadata_bytes(environ: Mapping[str, Any]) -> int:
    """The UTF-8 bytes of each user metadata key (without ``x-amz-meta-``) and value."""
    total = 0
    for name, value in environ.items():
        if name.startswith(_METADATA_PREFIX) and isinstance(value, str):
            total += len(name) - len(_METADATA_PREFIX)  # header names are ASCII
            # WSGI gives header values as latin-1 strings of the bytes that were sent.
            try:
                total += len(value.encode("latin-1"))
            except UnicodeEncodeError:
                total += len(value.encode("utf-8"))
    return total


def sequencer_order(sequencer: str) -> str:
    """The documented comparison key: right-pad with zeros, then compare as strings."""
    return sequencer.upper().ljust(64, "0")


class _Sequencers:
    """Per key, a growing hexadecimal sequencer; unique across keys as well."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._per_key: dict[tuple[str, str], int] = {}
        self._stamp = 0

    def next(self, bucket: str, key: str) -> str:
        with self._lock:
            generation = self._per_key.get((bucket, key), 0) + 1
            self._per_key[(bucket, key)] = generation
            self._stamp = max(self._stamp + 1, time.time_ns() // 1000)
            stamp = self._stamp
        # The stamp decides the order (it grows for every event); the counter's byte makes each
        # sequencer of a key distinct, as S3's are.
        return f"{stamp:016X}{generation % 256:02X}"


SEQUENCERS = _Sequencers()
_CURRENT = threading.local()
_SEQUENCED_EVENTS = ("s3:ObjectCreated:", "s3:ObjectRemoved:")


def _faithful_send_event(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def send_event(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
        # One sequencer per event, shared by every destination the event goes to.
        name = str(getattr(event_name, "value", event_name))
        sequenced = name.startswith(_SEQUENCED_EVENTS)
        _CURRENT.sequencer = SEQUENCERS.next(bucket.name, key.name) if sequenced else None
        try:
            original(account_id, event_name, bucket, key)
        finally:
            _CURRENT.sequencer = None

    send_event.__batchdrop_faithful__ = True  # type: ignore[attr-defined]
    return send_event


def _faithful_record(original: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    @functools.wraps(original)
    def get_s3_event(event_name: Any, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event = original(event_name, bucket, key, notification_id)
        for record in event.get("Records", []):
            s3 = record["s3"]
            obj = s3["object"]
            # Form-encoded as S3 does ("red flower.jpg" -> "red+flower.jpg"), but S3 leaves the
            # slashes of a key as they are, where moto encodes them as %2F.
            obj["key"] = quote_plus(key.name, safe="/")
            if getattr(bucket, "versioning_status", None) in ("Enabled", "Suspended"):
                obj["versionId"] = key.version_id
            sequencer = getattr(_CURRENT, "sequencer", None)
            if sequencer:
                obj["sequencer"] = sequencer
            if record.get("eventName", "").startswith("ObjectRemoved:"):
                obj.pop("size", None)  # S3's deletion records name the key and version only
                obj.pop("eTag", None)
            principal = "AWS:AIDALOCALSTACKUSER"
            record.setdefault("userIdentity", {"principalId": principal})
            record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
            record.setdefault(
                "responseElements",
                {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": uuid.uuid4().hex},
            )
            s3["bucket"].setdefault("ownerIdentity", {"principalId": "A3LOCALOWNER"})
        return event

    get_s3_event.__batchdrop_faithful__ = True  # type: ignore[attr-defined]
    return get_s3_event


def make_s3_events_faithful() -> None:
    """Idempotent: moto's S3 notifications (to SQS, SNS and Lambda) get S3's ``versionId``,
    ``sequencer`` and request fields. moto's EventBridge path builds its event elsewhere and keeps
    moto's constant sequencer; the template does not use it."""
    from moto.s3 import notifications

    if not getattr(notifications.send_event, "__batchdrop_faithful__", False):
        notifications.send_event = _faithful_send_event(notifications.send_event)
    if not getattr(notifications._get_s3_event, "__batchdrop_faithful__", False):
        notifications._get_s3_event = _faithful_record(notifications._get_s3_event)
