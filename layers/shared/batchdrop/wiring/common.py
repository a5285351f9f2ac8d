"""What every function's wiring makes the same way: the batch backend from the Anthropic access
settings, and the batch-creation policy from the creation settings. Each imports what it makes
when called, so a function that never creates a batch never loads it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from batchdrop.settings import AnthropicAccess, CreationSettings

if TYPE_CHECKING:
    from batchdrop.adapters.anthropic_backend import MessageBatches
    from batchdrop.usecases.batch_creation import CreationPolicy


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
