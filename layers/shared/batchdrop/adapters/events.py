"""Turn the three shapes of "an object was created" into plain object references.

Submit is reached by an S3 notification wrapped in SQS (the deployed path), a plain S3
notification (``sam local invoke -e events/s3-put.json``) and an EventBridge "Object Created"
event. Keys arrive URL-encoded (spaces as ``+``) in all of them and are decoded here, once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventBridgeNotificationEvent

from batchdrop.domain.documents import S3ObjectRef

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

__all__ = [
    "Notifications",
    "S3ObjectRef",
    "UnrecognisedEvent",
    "is_sqs_event",
    "objects_in_notification",
    "objects_in_sqs_body",
    "parse_records",
    "sequencer_is_newer",
]


class UnrecognisedEvent(ValueError):
    """The payload is none of the notification shapes batchdrop accepts."""


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


def parse_records(records: list[dict[str, Any]]) -> dict[str, list[S3ObjectRef]]:
    """The objects each record names, by message id, to read ahead. A record that cannot be
    parsed is left out: its own handling parses it again and reports it."""
    parsed = {}
    for record in records:
        try:
            parsed[record["messageId"]] = objects_in_sqs_body(record["body"])
        except (KeyError, TypeError, UnrecognisedEvent):
            continue
    return parsed


@dataclass
class Notifications:
    """The objects one Submit invocation was told about (usecases.submit.window.Notices).

    Through SQS (the deployed path), each record is handled by Powertools' BatchProcessor: a
    record that fails is reported for redelivery alone (``batchItemFailures``) and the others
    go on. A plain S3 notification or an EventBridge event is handled whole.
    """

    event: Mapping[str, Any]
    context: Any
    new_processor: Callable[[], BatchProcessor] | None = None  # for SQS events
    _by_record: dict[str, list[S3ObjectRef]] | None = None
    _refs: list[S3ObjectRef] = field(default_factory=list)

    @classmethod
    def of(
        cls, event: Mapping[str, Any], context: Any, new_processor: Callable[[], BatchProcessor]
    ) -> Notifications:
        """Parse the event; UnrecognisedEvent when it is not SQS and none of the S3 shapes."""
        if is_sqs_event(event):
            return cls(event, context, new_processor, _by_record=parse_records(event["Records"]))
        return cls(event, context, _refs=list(objects_in_notification(event)))

    def planned(self) -> list[S3ObjectRef]:
        """Every object named, in order (those of unparseable records left out), to read ahead."""
        if self._by_record is None:
            return list(self._refs)
        return [ref for refs in self._by_record.values() for ref in refs]

    def each(self, take: Callable[[S3ObjectRef], None]) -> dict[str, Any]:
        """Give every object to ``take``, in order; the SQS partial-failure response ({} if none)."""
        if self._by_record is None or self.new_processor is None:
            for ref in self._refs:
                take(ref)
            return {}
        by_record = self._by_record

        def add_record(record: SQSRecord) -> None:
            refs = by_record.get(record.message_id)
            for ref in refs if refs is not None else objects_in_sqs_body(record.body):
                take(ref)

        processor = self.new_processor()
        # A record that fails to read is reported and retried alone; the rest go out now.
        with processor(list(self.event["Records"]), add_record, self.context):
            processor.process()
        return dict(processor.response())
