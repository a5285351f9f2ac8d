"""Model invocation jobs without HTTP: create, get, list, stop, and time moving them along.

Nothing runs by itself: `tick()` brings every job up to the clock's time, taking each status
change at the moment it was due (so one large step of a manual clock still gives every status,
every event and the right timestamps, in order). The server ticks before each call and, in
real time, from a ticker thread. A job's life:

Submitted -> Validating -> Scheduled -> InProgress -> Completed | PartiallyCompleted, each after
its configured duration. Leaving Validating reads and checks the input (unreadable or malformed:
Failed, with a message), then answers every record. InProgress processes the records evenly
over its duration, in processing order. Stop: Stopping, then Stopped, with the records processed
by the stop written. Reaching jobExpirationTime before the end: Expired, with the records
processed by then written. Each status change puts the state-change event on the bus.
"""

from __future__ import annotations

import secrets
import string
import threading
from collections import Counter
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batchdrop_local.bedrock_emulator.answering import answer_record, catalogue_model
from batchdrop_local.bedrock_emulator.config import (
    ENDED_STATUSES,
    STATUSES,
    BedrockConfig,
    Clock,
    SystemClock,
    aws_client,
)
from batchdrop_local.bedrock_emulator.errors import BedrockError, constraint, validation
from batchdrop_local.bedrock_emulator.events import EventPublisher, state_change_entry
from batchdrop_local.bedrock_emulator.jobs import Job
from batchdrop_local.bedrock_emulator.records import (
    JobInputError,
    count_records,
    parse_records,
    processing_order,
    read_input,
    write_outputs,
)
from batchdrop_local.bedrock_emulator.requests import JobRequest, page_offset, page_token
from batchdrop_local.emulator.catalogue import Catalogue

MIN_RECORDS_MESSAGE = (
    "The number of records in the input data ({count}) is less than the minimum number of records "
    "per batch inference job ({minimum}) for model {model}. Add records or use on-demand inference."
)
"""The refusal of a too-small job. Bedrock's exact wording was not found: this one is a guess."""
MAX_RECORDS_MESSAGE = (
    "The input data has {count} records, more than the {maximum} records per batch inference job."
)
STOPPABLE = frozenset({"Submitted", "Validating", "Scheduled", "InProgress"})
MAX_PAGE = 1000
_ID_ALPHABET = string.ascii_lowercase + string.digits


