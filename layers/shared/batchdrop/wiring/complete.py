"""The Complete function's wiring: its CompletionContext (adapters onto the ports, clients made
on first use), and the metrics of what a completion did (from the typed Summary)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from batchdrop.domain.pricing import PriceTable
from batchdrop.domain.summary import Summary, UsageRow
from batchdrop.observability import metrics
from batchdrop.ports import BatchBackend, Bucket, ClaimingJobs, CrashHook, EventBus, Notifier
from batchdrop.settings import CompleteSettings
from batchdrop.usecases.complete import CompletionContext
from batchdrop.wiring.common import backends, creation_policy, message_batches
from batchdrop.wiring.lazy import Lazy, LazySession

if TYPE_CHECKING:
    from batchdrop.usecases.batch_creation import CreationPolicy


def _now() -> datetime:
    return datetime.now(UTC)


def completion_context(settings: CompleteSettings) -> CompletionContext:
    """Complete's context from its settings. Each adapter (and its AWS client) is made when
    first used: the S3 and DynamoDB adapters import boto3 and s3transfer, which a cold start
    then does not pay for before the first event."""
    aws = LazySession()  # all the function's clients, response timestamps unparsed
    anthropic = cast("BatchBackend", Lazy(lambda: message_batches(settings.anthropic)))
    return CompletionContext(
        jobs=cast("ClaimingJobs", Lazy(lambda: _jobs(aws, settings))),
        store=cast("Bucket", Lazy(lambda: _store(aws, settings))),
        batches=anthropic,
        # A job is completed on the backend it records (Bedrock's made when first needed).
        backends=backends(lambda: anthropic, settings.bedrock, settings.stack.bucket_name),
        notifier=cast("Notifier", Lazy(lambda: _notifier(aws, settings))),
        events=cast("EventBus", Lazy(lambda: _events(aws, settings))),
        prices=PriceTable.bundled(),
        now=_now,
        write_concurrency=settings.result_write_concurrency,
        lease=settings.completing_lease,
        max_attempts=settings.max_attempts,
        creation=cast("CreationPolicy", Lazy(lambda: creation_policy(settings.creation))),
    )


def _jobs(aws: LazySession, settings: CompleteSettings) -> ClaimingJobs:
    from batchdrop.adapters.dynamodb_jobs import JobStore

    return JobStore(aws.table(settings.stack.jobs_table_name))


def _store(aws: LazySession, settings: CompleteSettings) -> Bucket:
    from botocore.config import Config

    from batchdrop.adapters.s3_bucket import DocumentStore

    # One pooled connection per concurrent write (botocore keeps 10 by default).
    config = Config(max_pool_connections=max(10, settings.result_write_concurrency))
    return DocumentStore(aws.client("s3", config=config), settings.stack.bucket_name)


def _notifier(aws: LazySession, settings: CompleteSettings) -> Notifier:
    from batchdrop.adapters.messaging import Notifier as SnsNotifier

    return SnsNotifier(aws.client("sns"), settings.topic_arn)


def _events(aws: LazySession, settings: CompleteSettings) -> EventBus:
    from batchdrop.adapters.messaging import JobEvents

    return JobEvents(aws.client("events"), settings.event_bus_name)


def job_of(event: dict[str, Any]) -> str:
    """The job a "Batch Ended" event (EventBridge) names. Read from the event as delivered:
    Powertools' data classes package loads every event type it knows (a fifth of a second)."""
    return str(event["detail"]["job_id"])


def for_invocation(ctx: CompletionContext, context: Any, crash: CrashHook) -> CompletionContext:
    """The context of one invocation: progress is checkpointed, and with a minute left (of
    Lambda's ``context``) the job is handed over to a new invocation."""
    return replace(ctx, remaining=lambda: context.get_remaining_time_in_millis() / 1000, crash=crash)


# What a completion that did not complete counts as (duplicate: already completed; busy:
# another invocation holds the job; neither is an error).
NOT_COMPLETED_METRICS = {
    "duplicate": "DuplicateDeliveries",
    "busy": "DuplicateDeliveries",
    "wrong_batch": "BatchesDisowned",
}
# What the handler returns of a completed job's summary.
ANSWER_FIELDS = ("job_id", "status", "counts", "attempt", "retried_in", "previous_attempt", "summary_key")


def report(outcome: Summary | dict[str, Any]) -> dict[str, Any]:
    """Metrics of the outcome, and the handler's answer."""
    if not isinstance(outcome, Summary):
        metrics.add_metric(NOT_COMPLETED_METRICS.get(outcome["status"], "HandOvers"), MetricUnit.Count, 1)
        return outcome
    record_job_metrics(outcome)
    body = outcome.to_json()
    return {key: body[key] for key in (*ANSWER_FIELDS, "results_archived")}


def record_job_metrics(summary: Summary) -> None:
    metrics.add_metric("DocumentsSucceeded", MetricUnit.Count, summary.succeeded)
    metrics.add_metric("DocumentsRetried", MetricUnit.Count, summary.count("retried"))
    metrics.add_metric("DocumentsSuperseded", MetricUnit.Count, summary.count("superseded"))
    metrics.add_metric("DocumentsFailed", MetricUnit.Count, summary.failed)
    if summary.results_archived:
        metrics.add_metric("ResultsArchived", MetricUnit.Count, 1)
    for row in summary.by_profile_and_model:
        record_usage_metrics(row)


def record_usage_metrics(row: UsageRow) -> None:
    """Tokens by kind and cost of one (profile, model), as EMF metrics with those dimensions.

    EphemeralMetrics keeps these dimensions off the handler's own metrics.
    """
    usage = EphemeralMetrics(namespace=metrics.namespace, service=metrics.service)
    usage.add_dimension(name="profile", value=row.profile)
    usage.add_dimension(name="model", value=row.model)
    tokens = row.tokens
    usage.add_metric(name="InputTokens", unit=MetricUnit.Count, value=tokens.input_tokens)
    usage.add_metric(name="OutputTokens", unit=MetricUnit.Count, value=tokens.output_tokens)
    usage.add_metric(
        name="CacheWriteTokens",
        unit=MetricUnit.Count,
        value=tokens.cache_write_5m_tokens + tokens.cache_write_1h_tokens,
    )
    usage.add_metric(name="CacheReadTokens", unit=MetricUnit.Count, value=tokens.cache_read_tokens)
    if row.cost is not None:  # an unknown price is no metric at all, never a zero
        usage.add_metric(name="CostBatchUSD", unit=MetricUnit.NoUnit, value=row.cost.batch)
        usage.add_metric(name="CostStandardUSD", unit=MetricUnit.NoUnit, value=row.cost.standard)
        usage.add_metric(name="SavingsUSD", unit=MetricUnit.NoUnit, value=row.cost.savings)
    usage.flush_metrics()


__all__ = ["completion_context", "for_invocation", "record_usage_metrics", "report"]
