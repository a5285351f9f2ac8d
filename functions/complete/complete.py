"""Complete function: an ended batch's results become result objects, a summary and a notification."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from batchdrop.observability import logger, metrics, tracer
from batchdrop.ports.runtime import CrashHook, no_crash
from batchdrop.settings import CompleteSettings
from batchdrop.usecases.complete import complete_job, run_completion
from batchdrop.wiring.complete import completion_context, for_invocation, job_of, report

settings = CompleteSettings.from_env()
context_for_jobs = completion_context(settings)  # each adapter and client made on first use

crash_hook: CrashHook = no_crash  # the local stack replaces it to make this function die on cue

__all__ = ["complete_job", "context_for_jobs", "crash_hook", "lambda_handler"]


@logger.inject_lambda_context(correlation_id_path="detail.job_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ctx = for_invocation(context_for_jobs, context, crash_hook)
    outcome = run_completion(job_of(event), ctx)
    return report(outcome)
