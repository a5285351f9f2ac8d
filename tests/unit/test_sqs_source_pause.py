"""The local stack's SQS poller can be paused (messages wait in the queue) and resumed, so that a
test gathers uploads into one window by an event rather than by a window longer than the uploads."""

from __future__ import annotations

import queue
import threading
import time
from types import SimpleNamespace
from typing import Any

from batchdrop_local.runtime import Invocation
from batchdrop_local.triggers import SqsSource

DEADLINE = 60.0  # bounds a broken poller; a working one answers within a second


class FakeSqs:
    """A queue whose messages the test puts; receive_message long-polls briefly."""

    def __init__(self) -> None:
        self.waiting: queue.Queue[dict[str, Any]] = queue.Queue()
        self.receives = 0

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        self.receives += 1
        messages = []
        try:
            messages.append(self.waiting.get(timeout=min(0.05, kwargs["WaitTimeSeconds"] or 0.01)))
        except queue.Empty:
            return {}
        while len(messages) < kwargs["MaxNumberOfMessages"] and not self.waiting.empty():
            messages.append(self.waiting.get_nowait())
        return {"Messages": messages}

    def delete_message_batch(self, **kwargs: Any) -> None:
        pass

    def put(self, n: int) -> None:
        self.waiting.put({"MessageId": str(n), "ReceiptHandle": str(n), "Body": "{}"})


class FakeWorker:
    def __init__(self) -> None:
        self.fn = SimpleNamespace(logical_id="SubmitFunction")
        self.batches: queue.Queue[int] = queue.Queue()

    def invoke(self, event: dict[str, Any], timeout: float | None = None) -> Invocation:
        self.batches.put(len(event["Records"]))
        return Invocation(True, {}, None, 0.0)


def test_a_paused_poller_leaves_the_messages_queued_and_takes_them_in_one_window_once_resumed() -> None:
    sqs, worker = FakeSqs(), FakeWorker()
    source = SqsSource(worker, sqs, "url", "arn", batch_size=5, window_seconds=DEADLINE, report=print)  # type: ignore[arg-type]
    source.start()
    try:
        source.pause(timeout=DEADLINE)
        for n in range(5):
            sqs.put(n)
        receives = sqs.receives
        assert sqs.waiting.qsize() == 5 and worker.batches.empty()
        assert sqs.receives == receives  # paused: not even receiving
        source.resume()
        # the batch size, not the (long) window, closes it: all five in one invocation
        assert worker.batches.get(timeout=DEADLINE) == 5
    finally:
        source.stop()
        source.resume()
        source.join(DEADLINE)
    assert not source.is_alive()


def test_pause_waits_for_a_window_being_gathered_to_be_delivered() -> None:
    sqs, worker = FakeSqs(), FakeWorker()
    source = SqsSource(worker, sqs, "url", "arn", batch_size=2, window_seconds=DEADLINE, report=print)  # type: ignore[arg-type]
    source.start()
    try:
        sqs.put(0)  # a window begins; it closes at the batch size
        deadline = time.monotonic() + DEADLINE
        while sqs.waiting.qsize():  # until the poller has received it
            assert time.monotonic() < deadline
            time.sleep(0.01)
        paused = threading.Thread(target=source.pause, kwargs={"timeout": DEADLINE})
        paused.start()
        sqs.put(1)
        paused.join(DEADLINE)
        assert not paused.is_alive()
        assert worker.batches.get_nowait() == 2  # delivered before pause() returned
    finally:
        source.stop()
        source.resume()
        source.join(DEADLINE)
