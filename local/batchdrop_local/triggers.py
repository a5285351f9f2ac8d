"""The event sources of the template's functions, as Lambda's pollers and EventBridge run them.

- SQS: long-poll the queue, gather messages for the batching window or until the batch size,
  invoke, delete what succeeded (``batchItemFailures`` stay for redelivery and redrive).
- Schedule: a timer.
- EventBridgeRule: the rule is created on the local bus with the template's pattern and an SQS
  queue as its target (moto delivers to SQS); messages are handed to the function with the
  rule's retry policy, and to its dead-letter queue when retries run out.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from batchdrop_local.provision import ACCOUNT_ID, REGION
from batchdrop_local.runtime import FunctionWorker, Invocation

Report = Callable[[str], None]


class EventSource(threading.Thread):
    def __init__(self, name: str, worker: FunctionWorker, report: Report) -> None:
        super().__init__(name=name, daemon=True)
        self.worker = worker
        self.report = report
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()

    def invoke(self, event: dict[str, Any]) -> Invocation:
        result = self.worker.invoke(event)
        if not result.ok:
            first_lines = (result.error or "").strip().splitlines()[-1:]
            self.report(f"{self.worker.fn.logical_id} failed: {' '.join(first_lines)}")
        return result


class SqsSource(EventSource):
    def __init__(
        self,
        worker: FunctionWorker,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        batch_size: int,
        window_seconds: float,
        report: Report,
    ) -> None:
        super().__init__(f"sqs:{worker.fn.logical_id}", worker, report)
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.batch_size = batch_size
        self.window_seconds = window_seconds
        self._receiving = threading.Event()
        self._receiving.set()
        self._idle = threading.Event()  # set while paused with no window being gathered

    def pause(self, timeout: float = 60.0) -> None:
        """Stop receiving (messages wait in the queue), as disabling the event source mapping
        does; returns once a window already being gathered has been delivered."""
        self._idle.clear()
        self._receiving.clear()
        if not self._idle.wait(timeout):
            raise TimeoutError(f"{self.name} still delivering after {timeout:.0f} s")

    def resume(self) -> None:
        self._receiving.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            if not self._receiving.is_set():
                self._idle.set()
                self._receiving.wait(0.2)
                continue
            try:
                messages = self._gather()
                if messages:
                    self._deliver(messages)
            except Exception as exc:  # keep the poller alive, as Lambda's would
                if not self.stopping.is_set():
                    self.report(f"{self.worker.fn.logical_id} SQS poller error: {exc}")
                    time.sleep(1)

    def _gather(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        deadline: float | None = None
        while not self.stopping.is_set() and len(messages) < self.batch_size:
            if not messages and not self._receiving.is_set():
                break  # paused before this window began
            wait = 1 if deadline is None else max(0, min(1, int(deadline - time.monotonic())))
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages.extend(received)
            if messages and deadline is None:
                deadline = time.monotonic() + self.window_seconds
            if deadline is not None and time.monotonic() >= deadline:
                break
        return messages

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": self.queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
        result = self.invoke({"Records": records})
        if not result.ok:
            return  # every message becomes visible again after the visibility timeout
        failed = {f["itemIdentifier"] for f in (result.payload or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )


class ScheduleSource(EventSource):
    def __init__(self, worker: FunctionWorker, interval: float, rule_arn: str, report: Report) -> None:
        super().__init__(f"schedule:{worker.fn.logical_id}", worker, report)
        self.interval = interval
        self.rule_arn = rule_arn

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            self.invoke(scheduled_event(self.rule_arn))


def scheduled_event(rule_arn: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [rule_arn],
        "detail": {},
    }


class EventBridgeRuleSource(EventSource):
    """Deliveries of one rule, with its retry policy and dead-letter queue."""

    def __init__(
        self,
        worker: FunctionWorker,
        sqs: Any,
        target_queue_url: str,
        max_attempts: int,
        dead_letter_queue_url: str | None,
        report: Report,
        retry_delay: float = 1.0,
    ) -> None:
        super().__init__(f"rule:{worker.fn.logical_id}", worker, report)
        self.sqs = sqs
        self.target_queue_url = target_queue_url
        self.max_attempts = max_attempts
        self.dead_letter_queue_url = dead_letter_queue_url
        self.retry_delay = retry_delay

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                received = self.sqs.receive_message(
                    QueueUrl=self.target_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                ).get("Messages", [])
                for message in received:
                    self._deliver(json.loads(message["Body"]))
                    self.sqs.delete_message(
                        QueueUrl=self.target_queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
            except Exception as exc:
                if not self.stopping.is_set():
                    self.report(f"{self.worker.fn.logical_id} rule poller error: {exc}")
                    time.sleep(1)

    def _deliver(self, event: dict[str, Any]) -> None:
        for attempt in range(1, self.max_attempts + 1):
            if self.invoke(event).ok:
                return
            if attempt < self.max_attempts and self.stopping.wait(self.retry_delay * 2 ** (attempt - 1)):
                return
        self.report(f"{self.worker.fn.logical_id}: event {event.get('id')} sent to the dead-letter queue")
        if self.dead_letter_queue_url:
            self.sqs.send_message(QueueUrl=self.dead_letter_queue_url, MessageBody=json.dumps(event))
