"""One model invocation job as the emulator keeps it, and its GetModelInvocationJob view."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from batchdrop_local.bedrock_emulator.records import InputFile, Record
from batchdrop_local.bedrock_emulator.requests import JobRequest


def timestamp(seconds: float) -> str:
    """ISO 8601 with milliseconds, as the service's timestamps (botocore parses them to datetime)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Job:
    """A job's request, where it stands, and (once validated) its records in processing order."""

    job_id: str
    arn: str
    request: JobRequest
    region: str
    account: str
    submit_time: float
    deadline: float
    """When the job expires unless it has ended (submitTime + the timeout, sped up)."""
    status: str = "Submitted"
    entered_at: float = 0.0
    """When the job entered its current status."""
    end_time: float | None = None
    message: str | None = None
    files: list[InputFile] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    total: int | None = None
    processed: int = 0
    """Records processed, frozen when the job stops, expires or ends; see `processed_at`."""
    started: bool = False
    """Whether the job reached InProgress (only then are outputs written when it ends early)."""
    outputs: list[str] = field(default_factory=list)
    """The keys written under the output folder."""

    def processed_at(self, now: float, in_progress_seconds: float) -> int:
        """Records processed by `now`: in progress they grow evenly over the InProgress time."""
        if self.status != "InProgress" or self.total is None:
            return self.processed
        if in_progress_seconds <= 0:
            return self.total
        share = min(1.0, max(0.0, (now - self.entered_at) / in_progress_seconds))
        return math.floor(self.total * share)

    def view(self, now: float, in_progress_seconds: float) -> dict[str, Any]:
        """The GetModelInvocationJob answer (also a ListModelInvocationJobs summary)."""
        request = self.request
        view: dict[str, Any] = {
            "jobArn": self.arn,
            "jobName": request.job_name,
            "modelId": request.model_id,
            "roleArn": request.role_arn,
            "status": self.status,
            "submitTime": timestamp(self.submit_time),
            "lastModifiedTime": timestamp(self.entered_at),
            "inputDataConfig": request.input_config,
            "outputDataConfig": request.output_config,
            "timeoutDurationInHours": request.timeout_hours,
            "jobExpirationTime": timestamp(self.deadline),
            "modelInvocationType": request.invocation_type,
        }
        if request.client_request_token is not None:
            view["clientRequestToken"] = request.client_request_token
        if request.vpc_config is not None:
            view["vpcConfig"] = request.vpc_config
        if self.message:
            view["message"] = self.message
        if self.end_time is not None:
            view["endTime"] = timestamp(self.end_time)
        if self.total is not None:
            processed = self.records[: self.processed_at(now, in_progress_seconds)]
            errors = sum(1 for record in processed if record.errored)
            view.update(
                totalRecordCount=self.total,
                processedRecordCount=len(processed),
                successRecordCount=len(processed) - errors,
                errorRecordCount=errors,
            )
        return view

    def event_view(self, now: float, in_progress_seconds: float) -> dict[str, Any]:
        """What the state-change event needs: the view plus the region and account."""
        return {
            **self.view(now, in_progress_seconds),
            "region": self.region,
            "account": self.account,
            "submitTime": self.submit_time,
        }
