"""Settings read once per container from the environment that template.yaml sets.

A missing or malformed variable fails the cold start with its name, instead of failing later
halfway through a batch.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit


class ConfigurationError(RuntimeError):
    """A required setting is missing or malformed."""


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} must be set (see template.yaml Globals)")
    return value


def _int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"environment variable {name} must be an integer, got {raw!r}") from exc
    if not minimum <= value <= maximum:
        raise ConfigurationError(f"environment variable {name} must be in {minimum}..{maximum}, got {value}")
    return value


def _money(env: Mapping[str, str], name: str) -> float | None:
    """A budget in USD; empty or 0 means none."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"environment variable {name} must be a number of USD, got {raw!r}") from exc
    if value < 0:
        raise ConfigurationError(f"environment variable {name} must not be negative, got {value}")
    return value or None


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _base_url(env: Mapping[str, str], name: str) -> str | None:
    """An API base URL: https, or http to a loopback host (the local stack's emulator).

    The API key goes with every request, so a base URL that would send it in clear text over a
    network fails the cold start instead. Empty means "the public API".
    """
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        parts = urlsplit(raw)
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError as exc:
        raise ConfigurationError(f"environment variable {name} is not a URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if not host or scheme not in ("https", "http"):
        raise ConfigurationError(
            f"environment variable {name} must be an https:// URL, "
            f"got scheme {parts.scheme!r} and host {host!r}"
        )
    if scheme == "http" and not _is_loopback(host):
        raise ConfigurationError(
            f"environment variable {name} must be an https:// URL (http:// is accepted only to a "
            f"loopback host: localhost, 127.0.0.0/8 or ::1), got http:// to {host!r}"
        )
    return raw


@dataclass(frozen=True)
class DefaultProfileSettings:
    """The profile used for files directly in ``inbox/`` and in ``inbox/default/``."""

    model: str
    max_tokens: int
    instruction: str
    system_prompt: str


@dataclass(frozen=True)
class Settings:
    """Everything a batchdrop function needs to know about its stack."""

    bucket_name: str
    jobs_table_name: str
    event_bus_name: str
    topic_arn: str
    anthropic_secret_name: str
    anthropic_base_url: str | None
    default_profile: DefaultProfileSettings
    result_write_concurrency: int
    document_read_concurrency: int = 16
    # A batch's limits (the API's by default; smaller values are for tests) and the page
    # limit for PDFs (100 for 200k-context models, up to 600 for larger ones).
    batch_max_requests: int = 100_000
    batch_max_bytes: int = 256 * 1024 * 1024
    pdf_max_pages: int = 100
    # Alarm on jobs whose batch ended this long ago and that were not collected.
    uncollected_after_hours: int = 24
    # A job still `submitting` after this long lost its Submit and is reconciled (tests shorten it).
    submit_grace_seconds: int = 1200
    # A job ended but not completed after this long is announced again (tests shorten it).
    redrive_after_seconds: int = 1800
    # How long a Complete invocation holds a job before another may take it over (it must
    # exceed the function's 15-minute timeout; tests shorten it).
    completing_lease_seconds: int = 1200
    # Attempts a request gets in all before a transient failure becomes its .error.json.
    max_attempts: int = 3
    # The stack's budget for one job, USD at batch price (None: no budget).
    max_job_cost_usd: float | None = None
    # How long a job's documents wait for the organisation's batch queue to drain (batch
    # creations refused with 429) before each still-waiting document gets an .error.json.
    queue_wait_max_hours: int = 24
    # How long the API key read from Secrets Manager is reused before it is read again, so that
    # a rotated key is picked up without a cold start (0: read it for every use).
    api_key_max_age_seconds: int = 300
    # Tests shorten these (seconds): the wait for the batch queue before giving up (0: from
    # queue_wait_max_hours), the first wait after a 429 (doubling up to 30 minutes), and how
    # long a poller holds the right to announce "Batch Ended" before another may retake it.
    queue_wait_max_seconds: int = 0
    queue_retry_first_seconds: int = 60
    ending_lease_seconds: int = 300
    # How long a batch a create made may take to appear in the list (no create again before).
    create_span_seconds: int = 180

    @property
    def queue_wait_max(self) -> timedelta:
        return timedelta(seconds=self.queue_wait_max_seconds or self.queue_wait_max_hours * 3600)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            bucket_name=_required(env, "BUCKET_NAME"),
            jobs_table_name=_required(env, "JOBS_TABLE_NAME"),
            event_bus_name=_required(env, "EVENT_BUS_NAME"),
            topic_arn=_required(env, "TOPIC_ARN"),
            anthropic_secret_name=_required(env, "ANTHROPIC_SECRET_NAME"),
            # Empty means "the public API"; the SDK itself would treat "" as a URL.
            anthropic_base_url=_base_url(env, "ANTHROPIC_BASE_URL"),
            default_profile=DefaultProfileSettings(
                model=_required(env, "DEFAULT_MODEL"),
                max_tokens=_int(env, "DEFAULT_MAX_TOKENS", 1024, 1, 128_000),
                instruction=_required(env, "DEFAULT_INSTRUCTION"),
                system_prompt=env.get("DEFAULT_SYSTEM_PROMPT", "").strip(),
            ),
            result_write_concurrency=_int(env, "RESULT_WRITE_CONCURRENCY", 16, 1, 128),
            document_read_concurrency=_int(env, "DOCUMENT_READ_CONCURRENCY", 16, 1, 128),
            batch_max_requests=_int(env, "BATCH_MAX_REQUESTS", 100_000, 1, 100_000),
            batch_max_bytes=_int(env, "BATCH_MAX_BYTES", 256 * 1024 * 1024, 1024, 256 * 1024 * 1024),
            pdf_max_pages=_int(env, "PDF_MAX_PAGES", 100, 1, 600),
            uncollected_after_hours=_int(env, "UNCOLLECTED_AFTER_HOURS", 24, 1, 648),
            submit_grace_seconds=_int(env, "SUBMIT_GRACE_SECONDS", 1200, 0, 86_400),
            redrive_after_seconds=_int(env, "REDRIVE_AFTER_SECONDS", 1800, 0, 86_400),
            completing_lease_seconds=_int(env, "COMPLETING_LEASE_SECONDS", 1200, 0, 86_400),
            max_attempts=_int(env, "MAX_ATTEMPTS", 3, 1, 10),
            max_job_cost_usd=_money(env, "MAX_JOB_COST_USD"),
            queue_wait_max_hours=_int(env, "QUEUE_WAIT_MAX_HOURS", 24, 1, 168),
            api_key_max_age_seconds=_int(env, "API_KEY_MAX_AGE_SECONDS", 300, 0, 86_400),
            queue_wait_max_seconds=_int(env, "QUEUE_WAIT_MAX_SECONDS", 0, 0, 604_800),
            queue_retry_first_seconds=_int(env, "QUEUE_RETRY_FIRST_SECONDS", 60, 1, 3600),
            ending_lease_seconds=_int(env, "ENDING_LEASE_SECONDS", 300, 0, 3600),
            create_span_seconds=_int(env, "CREATE_SPAN_SECONDS", 180, 1, 3600),
        )
