"""Poll function: the scheduled watch over open jobs' batches."""

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchdrop.adapters import sessions
from batchdrop.adapters.anthropic_backend import MessageBatches
from batchdrop.adapters.dynamodb_jobs import JobStore
from batchdrop.adapters.messaging import JobEvents
from batchdrop.adapters.s3_bucket import DocumentStore
from batchdrop.adapters.secrets import secret_api_key
from batchdrop.observability import logger, metrics, tracer
from batchdrop.ports.runtime import CrashHook, no_crash
from batchdrop.settings import Settings
from batchdrop.usecases.poll import PollPolicy, poll_open_jobs

settings = Settings.from_env()
aws = sessions.session()  # all the function's clients, response timestamps unparsed
jobs = JobStore(aws.resource("dynamodb").Table(settings.jobs_table_name))
events = JobEvents(aws.client("events"), settings.event_bus_name)
# Read only when a stuck job's batch must be created here (its requests are in jobs/<job-id>/).
store = DocumentStore(aws.client("s3"), settings.bucket_name)
policy = PollPolicy(
    submit_grace=timedelta(seconds=settings.submit_grace_seconds),
    uncollected_after=timedelta(hours=settings.uncollected_after_hours),
    redrive_after=timedelta(seconds=settings.redrive_after_seconds),
    queue_wait_max=settings.queue_wait_max,
    queue_retry_first=timedelta(seconds=settings.queue_retry_first_seconds),
    ending_lease=timedelta(seconds=settings.ending_lease_seconds),
    create_span=timedelta(seconds=settings.create_span_seconds),
)


@cache
def batches() -> MessageBatches:
    return MessageBatches(
        secret_api_key(settings.anthropic_secret_name, settings.api_key_max_age_seconds),
        settings.anthropic_base_url,
    )


def now() -> datetime:
    return datetime.now(UTC)


crash_hook: CrashHook = no_crash  # the local stack replaces it to make this function die on cue


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = poll_open_jobs(jobs, batches, events, now, policy, store=store, crash=crash_hook)
    metrics.add_metric("OpenJobs", MetricUnit.Count, report.open_jobs)
    metrics.add_metric("BatchesEnded", MetricUnit.Count, len(report.ended))
    # The alarms watch these two (template.yaml): both should stay at zero.
    metrics.add_metric("OverdueJobs", MetricUnit.Count, report.overdue)
    metrics.add_metric("UncollectedJobs", MetricUnit.Count, report.uncollected)
    reconciled = len(report.adopted) + len(report.abandoned) + len(report.created)
    if reconciled:
        metrics.add_metric("JobsReconciled", MetricUnit.Count, reconciled)
    # Jobs whose batch the API refused for now (429: the organisation's batch queue is full).
    metrics.add_metric("BatchQueueFull", MetricUnit.Count, len(report.waiting))
    return report.as_dict()
