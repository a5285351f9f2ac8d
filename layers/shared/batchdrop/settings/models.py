"""One settings model per function, composed of the groups they share.

Each field names the variable it reads (batchdrop.settings.variables); a model reads those and
no others, so Poll starts without the variables only Submit or Complete use. Durations come as
``timedelta`` properties: handlers build their use cases' policies from them (settings import no
use case).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any, Self, get_type_hints

from batchdrop.settings import variables as v
from batchdrop.settings.variables import VARIABLE, Variable, setting


@dataclass(frozen=True, kw_only=True)
class FromEnv:
    """Reads each field from the variable it names (``setting``); a field without one holds a
    group of settings (another FromEnv), read the same way."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        env = os.environ if env is None else env
        return cls(**{name: read(env) for name, read in cls._readers()})

    @classmethod
    def variables(cls) -> Iterator[Variable[Any]]:
        """The variables this model reads, its groups' included."""
        groups = get_type_hints(cls)
        for item in fields(cls):
            if VARIABLE in item.metadata:
                yield item.metadata[VARIABLE]
            else:
                yield from groups[item.name].variables()

    @classmethod
    def _readers(cls) -> Iterator[tuple[str, Callable[[Mapping[str, str]], Any]]]:
        groups = get_type_hints(cls)
        for item in fields(cls):
            if VARIABLE in item.metadata:
                yield item.name, item.metadata[VARIABLE].read
            else:
                yield item.name, groups[item.name].from_env


# ---------------------------------------------------------------- shared groups


@dataclass(frozen=True, kw_only=True)
class StackResources(FromEnv):
    """The bucket and the jobs table every function uses."""

    bucket_name: str = setting(v.BUCKET_NAME)
    jobs_table_name: str = setting(v.JOBS_TABLE_NAME)


@dataclass(frozen=True, kw_only=True)
class AnthropicAccess(FromEnv):
    """Where the API key is, where the API is, and how long a key read is reused."""

    secret_name: str = setting(v.ANTHROPIC_SECRET_NAME)
    base_url: str | None = setting(v.ANTHROPIC_BASE_URL)
    key_max_age_seconds: int = setting(v.API_KEY_MAX_AGE_SECONDS)


@dataclass(frozen=True, kw_only=True)
class CreationSettings(FromEnv):
    """How a job's batch is created, by Submit first and by Poll or Complete after."""

    submit_grace_seconds: int = setting(v.SUBMIT_GRACE_SECONDS)
    queue_wait_max_hours: int = setting(v.QUEUE_WAIT_MAX_HOURS)
    queue_wait_max_seconds: int = setting(v.QUEUE_WAIT_MAX_SECONDS)
    queue_retry_first_seconds: int = setting(v.QUEUE_RETRY_FIRST_SECONDS)
    create_span_seconds: int = setting(v.CREATE_SPAN_SECONDS)

    @property
    def submit_grace(self) -> timedelta:
        """A job's creation is its writer's for this long; then Poll's (the creation lease)."""
        return timedelta(seconds=self.submit_grace_seconds)

    @property
    def queue_wait_max(self) -> timedelta:
        return timedelta(seconds=self.queue_wait_max_seconds or self.queue_wait_max_hours * 3600)

    @property
    def queue_retry_first(self) -> timedelta:
        return timedelta(seconds=self.queue_retry_first_seconds)

    @property
    def create_span(self) -> timedelta:
        return timedelta(seconds=self.create_span_seconds)


@dataclass(frozen=True, kw_only=True)
class DefaultProfileSettings(FromEnv):
    """The profile used for files directly in ``inbox/`` and in ``inbox/default/``."""

    model: str = setting(v.DEFAULT_MODEL)
    max_tokens: int = setting(v.DEFAULT_MAX_TOKENS)
    instruction: str = setting(v.DEFAULT_INSTRUCTION)
    system_prompt: str = setting(v.DEFAULT_SYSTEM_PROMPT)


# ---------------------------------------------------------------- one model per function


@dataclass(frozen=True, kw_only=True)
class SubmitSettings(FromEnv):
    stack: StackResources
    anthropic: AnthropicAccess
    creation: CreationSettings
    default_profile: DefaultProfileSettings
    bedrock: BedrockSettings
    topic_arn: str = setting(v.TOPIC_ARN)
    document_read_concurrency: int = setting(v.DOCUMENT_READ_CONCURRENCY)
    batch_max_requests: int = setting(v.BATCH_MAX_REQUESTS)
    batch_max_bytes: int = setting(v.BATCH_MAX_BYTES)
    pdf_max_pages: int = setting(v.PDF_MAX_PAGES)
    max_job_cost_usd: float | None = setting(v.MAX_JOB_COST_USD)


@dataclass(frozen=True, kw_only=True)
class PollSettings(FromEnv):
    stack: StackResources
    anthropic: AnthropicAccess
    creation: CreationSettings
    bedrock: BedrockSettings
    event_bus_name: str = setting(v.EVENT_BUS_NAME)
    uncollected_after_hours: int = setting(v.UNCOLLECTED_AFTER_HOURS)
    redrive_after_seconds: int = setting(v.REDRIVE_AFTER_SECONDS)
    ending_lease_seconds: int = setting(v.ENDING_LEASE_SECONDS)

    @property
    def uncollected_after(self) -> timedelta:
        return timedelta(hours=self.uncollected_after_hours)

    @property
    def redrive_after(self) -> timedelta:
        return timedelta(seconds=self.redrive_after_seconds)

    @property
    def ending_lease(self) -> timedelta:
        return timedelta(seconds=self.ending_lease_seconds)


@dataclass(frozen=True, kw_only=True)
class CompleteSettings(FromEnv):
    stack: StackResources
    anthropic: AnthropicAccess
    creation: CreationSettings
    bedrock: BedrockSettings
    topic_arn: str = setting(v.TOPIC_ARN)
    event_bus_name: str = setting(v.EVENT_BUS_NAME)
    result_write_concurrency: int = setting(v.RESULT_WRITE_CONCURRENCY)
    completing_lease_seconds: int = setting(v.COMPLETING_LEASE_SECONDS)
    max_attempts: int = setting(v.MAX_ATTEMPTS)

    @property
    def completing_lease(self) -> timedelta:
        return timedelta(seconds=self.completing_lease_seconds)


# The Bedrock group is declared in its own module, which builds on FromEnv above: imported last.
from batchdrop.settings.bedrock import BedrockSettings  # noqa: E402
