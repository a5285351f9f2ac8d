"""The "Batch Inference Job State Change" event, put on the default EventBridge bus (best effort).

The shape follows the sample event of the Amazon Bedrock user guide ("How EventBridge for Amazon
Bedrock works"): source aws.bedrock, the job ARN as the one resource, and a detail of version
"0.0", accountId, batchJobName, batchJobArn, batchModelId (the model's ARN), status,
failureMessage ("" when none) and creationTime in the sample's "Aug 28, 2024, 10:47:53 PM" form.
Like Bedrock, the emulator never lets a failed put stop a job: it counts it and moves on.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

SOURCE = "aws.bedrock"
DETAIL_TYPE = "Batch Inference Job State Change"
_log = logging.getLogger(__name__)


def model_arn(model_id: str, region: str, account: str) -> str:
    """batchModelId: the ARN of the job's model (a foundation model, or an inference profile)."""
    if model_id.startswith("arn:"):
        return model_id
    if model_id.split(".", 1)[0] in ("us", "eu", "apac", "global", "jp", "au", "ca", "us-gov"):
        return f"arn:aws:bedrock:{region}:{account}:inference-profile/{model_id}"
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def creation_time(seconds: float) -> str:
    """The sample event's creationTime form, e.g. "Aug 28, 2024, 10:47:53 PM" (UTC)."""
    moment = datetime.fromtimestamp(seconds, UTC)
    hour = moment.hour % 12 or 12
    return f"{moment:%b} {moment.day}, {moment.year}, {hour}:{moment:%M:%S %p}"


def state_change_entry(job: dict[str, Any], at: float) -> dict[str, Any]:
    """The PutEvents entry for `job` (its Get view plus region and account) entering its status at `at`."""
    detail = {
        "version": "0.0",
        "accountId": job["account"],
        "batchJobName": job["jobName"],
        "batchJobArn": job["jobArn"],
        "batchModelId": model_arn(job["modelId"], job["region"], job["account"]),
        "status": job["status"],
        "failureMessage": job.get("message") or "",
        "creationTime": creation_time(job["submitTime"]),
    }
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(detail),
        "Resources": [job["jobArn"]],
        "Time": datetime.fromtimestamp(at, UTC),
        "EventBusName": "default",
    }


class EventPublisher:
    """Puts state-change events with an EventBridge client; counts what was sent and what failed."""

    def __init__(self, events_client: Any | None) -> None:
        self._client = events_client
        self._lock = threading.Lock()
        self.sent = 0
        self.failed = 0

    def publish(self, entry: dict[str, Any]) -> bool:
        """Put one entry; False (logged, counted) if EventBridge refused it or could not be reached."""
        if self._client is None:
            return False
        try:
            answer = self._client.put_events(Entries=[entry])
            ok = not answer.get("FailedEntryCount")
        except (BotoCoreError, ClientError) as exc:
            _log.warning("could not put the %s event: %s", DETAIL_TYPE, exc)
            ok = False
        with self._lock:
            if ok:
                self.sent += 1
            else:
                self.failed += 1
        return ok

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"sent": self.sent, "failed": self.failed}
