"""Submit function: an ingest window of S3 notifications becomes Message Batches jobs.

Reached through SQS (the deployed path, with partial-failure reporting), a plain S3
notification (``sam local invoke -e events/s3-put.json``) or an EventBridge S3 event.
The use case is usecases.submit.submit_window; its adapters are built in wiring.submit.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchdrop.adapters.events import Notifications
from batchdrop.domain.keys import PROFILE_SUFFIXES, PROFILES_PREFIX, SCHEMA_SUFFIX, SCHEMAS_PREFIX
from batchdrop.domain.profiles import ProfileCatalog
from batchdrop.observability import logger, metrics, tracer
from batchdrop.ports.runtime import CrashHook, no_crash
from batchdrop.settings import SubmitSettings
from batchdrop.usecases.submit import SubmitOutcome, submit_window
from batchdrop.wiring.submit import SubmitWiring, new_record_processor

settings = SubmitSettings.from_env()
wiring = SubmitWiring.from_settings(settings)
store = wiring.store  # the bucket adapter (tests reach it here)

# What Submit lists stays in this module: the template test checks its IAM grants from here.


def load_profiles() -> ProfileCatalog:
    """The profiles, and the schemas they may name (schemas/<name>.json), once per invocation."""
    files = {
        **store.objects_under(PROFILES_PREFIX, PROFILE_SUFFIXES),
        **store.objects_under(SCHEMAS_PREFIX, (SCHEMA_SUFFIX,)),
    }
    return wiring.profiles(files)


crash_hook: CrashHook = no_crash  # the local stack replaces it to make this function die on cue


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    notices = Notifications.of(event, context, new_record_processor)
    done = submit_window(notices, wiring.ports(load_profiles), wiring.rules, crash=crash_hook)
    count(done.submit)
    return done.response()


def count(outcome: SubmitOutcome) -> None:
    """The window's metrics."""
    metrics.add_metric("DocumentsSubmitted", MetricUnit.Count, outcome.submitted)
    metrics.add_metric("DocumentsRejected", MetricUnit.Count, outcome.rejected)
    metrics.add_metric("BatchesCreated", MetricUnit.Count, sum(1 for j in outcome.jobs if j.batch_id))
    metrics.add_metric(
        "BatchQueueFull", MetricUnit.Count, sum(1 for j in outcome.jobs if j.creation == "waiting")
    )
