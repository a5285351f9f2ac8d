"""What every function's wiring makes the same way: the batch backends from the Anthropic access
and Bedrock settings, and the batch-creation policy from the creation settings. Each imports
what it makes when called, so a function that never creates a batch never loads it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from batchdrop.settings import AnthropicAccess, CreationSettings
from batchdrop.settings.bedrock import BedrockSettings

if TYPE_CHECKING:
    from batchdrop.adapters.anthropic_backend import MessageBatches
    from batchdrop.adapters.bedrock_backend import BedrockBatches
    from batchdrop.adapters.bedrock_on_demand import BedrockOnDemand
    from batchdrop.ports.batches import Backends, BatchBackend
    from batchdrop.usecases.batch_creation import CreationPolicy

NO_BEDROCK_ROLE = (
    "this stack has no Bedrock service role (BEDROCK_SERVICE_ROLE_ARN is empty), so nothing can "
    "run on Amazon Bedrock: deploy the stack with its Bedrock role, or give the profile backend anthropic"
)


def message_batches(access: AnthropicAccess) -> MessageBatches:
    """The Message Batches API: the key from Secrets Manager (reused for its max age)."""
    from batchdrop.adapters.anthropic_backend import MessageBatches
    from batchdrop.adapters.secrets import secret_api_key

    return MessageBatches(secret_api_key(access.secret_name, access.key_max_age_seconds), access.base_url)


def creation_policy(creation: CreationSettings) -> CreationPolicy:
    """How a job's batch is created: the writer's lease, then waits on a full queue."""
    from batchdrop.usecases.batch_creation import CreationPolicy

    return CreationPolicy(
        lease=creation.submit_grace,
        queue_wait_max=creation.queue_wait_max,
        first_backoff=creation.queue_retry_first,
        create_span=creation.create_span,
    )


def bedrock_batches(bedrock: BedrockSettings, bucket: str) -> BedrockBatches:
    """Amazon Bedrock batch inference from the functions' session: its service role and job
    timeout from the settings; AWS_ENDPOINT_URL_BEDROCK alone points it elsewhere (the local
    stack's emulator)."""
    from batchdrop.adapters import sessions
    from batchdrop.adapters.bedrock_backend import bedrock_backend_from_session

    return bedrock_backend_from_session(
        sessions.session(), bucket, bedrock.role_arn, timeout_hours=bedrock.job_timeout_hours
    )


def backends(anthropic: Callable[[], BatchBackend], bedrock: BedrockSettings, bucket: str) -> Backends:
    """The backends a job may record, each made on first use: the Claude API's (``anthropic``
    makes it), and Bedrock's, which a stack without its service role refuses (NO_BEDROCK_ROLE)."""
    from batchdrop.ports.batches import ANTHROPIC, BEDROCK, BEDROCK_ON_DEMAND, Backends

    return Backends(
        {
            ANTHROPIC: anthropic,
            BEDROCK: lambda: bedrock_batches(bedrock, bucket),
            BEDROCK_ON_DEMAND: lambda: bedrock_on_demand(bucket),
        },
        None if bedrock.configured else {BEDROCK: NO_BEDROCK_ROLE, BEDROCK_ON_DEMAND: NO_BEDROCK_ROLE},
    )


def bedrock_on_demand(bucket: str) -> BedrockOnDemand:
    """Claude on Bedrock by InvokeModel (a held job's profile asked for it), from the functions'
    session; AWS_ENDPOINT_URL_BEDROCK_RUNTIME alone points it elsewhere (the local emulator)."""
    from batchdrop.adapters import sessions
    from batchdrop.adapters.bedrock_on_demand import bedrock_on_demand_from_session

    return bedrock_on_demand_from_session(sessions.session(), bucket)
