"""Telling people and other systems: the SNS topic and the job event bus."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sns import SNSClient

from batchdrop.ports.messages import BATCH_ENDED, EVENT_SOURCE, JOB_COMPLETED, EventNotDelivered

__all__ = ["BATCH_ENDED", "EVENT_SOURCE", "JOB_COMPLETED", "EventNotDelivered", "JobEvents", "Notifier"]


class Notifier:
    def __init__(self, sns: SNSClient, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def publish(self, subject: str, message: dict[str, Any]) -> str:
        # SNS subjects: ASCII, no line breaks, at most 100 characters.
        safe_subject = subject.encode("ascii", "replace").decode().replace("\n", " ")[:100]
        response = self._sns.publish(
            TopicArn=self._topic_arn,
            Subject=safe_subject,
            Message=json.dumps(message, ensure_ascii=False, indent=2),
        )
        return response["MessageId"]


class JobEvents:
    def __init__(self, events: EventBridgeClient, bus_name: str) -> None:
        self._events = events
        self._bus_name = bus_name

    def emit(self, detail_type: str, detail: dict[str, Any]) -> None:
        response = self._events.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": self._bus_name,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            failure = response["Entries"][0]
            raise EventNotDelivered(
                f"{detail_type}: {failure.get('ErrorCode')} {failure.get('ErrorMessage')}"
            )
