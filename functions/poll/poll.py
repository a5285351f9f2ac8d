"""Poll function: the scheduled watch over open jobs' batches."""

from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchdrop.anthropic_batches import MessageBatches, secret_api_key
from batchdrop.aws.jobs_table import JobStore
from batchdrop.aws.messaging import JobEvents
from batchdrop.config import Settings
from batchdrop.observability import logger, metrics, tracer
from batchdrop.poll import poll_open_jobs

settings = Settings.from_env()
jobs = JobStore(boto3.resource("dynamodb").Table(settings.jobs_table_name))
events = JobEvents(boto3.client("events"), settings.event_bus_name)


@cache
def batches() -> MessageBatches:
    return MessageBatches(secret_api_key(settings.anthropic_secret_name), settings.anthropic_base_url)


def now() -> datetime:
    return datetime.now(UTC)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = poll_open_jobs(jobs, batches, events, now)
    metrics.add_metric("OpenJobs", MetricUnit.Count, report.open_jobs)
    metrics.add_metric("BatchesEnded", MetricUnit.Count, len(report.ended))
    return report.as_dict()
