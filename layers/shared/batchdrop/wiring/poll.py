"""Poll's wiring: the jobs table, the event bus, the bucket and (when first needed) the batch
API, made once per container from the settings; and the metrics a tick's report becomes."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.metrics import Metrics, MetricUnit

from batchdrop.adapters import sessions
from batchdrop.adapters.anthropic_backend import MessageBatches
from batchdrop.adapters.dynamodb_jobs import JobStore
from batchdrop.adapters.messaging import JobEvents
from batchdrop.adapters.s3_bucket import DocumentStore
from batchdrop.ports.runtime import Clock, CrashHook
from batchdrop.settings import PollSettings
from batchdrop.usecases.poll import PollPolicy, PollReport, poll_open_jobs
from batchdrop.wiring.common import backends, message_batches


def policy_from(settings: PollSettings) -> PollPolicy:
    return PollPolicy(
        submit_grace=settings.creation.submit_grace,
        uncollected_after=settings.uncollected_after,
        redrive_after=settings.redrive_after,
        queue_wait_max=settings.creation.queue_wait_max,
        queue_retry_first=settings.creation.queue_retry_first,
        ending_lease=settings.ending_lease,
        create_span=settings.creation.create_span,
        bedrock_min_records=settings.bedrock.min_records,
    )


class PollFunction:
    """Poll's adapters. The batch API's client is made on first use: a tick with no open job
    never loads the Anthropic SDK."""

    def __init__(self, settings: PollSettings) -> None:
        self.settings = settings
        aws = sessions.session()  # all the function's clients, response timestamps unparsed
        self.jobs = JobStore(aws.resource("dynamodb").Table(settings.stack.jobs_table_name))
        self.events = JobEvents(aws.client("events"), settings.event_bus_name)
        # Read only when a stuck job's batch must be created here (its requests are in jobs/<job-id>/).
        self.store = DocumentStore(aws.client("s3"), settings.stack.bucket_name)
        self.policy = policy_from(settings)
        self.batches = cache(self._batches)
        # Each job is watched on the backend it records; Bedrock's client too is made on first use.
        self.backends = backends(self.batches, settings.bedrock, settings.stack.bucket_name)

    def _batches(self) -> MessageBatches:
        return message_batches(self.settings.anthropic)

    def tick(self, clock: Clock, crash: CrashHook) -> PollReport:
        return poll_open_jobs(
            self.jobs, self.backends, self.events, clock, self.policy, store=self.store, crash=crash
        )


def record_metrics(metrics: Metrics, report: PollReport) -> None:
    metrics.add_metric("OpenJobs", MetricUnit.Count, report.open_jobs)
    metrics.add_metric("BatchesEnded", MetricUnit.Count, len(report.ended))
    # The alarms watch these two (template.yaml): both should stay at zero.
    metrics.add_metric("OverdueJobs", MetricUnit.Count, report.overdue)
    metrics.add_metric("UncollectedJobs", MetricUnit.Count, report.uncollected)
    if report.reconciled:
        metrics.add_metric("JobsReconciled", MetricUnit.Count, report.reconciled)
    # Jobs whose batch the API refused for now (429: the organisation's batch queue is full).
    metrics.add_metric("BatchQueueFull", MetricUnit.Count, len(report.waiting))
