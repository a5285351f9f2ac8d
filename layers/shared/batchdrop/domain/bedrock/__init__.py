"""Claude on Amazon Bedrock batch inference, as pure functions (no boto3): the Messages requests
batchdrop builds turned into Bedrock records (``records``), a model invocation job's status
read as a batch's (``jobs``), and Bedrock's output lines turned back into the Claude API's
result lines (``outputs``), so Complete reads either backend's results the same way."""

from batchdrop.domain.bedrock.jobs import (
    ENDED_STATUSES,
    JobView,
    client_request_token,
    job_name,
    job_prefix,
    records_in_name,
)
from batchdrop.domain.bedrock.outputs import missing_line, result_line
from batchdrop.domain.bedrock.records import (
    ANTHROPIC_VERSION,
    BedrockUnsupported,
    cache_control_paths,
    custom_id_of,
    record_id,
    to_record,
)

__all__ = [
    "ANTHROPIC_VERSION",
    "ENDED_STATUSES",
    "BedrockUnsupported",
    "JobView",
    "cache_control_paths",
    "client_request_token",
    "custom_id_of",
    "job_name",
    "job_prefix",
    "missing_line",
    "record_id",
    "records_in_name",
    "result_line",
    "to_record",
]