class BedrockEngine:
    """The jobs, the clock that moves them and the AWS clients they read and write with."""

    def __init__(
        self,
        config: BedrockConfig | None = None,
        clock: Clock | None = None,
        s3: Any | None = None,
        events: Any | None = None,
    ) -> None:
        self.config = config or BedrockConfig()
        self.clock: Clock = clock or SystemClock()
        self._s3 = s3 or aws_client("s3", self.config)
        events_client = events if events is not None else aws_client("events", self.config)
        self.events = EventPublisher(events_client)
        self._catalogue = Catalogue.build()
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._tokens: dict[str, str] = {}
        self._refused = Counter[str]()
        # Per recordId: the jobs that validated it (submitted) and that wrote its answer
        # (succeeded: what Bedrock bills), as the Claude API emulator counts custom_ids.
        self._submitted = Counter[str]()
        self._succeeded = Counter[str]()

    # Operations -------------------------------------------------------------------------------

    def create(self, request: JobRequest, region: str | None = None) -> dict[str, str]:
        """CreateModelInvocationJob: {"jobArn"}; the same clientRequestToken gives the same job."""
        with self._lock:
            self._tick()
            token = request.client_request_token
            if token is not None and token in self._tokens:
                first = self._jobs[self._tokens[token]]
                if (
                    first.request.fingerprint() == request.fingerprint()
                    or self.config.idempotency_mismatch == "ignore"
                ):
                    return {"jobArn": first.arn}
                self._refused["token_conflict"] += 1
                raise BedrockError(
                    "ConflictException",
                    f"The clientRequestToken {token} was already used by job {first.arn} "
                    "with other parameters.",
                )
            if self.config.unique_job_names and any(
                job.request.job_name == request.job_name for job in self._jobs.values()
            ):
                self._refused["name_conflict"] += 1
                raise BedrockError("ConflictException", f"A job named {request.job_name} already exists.")
            if self.config.min_records_check == "create":
                self._check_minimum_at_create(request)
            now = self.clock.now()
            job_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
            where = region or self.config.region
            timeout = request.timeout_hours * 3600 / self.config.expiry_speedup
            job = Job(
                job_id=job_id,
                arn=f"arn:aws:bedrock:{where}:{self.config.account}:model-invocation-job/{job_id}",
                request=request,
                region=where,
                account=self.config.account,
                submit_time=now,
                deadline=now + timeout,
                entered_at=now,
            )
            self._jobs[job_id] = job
            if token is not None:
                self._tokens[token] = job_id
            self._announce(job, now)
            return {"jobArn": job.arn}

    def get(self, identifier: str) -> dict[str, Any]:
        """GetModelInvocationJob by ARN or job id."""
        with self._lock:
            self._tick()
            return self._view(self._find(identifier))

    def list_jobs(
        self,
        *,
        status: str | None = None,
        name_contains: str | None = None,
        submitted_after: datetime | None = None,
        submitted_before: datetime | None = None,
        ascending: bool = False,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        """ListModelInvocationJobs: summaries by creation time (newest first unless `ascending`)."""
        if status is not None and status not in STATUSES:
            raise constraint(
                status, "statusEquals", f"Member must satisfy enum value set: [{', '.join(STATUSES)}]"
            )
        size = self.config.default_page_size if max_results is None else max_results
        if not 1 <= size <= MAX_PAGE:
            raise constraint(size, "maxResults", f"Member must have value less than or equal to {MAX_PAGE}")
        offset = page_offset(next_token)
        with self._lock:
            self._tick()
            jobs = sorted(
                self._jobs.values(), key=lambda job: (job.submit_time, job.arn), reverse=not ascending
            )
            chosen = [
                job
                for job in jobs
                if (status is None or job.status == status)
                and (name_contains is None or name_contains in job.request.job_name)
                and (submitted_after is None or job.submit_time > submitted_after.timestamp())
                and (submitted_before is None or job.submit_time < submitted_before.timestamp())
            ]
            page = chosen[offset : offset + size]
            answer: dict[str, Any] = {"invocationJobSummaries": [self._view(job) for job in page]}
            if offset + size < len(chosen):
                answer["nextToken"] = page_token(offset + size)
            return answer

    def stop(self, identifier: str) -> dict[str, Any]:
        """StopModelInvocationJob: Stopping now, Stopped after the Stopping duration."""
        with self._lock:
            self._tick()
            job = self._find(identifier)
            if job.status == "Stopping":
                return {}
            if job.status not in STOPPABLE:
                raise validation(f"The job {job.arn} cannot be stopped: its status is {job.status}.")
            now = self.clock.now()
            job.processed = job.processed_at(now, self.config.durations["InProgress"])
            self._enter(job, "Stopping", now)
            return {}

    # Time -------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Bring every job up to the clock's time."""
        with self._lock:
            self._tick()

    def _tick(self) -> None:
        now = self.clock.now()
        for job in sorted(self._jobs.values(), key=lambda job: job.submit_time):
            self._advance(job, now)

    def _advance(self, job: Job, now: float) -> None:
        while job.status not in ENDED_STATUSES:
            due = job.entered_at + self.config.durations[job.status]
            if job.status != "Stopping" and job.deadline <= now and job.deadline <= due:
                self._expire(job, max(job.deadline, job.entered_at))
                return
            if due > now:
                return
            self._leave(job, due)

    def _leave(self, job: Job, at: float) -> None:
        if job.status == "Submitted":
            self._enter(job, "Validating", at)
        elif job.status == "Validating":
            self._validate(job, at)
        elif job.status == "Scheduled":
            job.started = True
            self._enter(job, "InProgress", at)
        elif job.status == "InProgress":
            job.processed = job.total or 0
            errors = any(record.errored for record in job.records)
            ended = "PartiallyCompleted" if errors and self.config.partial_on_record_errors else "Completed"
            self._finish(job, ended, at)
        else:  # Stopping
            self._finish(job, "Stopped", at)

    def _validate(self, job: Job, at: float) -> None:
        try:
            files = read_input(self._s3, job.request.input_uri)
            records = parse_records(files, job.job_id, self.config.seed)
            count = len(records)
            if count < self.config.min_records:
                raise JobInputError(
                    MIN_RECORDS_MESSAGE.format(
                        count=count, minimum=self.config.min_records, model=job.request.model_id
                    )
                )
            if count > self.config.max_records:
                raise JobInputError(MAX_RECORDS_MESSAGE.format(count=count, maximum=self.config.max_records))
        except JobInputError as exc:
            self._fail(job, exc.message, at)
            return
        model = catalogue_model(job.request.model_id, self._catalogue)
        for record in records:
            self._submitted[record.record_id] += 1
            attempt = self._submitted[record.record_id]
            answer_record(record, job.job_id, model, job.request.invocation_type, self.config, attempt)
        job.files, job.records, job.total = files, processing_order(records), count
        self._enter(job, "Scheduled", at)

    def _expire(self, job: Job, at: float) -> None:
        job.processed = job.processed_at(at, self.config.durations["InProgress"])
        job.message = f"The job did not complete within its timeout of {job.request.timeout_hours} hours."
        self._finish(job, "Expired", at)

    def _finish(self, job: Job, status: str, at: float) -> None:
        if job.started:
            try:
                job.outputs = write_outputs(
                    self._s3,
                    job.request.output_uri,
                    job.job_id,
                    job.files,
                    job.records[: job.processed],
                    job.total or 0,
                )
            except (BotoCoreError, ClientError) as exc:
                self._fail(job, f"Unable to write the output data to {job.request.output_uri}: {exc}", at)
                return
            self._succeeded.update(r.record_id for r in job.records[: job.processed] if not r.errored)
        job.end_time = at
        self._enter(job, status, at)

    def _fail(self, job: Job, message: str, at: float) -> None:
        job.message, job.end_time = message, at
        self._enter(job, "Failed", at)

    def _enter(self, job: Job, status: str, at: float) -> None:
        job.status, job.entered_at = status, at
        self._announce(job, at)

    def _announce(self, job: Job, at: float) -> None:
        if self.config.publish_events:
            self.events.publish(
                state_change_entry(job.event_view(at, self.config.durations["InProgress"]), at)
            )

    # Helpers ----------------------------------------------------------------------------------

    def _check_minimum_at_create(self, request: JobRequest) -> None:
        try:
            count = count_records(read_input(self._s3, request.input_uri))
        except JobInputError:
            return  # unreadable input fails the job while it validates, as Bedrock does
        if count < self.config.min_records:
            self._refused["below_minimum"] += 1
            raise validation(
                MIN_RECORDS_MESSAGE.format(
                    count=count, minimum=self.config.min_records, model=request.model_id
                )
            )

    def _find(self, identifier: str) -> Job:
        job_id = identifier.rsplit("/", 1)[-1] if identifier.startswith("arn:") else identifier
        job = self._jobs.get(job_id)
        if job is None or (identifier.startswith("arn:") and job.arn != identifier):
            raise BedrockError(
                "ResourceNotFoundException", f"The model invocation job {identifier} was not found."
            )
        return job

    def _view(self, job: Job) -> dict[str, Any]:
        return job.view(self.clock.now(), self.config.durations["InProgress"])

    def update_config(self, **changes: Any) -> BedrockConfig:
        """Change settings at run time (ValueError if invalid); they apply from the next tick."""
        with self._lock:
            self.config = self.config.replace(**changes)
            return self.config

    def job(self, identifier: str) -> Job:
        """The engine's own record of a job (for tests and the admin API)."""
        with self._lock:
            return self._find(identifier)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            self._tick()
            by_status = Counter(job.status for job in self._jobs.values())
            return {
                "jobs": {job.job_id: job.status for job in self._jobs.values()},
                "jobs_by_status": dict(by_status),
                "refused_creates": dict(self._refused),
                "records_by_record_id": dict(self._submitted),
                "succeeded_by_record_id": dict(self._succeeded),
                "events": self.events.counts(),
                "now": self.clock.now(),
            }
