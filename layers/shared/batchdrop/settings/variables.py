"""Every environment variable a batchdrop function reads, declared once: its name, its default,
its bounds and what it means. The per-function models (batchdrop.settings.models) read these.

A missing or malformed variable fails the cold start with its name, instead of failing later
halfway through a batch.
"""

from __future__ import annotations

import ipaddress
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import field
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

# The dataclass field metadata key under which a model's field names the variable it reads.
VARIABLE = "batchdrop.variable"


class ConfigurationError(RuntimeError):
    """A required setting is missing or malformed."""


def _raw(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


class Variable(ABC, Generic[T]):
    """One environment variable. ``required`` ones have no default: they must be set.

    (Plain classes, not dataclasses: a cold start builds two dozen of them.)
    """

    __slots__ = ("meaning", "name")
    required: ClassVar[bool] = False

    def __init__(self, name: str, meaning: str) -> None:
        self.name = name
        self.meaning = meaning

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    @property
    def default(self) -> T:
        """The value when the variable is unset; a required variable has none."""
        raise LookupError(f"{self.name} is required: it has no default")

    @abstractmethod
    def read(self, env: Mapping[str, str]) -> T:
        """The variable's value in ``env`` (its default when unset), or ConfigurationError."""


class Required(Variable[str]):
    """A non-empty string (surrounding blanks stripped)."""

    __slots__ = ()
    required: ClassVar[bool] = True

    def read(self, env: Mapping[str, str]) -> str:
        value = _raw(env, self.name)
        if not value:
            raise ConfigurationError(
                f"environment variable {self.name} must be set (see template.yaml Globals)"
            )
        return value


class Text(Variable[str]):
    """A string that may be empty (surrounding blanks stripped)."""

    __slots__ = ()

    @property
    def default(self) -> str:
        return ""

    def read(self, env: Mapping[str, str]) -> str:
        return _raw(env, self.name)


class Integer(Variable[int]):
    """An integer in ``minimum..maximum``; empty means ``default``."""

    __slots__ = ("default_value", "maximum", "minimum")

    def __init__(self, name: str, meaning: str, *, default_value: int, minimum: int, maximum: int) -> None:
        super().__init__(name, meaning)
        self.default_value = default_value
        self.minimum = minimum
        self.maximum = maximum

    @property
    def default(self) -> int:
        return self.default_value

    def read(self, env: Mapping[str, str]) -> int:
        raw = _raw(env, self.name)
        if not raw:
            return self.default_value
        try:
            value = int(raw)
        except ValueError as exc:
            raise ConfigurationError(
                f"environment variable {self.name} must be an integer, got {raw!r}"
            ) from exc
        if not self.minimum <= value <= self.maximum:
            raise ConfigurationError(
                f"environment variable {self.name} must be in {self.minimum}..{self.maximum}, got {value}"
            )
        return value


class Money(Variable[float | None]):
    """An amount in USD; empty or 0 means none."""

    __slots__ = ()

    @property
    def default(self) -> float | None:
        return None

    def read(self, env: Mapping[str, str]) -> float | None:
        raw = _raw(env, self.name)
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError as exc:
            raise ConfigurationError(
                f"environment variable {self.name} must be a number of USD, got {raw!r}"
            ) from exc
        if value < 0:
            raise ConfigurationError(f"environment variable {self.name} must not be negative, got {value}")
        return value or None


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BaseUrl(Variable[str | None]):
    """An API base URL: https, or http to a loopback host (the local stack's emulator).

    The API key goes with every request, so a base URL that would send it in clear text over a
    network fails the cold start instead. Empty means "the public API" (the SDK itself would
    treat "" as a URL). An error names the scheme and host only, never a path or user info.
    """

    __slots__ = ()

    @property
    def default(self) -> str | None:
        return None

    def read(self, env: Mapping[str, str]) -> str | None:
        raw = _raw(env, self.name)
        if not raw:
            return None
        try:
            parts = urlsplit(raw)
            host = parts.hostname or ""
            _ = parts.port  # raises ValueError on a malformed port
        except ValueError as exc:
            raise ConfigurationError(f"environment variable {self.name} is not a URL: {exc}") from exc
        scheme = parts.scheme.lower()
        if not host or scheme not in ("https", "http"):
            raise ConfigurationError(
                f"environment variable {self.name} must be an https:// URL, "
                f"got scheme {parts.scheme!r} and host {host!r}"
            )
        if scheme == "http" and not _is_loopback(host):
            raise ConfigurationError(
                f"environment variable {self.name} must be an https:// URL (http:// is accepted only to "
                f"a loopback host: localhost, 127.0.0.0/8 or ::1), got http:// to {host!r}"
            )
        return raw


def setting(variable: Variable[T]) -> T:
    """A model's field that reads ``variable``; its default (if any) is the variable's."""
    metadata = {VARIABLE: variable}
    if variable.required:
        return field(metadata=metadata)
    default: Any = variable.default
    return field(default=default, metadata=metadata)


# ---------------------------------------------------------------- the stack's resources

BUCKET_NAME = Required("BUCKET_NAME", "the documents bucket (inbox/, results/, jobs/)")
JOBS_TABLE_NAME = Required("JOBS_TABLE_NAME", "the DynamoDB table of jobs, claims and documents")
EVENT_BUS_NAME = Required("EVENT_BUS_NAME", "the event bus Poll announces 'Batch Ended' on")
TOPIC_ARN = Required("TOPIC_ARN", "the SNS topic job notifications go to")

# ---------------------------------------------------------------- the Anthropic API

ANTHROPIC_SECRET_NAME = Required("ANTHROPIC_SECRET_NAME", "the Secrets Manager secret with the API key")
ANTHROPIC_BASE_URL = BaseUrl("ANTHROPIC_BASE_URL", "the API's base URL (empty: the public API)")
API_KEY_MAX_AGE_SECONDS = Integer(
    "API_KEY_MAX_AGE_SECONDS",
    "how long the key read from Secrets Manager is reused before it is read again, so that a "
    "rotated key is picked up without a cold start (0: read it for every use)",
    default_value=300,
    minimum=0,
    maximum=86_400,
)

# ---------------------------------------------------------------- the default profile

DEFAULT_MODEL = Required("DEFAULT_MODEL", "model of the default profile")
DEFAULT_MAX_TOKENS = Integer(
    "DEFAULT_MAX_TOKENS", "max_tokens of the default profile", default_value=1024, minimum=1, maximum=128_000
)
DEFAULT_INSTRUCTION = Required("DEFAULT_INSTRUCTION", "instruction the default profile sends")
DEFAULT_SYSTEM_PROMPT = Text("DEFAULT_SYSTEM_PROMPT", "system prompt of the default profile (empty: none)")

# ---------------------------------------------------------------- creating a batch (Submit, Poll, Complete)

SUBMIT_GRACE_SECONDS = Integer(
    "SUBMIT_GRACE_SECONDS",
    "how long a job's creation is its writer's: a job still `submitting` after this long lost its "
    "Submit and is reconciled (tests shorten it)",
    default_value=1200,
    minimum=0,
    maximum=86_400,
)
QUEUE_WAIT_MAX_HOURS = Integer(
    "QUEUE_WAIT_MAX_HOURS",
    "how long a job's documents wait for the organisation's batch queue to drain (creations refused "
    "with 429) before each still-waiting document gets an .error.json",
    default_value=24,
    minimum=1,
    maximum=168,
)
QUEUE_WAIT_MAX_SECONDS = Integer(
    "QUEUE_WAIT_MAX_SECONDS",
    "the same wait in seconds, for tests (0: QUEUE_WAIT_MAX_HOURS)",
    default_value=0,
    minimum=0,
    maximum=604_800,
)
QUEUE_RETRY_FIRST_SECONDS = Integer(
    "QUEUE_RETRY_FIRST_SECONDS",
    "the first wait after a 429, doubling up to 30 minutes (tests shorten it)",
    default_value=60,
    minimum=1,
    maximum=3600,
)
CREATE_SPAN_SECONDS = Integer(
    "CREATE_SPAN_SECONDS",
    "how long a batch a create made may take to appear in the list (no create again before)",
    default_value=180,
    minimum=1,
    maximum=3600,
)

# ---------------------------------------------------------------- Submit

DOCUMENT_READ_CONCURRENCY = Integer(
    "DOCUMENT_READ_CONCURRENCY", "documents Submit reads at once", default_value=16, minimum=1, maximum=128
)
# A batch's limits are the API's by default; smaller values are for tests.
BATCH_MAX_REQUESTS = Integer(
    "BATCH_MAX_REQUESTS", "most requests in one batch", default_value=100_000, minimum=1, maximum=100_000
)
BATCH_MAX_BYTES = Integer(
    "BATCH_MAX_BYTES",
    "most bytes in one batch",
    default_value=256 * 1024 * 1024,
    minimum=1024,
    maximum=256 * 1024 * 1024,
)
PDF_MAX_PAGES = Integer(
    "PDF_MAX_PAGES",
    "most pages a PDF may have (100 for 200k-context models, up to 600 for larger ones)",
    default_value=100,
    minimum=1,
    maximum=600,
)
MAX_JOB_COST_USD = Money("MAX_JOB_COST_USD", "the stack's budget for one job, USD at batch price")

# ---------------------------------------------------------------- Poll

UNCOLLECTED_AFTER_HOURS = Integer(
    "UNCOLLECTED_AFTER_HOURS",
    "a job whose batch ended this long ago and that was not collected counts as uncollected (alarm)",
    default_value=24,
    minimum=1,
    maximum=648,
)
REDRIVE_AFTER_SECONDS = Integer(
    "REDRIVE_AFTER_SECONDS",
    "a job ended but not completed after this long is announced again (tests shorten it)",
    default_value=1800,
    minimum=0,
    maximum=86_400,
)
ENDING_LEASE_SECONDS = Integer(
    "ENDING_LEASE_SECONDS",
    "how long a poller holds the right to announce 'Batch Ended' before another may retake it",
    default_value=300,
    minimum=0,
    maximum=3600,
)

# ---------------------------------------------------------------- Complete

RESULT_WRITE_CONCURRENCY = Integer(
    "RESULT_WRITE_CONCURRENCY",
    "result objects Complete writes at once",
    default_value=16,
    minimum=1,
    maximum=128,
)
COMPLETING_LEASE_SECONDS = Integer(
    "COMPLETING_LEASE_SECONDS",
    "how long a Complete invocation holds a job before another may take it over (it must exceed the "
    "function's 15-minute timeout; tests shorten it)",
    default_value=1200,
    minimum=0,
    maximum=86_400,
)
MAX_ATTEMPTS = Integer(
    "MAX_ATTEMPTS",
    "attempts a request gets in all before a transient failure becomes its .error.json",
    default_value=3,
    minimum=1,
    maximum=10,
)
