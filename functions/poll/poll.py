"""Poll function: the scheduled watch over open jobs' batches."""

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchdrop.adapters import sessions
from batchdrop.adapters.anthropic_backend import MessageBatches, secret_api_key
from batchdrop.adapters.dynamodb_jobs import JobStore
from batchdrop.adapters.messaging import JobEvents
from batchdrop.adapters.s3_bucket import DocumentStore
from batchdrop.observability import logger, metrics, tracer
from batchdrop.settings import PollSettings
from batchdrop.usecases.poll import PollPolicy, poll_open_jobs

settings = PollSettings.from_env()
aws = sessions.session()  # all the function's clients, response timestamps unparsed
jobs = JobStore(aws.resource("dynamodb").Table(settings.stack.jobs_table_name))
events = JobEvents(aws.client("events"), settings.event_bus_name)
# Read only when a stuck job's batch must be created here (its requests are in jobs/<job-id>/).
store = DocumentStore(aws.client("s3"), settings.stack.bucket_name)
policy = PollPolicy(
    submit_grace=settings.creation.submit_grace,
    uncollected_after=settings.uncollected_after,
    redrive_after=settings.redrive_after,
    queue_wait_max=settings.creation.queue_wait_max,
    queue_retry_first=settings.creation.queue_retry_first,
    ending_lease=settings.ending_lease,
    create_span=settings.creation.create_span,
)


@cache
def batches() -> MessageBatches:
    return MessageBatches(
        secret_api_key(settings.anthropic.secret_name, settings.anthropic.key_max_age_seconds),
        settings.anthropic.base_url,
    )


def now() -> datetime:
    return datetime.now(UTC)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = poll_open_jobs(jobs, batches, events, now, policy, store=store)
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
