"""The Submit function's wiring: its adapters built from the settings, once per container, and
the ports and rules its use case (usecases.submit.submit_window) runs with.

Clients are created at import (a Lambda container's init, reused by every invocation); the
Anthropic SDK, the converters' format libraries and the profile schema load on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from botocore.config import Config

from batchdrop.adapters import sessions
from batchdrop.adapters.anthropic_backend import MessageBatches
from batchdrop.adapters.dynamodb_jobs import JobStore
from batchdrop.adapters.messaging import Notifier
from batchdrop.adapters.s3_bucket import DocumentStore
from batchdrop.domain.convert import DocumentLimits
from batchdrop.domain.pricing import PriceTable
from batchdrop.domain.profiles import BACKENDS, ProfileCatalog
from batchdrop.ports.batches import Backends
from batchdrop.settings import SubmitSettings
from batchdrop.usecases.cancel import cancel_job
from batchdrop.usecases.submit import BatchLimits, SubmitPorts, SubmitRules
from batchdrop.usecases.submit.minimum import SizeRules
from batchdrop.wiring.common import backends, creation_policy, message_batches


def now() -> datetime:
    return datetime.now(UTC)


def new_record_processor() -> BatchProcessor:
    """Powertools' processor of one SQS batch: reports the records that failed, alone."""
    return BatchProcessor(event_type=EventType.SQS)


def submit_rules(settings: SubmitSettings) -> SubmitRules:
    return SubmitRules(
        document_limits=DocumentLimits(max_pdf_pages=settings.pdf_max_pages),
        batch_limits=BatchLimits(
            max_requests=settings.batch_max_requests, max_bytes=settings.batch_max_bytes
        ),
        prices=PriceTable.bundled(),
        max_job_cost_usd=settings.max_job_cost_usd,
        read_concurrency=settings.document_read_concurrency,
        # A job's creation is Submit's for the grace; then Poll's (it outlasts the 15-minute timeout).
        creation=creation_policy(settings.creation),
        sizes=SizeRules(
            min_records=settings.bedrock.min_records,
            max_records=settings.bedrock.max_records,
            wait=timedelta(minutes=settings.bedrock.min_wait_minutes),
        ),
    )


@dataclass
class SubmitWiring:
    """The function's adapters, and what its use case is given of them."""

    settings: SubmitSettings
    store: DocumentStore
    jobs: JobStore
    batches: MessageBatches
    notifier: Notifier
    rules: SubmitRules
    backends: Backends = field(init=False)

    def __post_init__(self) -> None:
        # A job is created on its profile's backend; Bedrock's client is made on first use.
        self.backends = backends(lambda: self.batches, self.settings.bedrock, self.settings.stack.bucket_name)

    @classmethod
    def from_settings(cls, settings: SubmitSettings) -> SubmitWiring:
        aws = sessions.session()  # all the function's clients, response timestamps unparsed
        # One pooled connection per concurrent read (botocore keeps 10 by default).
        s3_config = Config(max_pool_connections=max(10, settings.document_read_concurrency))
        return cls(
            settings=settings,
            store=DocumentStore(aws.client("s3", config=s3_config), settings.stack.bucket_name),
            jobs=JobStore(aws.resource("dynamodb").Table(settings.stack.jobs_table_name)),
            batches=message_batches(settings.anthropic),
            notifier=Notifier(aws.client("sns"), settings.topic_arn),
            rules=submit_rules(settings),
        )

    def cancel(self, job_id: str) -> str:
        return cancel_job(job_id, self.jobs, self.backends, now())

    def ports(self, load_profiles: Callable[[], ProfileCatalog]) -> SubmitPorts:
        return SubmitPorts(
            store=self.store,
            jobs=self.jobs,
            batches=self.batches,
            now=now,
            load_profiles=load_profiles,
            notifier=self.notifier,
            models=self.batches,  # the same client answers for the Models API
            cancel=self.cancel,
            backends=self.backends,
        )

    def profiles(self, files: Mapping[str, bytes]) -> ProfileCatalog:
        """The profiles from the bucket's files; one naming no backend takes the stack's default."""
        default = next(b for b in BACKENDS if b == self.settings.bedrock.default_backend)
        return ProfileCatalog.from_files(
            self.settings.default_profile,
            files,
            backend=default,
            bedrock_model=self.settings.bedrock.default_model or None,
        )
