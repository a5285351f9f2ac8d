"""Turn the three shapes of "an object was created" into plain object references.

Submit is reached by an S3 notification wrapped in SQS (the deployed path), a plain S3
notification (``sam local invoke -e events/s3-put.json``) and an EventBridge "Object Created"
event. Keys arrive URL-encoded (spaces as ``+``) in all of them and are decoded here, once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventBridgeNotificationEvent


class UnrecognisedEvent(ValueError):
    """The payload is none of the notification shapes batchdrop accepts."""


@dataclass(frozen=True)
class S3ObjectRef:
    """One created object, with the version that the notification was about."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str = ""
    size: int | None = None
    # Orders the events of one key (a later version has a greater one): see sequencer_is_newer.
    sequencer: str | None = None


def sequencer_is_newer(candidate: str, than: str) -> bool:
    """Whether the event with sequencer ``candidate`` came after the one with ``than`` (same key).

    S3's rule: sequencers may differ in length; right-pad the shorter with zeros, then compare
    the strings lexicographically (they are hexadecimal, compared case-insensitively here).
    Sequencers of different keys cannot be compared.
    """
    width = max(len(candidate), len(than))
    return candidate.upper().ljust(width, "0") > than.upper().ljust(width, "0")


def is_sqs_event(event: Mapping[str, Any]) -> bool:
    records = event.get("Records") or []
    return bool(records) and all(r.get("eventSource") == "aws:sqs" for r in records)


def objects_in_notification(payload: Mapping[str, Any]) -> list[S3ObjectRef]:
    """Created objects named by an S3 notification or an EventBridge S3 event.

    ``s3:TestEvent`` (sent when a notification is configured) names none. Deletions and other
    event names are ignored: only creation starts work.
    """
    if payload.get("Event") == "s3:TestEvent":
        return []
    if "Records" in payload:
        return _from_s3_notification(payload)
    if payload.get("source") == "aws.s3" and "detail" in payload:
        return _from_eventbridge(payload)
    raise UnrecognisedEvent(f"not an S3 notification or EventBridge S3 event: keys {sorted(payload)[:8]}")


def objects_in_sqs_body(body: str) -> list[S3ObjectRef]:
    """Created objects named by the body of one SQS message."""
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as exc:
        raise UnrecognisedEvent(f"SQS message body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise UnrecognisedEvent("SQS message body is not a JSON object")
    return objects_in_notification(payload)


def _from_s3_notification(payload: Mapping[str, Any]) -> list[S3ObjectRef]:
    event = S3Event(dict(payload))
    refs = []
    for record in event.records:
        if record.get("eventSource") != "aws:s3":
            raise UnrecognisedEvent(f"record from {record.get('eventSource')!r}, expected aws:s3")
        if not record.event_name.startswith("ObjectCreated:"):
            continue
        obj = record.s3.get_object
        refs.append(
            S3ObjectRef(
                bucket=record.s3.bucket.name,
                # The record's own key is URL-encoded; S3Event.object_key decodes only the first.
                key=unquote_plus(obj.key),
                version_id=obj.version_id or None,
                etag=obj.etag,
                size=obj.get("size"),
                sequencer=obj.get("sequencer") or None,
            )
        )
    return refs


def _from_eventbridge(payload: Mapping[str, Any]) -> list[S3ObjectRef]:
    event = S3EventBridgeNotificationEvent(dict(payload))
    if event.detail_type != "Object Created":
        return []
    obj = event.detail.object
    return [
        S3ObjectRef(
            bucket=event.detail.bucket.name,
            key=obj.key,  # decoded by the data class
            version_id=obj.get("version-id") or None,
            etag=obj.etag,
            size=obj.size,
            sequencer=obj.get("sequencer") or None,
        )
    ]
