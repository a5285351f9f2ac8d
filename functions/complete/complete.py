"""Complete function: an ended batch's results become result objects, a summary and a notification."""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from batchdrop.adapters import sessions
from batchdrop.adapters.anthropic_backend import MessageBatches, secret_api_key
from batchdrop.adapters.dynamodb_jobs import JobStore
from batchdrop.adapters.messaging import JobEvents, Notifier
from batchdrop.adapters.s3_bucket import DocumentStore
from batchdrop.domain.pricing import PriceTable
from batchdrop.observability import logger, metrics, tracer
from batchdrop.settings import CompleteSettings
from batchdrop.usecases.batch_creation import CreationPolicy
from batchdrop.usecases.complete import CompletionContext, complete_job

settings = CompleteSettings.from_env()
aws = sessions.session()  # all the function's clients, response timestamps unparsed
context_for_jobs = CompletionContext(
    jobs=JobStore(aws.resource("dynamodb").Table(settings.stack.jobs_table_name)),
    # One pooled connection per concurrent write (botocore keeps 10 by default).
    store=DocumentStore(
        aws.client("s3", config=Config(max_pool_connections=max(10, settings.result_write_concurrency))),
        settings.stack.bucket_name,
    ),
    batches=MessageBatches(
        secret_api_key(settings.anthropic.secret_name, settings.anthropic.key_max_age_seconds),
        settings.anthropic.base_url,
    ),
    notifier=Notifier(aws.client("sns"), settings.topic_arn),
    events=JobEvents(aws.client("events"), settings.event_bus_name),
    prices=PriceTable.bundled(),
    now=lambda: datetime.now(UTC),
    write_concurrency=settings.result_write_concurrency,
    lease=settings.completing_lease,
    max_attempts=settings.max_attempts,
    creation=CreationPolicy(
        lease=settings.creation.submit_grace,
        queue_wait_max=settings.creation.queue_wait_max,
        first_backoff=settings.creation.queue_retry_first,
        create_span=settings.creation.create_span,
    ),
)


def record_usage_metrics(row: dict[str, Any]) -> None:
    """Tokens by kind and cost of one (profile, model), as EMF metrics with those dimensions.

    EphemeralMetrics keeps these dimensions off the handler's own metrics.
    """
    usage = EphemeralMetrics(namespace=metrics.namespace, service=metrics.service)
    usage.add_dimension(name="profile", value=row["profile"])
    usage.add_dimension(name="model", value=row["model"])
    tokens = row["tokens"]
    usage.add_metric(name="InputTokens", unit=MetricUnit.Count, value=tokens["input"])
    usage.add_metric(name="OutputTokens", unit=MetricUnit.Count, value=tokens["output"])
    usage.add_metric(
        name="CacheWriteTokens",
        unit=MetricUnit.Count,
        value=tokens["cache_write_5m"] + tokens["cache_write_1h"],
    )
    usage.add_metric(name="CacheReadTokens", unit=MetricUnit.Count, value=tokens["cache_read"])
    if row["cost"] is not None:  # an unknown price is no metric at all, never a zero
        usage.add_metric(name="CostBatchUSD", unit=MetricUnit.NoUnit, value=row["cost"]["batch"])
        usage.add_metric(name="CostStandardUSD", unit=MetricUnit.NoUnit, value=row["cost"]["standard"])
        usage.add_metric(name="SavingsUSD", unit=MetricUnit.NoUnit, value=row["cost"]["savings"])
    usage.flush_metrics()


@logger.inject_lambda_context(correlation_id_path="detail.job_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    # Progress is checkpointed; with a minute left the job is handed over to a new invocation.
    ctx = replace(context_for_jobs, remaining=lambda: context.get_remaining_time_in_millis() / 1000)
    summary = complete_job(event.detail["job_id"], ctx)
    if summary["status"] != "completed":
        # duplicate: already completed; busy: another invocation holds the job (not an error)
        metric = {
            "duplicate": "DuplicateDeliveries",
            "busy": "DuplicateDeliveries",
            "wrong_batch": "BatchesDisowned",
        }
        metrics.add_metric(metric.get(summary["status"], "HandOvers"), MetricUnit.Count, 1)
        return summary
    counts = summary["counts"]
    metrics.add_metric("DocumentsSucceeded", MetricUnit.Count, counts["succeeded"])
    metrics.add_metric("DocumentsRetried", MetricUnit.Count, counts["retried"])
    metrics.add_metric("DocumentsSuperseded", MetricUnit.Count, counts["superseded"])
    failed = summary["documents"] - counts["succeeded"] - counts["retried"] - counts["superseded"]
    metrics.add_metric("DocumentsFailed", MetricUnit.Count, failed)
    if summary["results_archived"]:
        metrics.add_metric("ResultsArchived", MetricUnit.Count, 1)
    for row in summary["by_profile_and_model"]:
        record_usage_metrics(row)
    keep = ("job_id", "status", "counts", "attempt", "retried_in", "previous_attempt", "summary_key")
    return {key: summary[key] for key in (*keep, "results_archived")}
