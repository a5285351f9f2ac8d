"""Submit function: an ingest window of S3 notifications becomes Message Batches jobs.

Reached through SQS (the deployed path, with partial-failure reporting), a plain S3
notification (``sam local invoke -e events/s3-put.json``) or an EventBridge S3 event.
"""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from batchdrop.adapters import sessions
from batchdrop.adapters.anthropic_backend import MessageBatches, secret_api_key
from batchdrop.adapters.dynamodb_jobs import JobStore
from batchdrop.adapters.events import (
    S3ObjectRef,
    UnrecognisedEvent,
    is_sqs_event,
    objects_in_notification,
    objects_in_sqs_body,
)
from batchdrop.adapters.messaging import Notifier
from batchdrop.adapters.s3_bucket import DocumentStore
from batchdrop.domain.converters import DocumentLimits
from batchdrop.domain.pricing import PriceTable
from batchdrop.domain.profiles import (
    PROFILE_SUFFIXES,
    PROFILES_PREFIX,
    SCHEMA_SUFFIX,
    SCHEMAS_PREFIX,
    ProfileCatalog,
)
from batchdrop.observability import logger, metrics, tracer
from batchdrop.settings import SubmitSettings
from batchdrop.usecases.batch_creation import CreationPolicy
from batchdrop.usecases.cancel import cancel_job
from batchdrop.usecases.submit import BatchLimits, IngestWindow

settings = SubmitSettings.from_env()
aws = sessions.session()  # all the function's clients, response timestamps unparsed
# One pooled connection per concurrent read (botocore keeps 10 by default).
s3_config = Config(max_pool_connections=max(10, settings.document_read_concurrency))
store = DocumentStore(aws.client("s3", config=s3_config), settings.stack.bucket_name)
jobs = JobStore(aws.resource("dynamodb").Table(settings.stack.jobs_table_name))
batches = MessageBatches(
    secret_api_key(settings.anthropic.secret_name, settings.anthropic.key_max_age_seconds),
    settings.anthropic.base_url,
)
document_limits = DocumentLimits(max_pdf_pages=settings.pdf_max_pages)
batch_limits = BatchLimits(max_requests=settings.batch_max_requests, max_bytes=settings.batch_max_bytes)
notifier = Notifier(aws.client("sns"), settings.topic_arn)
prices = PriceTable.bundled()
# A job's creation is Submit's for the grace; then Poll's (it outlasts the 15-minute timeout).
creation_policy = CreationPolicy(
    lease=settings.creation.submit_grace,
    queue_wait_max=settings.creation.queue_wait_max,
    first_backoff=settings.creation.queue_retry_first,
    create_span=settings.creation.create_span,
)


def load_profiles() -> ProfileCatalog:
    """The profiles, and the schemas they may name (schemas/<name>.json), once per invocation."""
    files = {
        **store.objects_under(PROFILES_PREFIX, PROFILE_SUFFIXES),
        **store.objects_under(SCHEMAS_PREFIX, (SCHEMA_SUFFIX,)),
    }
    return ProfileCatalog.from_files(settings.default_profile, files)


def parse_records(records: list[dict[str, Any]]) -> dict[str, list[S3ObjectRef]]:
    """The objects each record names, by message id, to read ahead. A record that cannot be
    parsed is left out: its own handling parses it again and reports it."""
    parsed = {}
    for record in records:
        try:
            parsed[record["messageId"]] = objects_in_sqs_body(record["body"])
        except (KeyError, TypeError, UnrecognisedEvent):
            continue
    return parsed


def now() -> datetime:
    return datetime.now(UTC)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    window = IngestWindow(
        store,
        load_profiles,
        document_limits,
        batch_limits,
        prices,
        settings.max_job_cost_usd,
        read_concurrency=settings.document_read_concurrency,
    )
    response: dict[str, Any] = {}
    try:
        if is_sqs_event(event):
            processor = BatchProcessor(event_type=EventType.SQS)
            parsed = parse_records(event["Records"])
            window.plan(ref for refs in parsed.values() for ref in refs)

            def add_record(record: SQSRecord) -> None:
                refs = parsed.get(record.message_id)
                for ref in refs if refs is not None else objects_in_sqs_body(record.body):
                    window.add(ref)

            # A record that fails to read is reported and retried alone; the rest go out now.
            with processor(event["Records"], add_record, context):
                processor.process()
            response = dict(processor.response())
        else:
            refs = list(objects_in_notification(event))
            window.plan(refs)
            for ref in refs:
                window.add(ref)
    finally:
        window.close()

    # The same client answers for the Models API: preflight checks each model once.
    outcome = window.submit(jobs, batches, now, notifier, creation_policy, models=batches)
    canceled = {job_id: cancel_job(job_id, jobs, batches, now()) for job_id in window.cancel_requests}
    metrics.add_metric("DocumentsSubmitted", MetricUnit.Count, outcome.submitted)
    metrics.add_metric("DocumentsRejected", MetricUnit.Count, outcome.rejected)
    metrics.add_metric("BatchesCreated", MetricUnit.Count, sum(1 for j in outcome.jobs if j.batch_id))
    metrics.add_metric(
        "BatchQueueFull", MetricUnit.Count, sum(1 for j in outcome.jobs if j.creation == "waiting")
    )
    return {**response, **outcome.as_dict(), **({"canceled": canceled} if canceled else {})}
