"""Poll function: the scheduled watch over open jobs' batches (usecases.poll)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from batchdrop.observability import logger, metrics, tracer
from batchdrop.ports.runtime import Clock, CrashHook, no_crash, system_clock
from batchdrop.settings import PollSettings
from batchdrop.wiring.poll import PollFunction, record_metrics

settings = PollSettings.from_env()
poll = PollFunction(settings)  # the adapters, made once per container

crash_hook: CrashHook = no_crash  # the local stack replaces it to make this function die on cue
clock: Clock = system_clock  # a test replaces it to move time on instead of waiting


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A scheduled event carries nothing to parse: every tick looks at all the open jobs.
    report = poll.tick(clock, crash=crash_hook)
    record_metrics(metrics, report)
    return report.as_dict()
