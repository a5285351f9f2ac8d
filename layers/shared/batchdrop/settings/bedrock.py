"""The Bedrock settings every function reads: the stack's Bedrock service role, the timeout of
a model invocation job, and the backend a profile that names none runs on.

Declared here, the way ``variables`` declares the others (one Variable each, read through
``setting``); ``models`` gives each function's model a ``bedrock`` group of this type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from batchdrop.settings.models import FromEnv
from batchdrop.settings.variables import ConfigurationError, Integer, Text, Variable, setting

BACKENDS = ("anthropic", "bedrock")


class Choice(Variable[str]):
    """One of ``choices``; empty means the first."""

    __slots__ = ("choices",)

    def __init__(self, name: str, meaning: str, *, choices: tuple[str, ...]) -> None:
        super().__init__(name, meaning)
        self.choices = choices

    @property
    def default(self) -> str:
        return self.choices[0]

    def read(self, env: Mapping[str, str]) -> str:
        raw = env.get(self.name, "").strip()
        if not raw:
            return self.default
        if raw not in self.choices:
            raise ConfigurationError(
                f"environment variable {self.name} must be one of {', '.join(self.choices)}, got {raw!r}"
            )
        return raw


BEDROCK_SERVICE_ROLE_ARN = Text(
    "BEDROCK_SERVICE_ROLE_ARN",
    "the IAM role Bedrock batch inference assumes to read a job's records and write its outputs "
    "(empty: the stack has no Bedrock role, and Bedrock profiles are refused)",
)
BEDROCK_JOB_TIMEOUT_HOURS = Integer(
    "BEDROCK_JOB_TIMEOUT_HOURS",
    "how long a Bedrock model invocation job may run before it expires (timeoutDurationInHours)",
    default_value=24,
    minimum=24,
    maximum=168,
)
DEFAULT_BACKEND = Choice(
    "DEFAULT_BACKEND",
    "the backend of a profile that names none: anthropic (the Claude API) or bedrock",
    choices=BACKENDS,
)
DEFAULT_BEDROCK_MODEL = Text(
    "DEFAULT_BEDROCK_MODEL",
    "the Bedrock model id or inference profile of a bedrock profile that names no bedrock_model "
    "(empty: such a profile is refused)",
)
BEDROCK_MIN_RECORDS = Integer(
    "BEDROCK_MIN_RECORDS",
    "Bedrock's minimum number of records per batch inference job (its per-model quota): a smaller "
    "set of a profile's documents is held for more",
    default_value=100,
    minimum=1,
    maximum=50_000,
)
BEDROCK_MAX_RECORDS = Integer(
    "BEDROCK_MAX_RECORDS",
    "Bedrock's maximum number of records per batch inference job (its per-model quota): more are "
    "split into jobs of about equal size",
    default_value=50_000,
    minimum=1,
    maximum=1_000_000,
)
BEDROCK_MIN_WAIT_MINUTES = Integer(
    "BEDROCK_MIN_WAIT_MINUTES",
    "how long documents below Bedrock's minimum job size wait for more of their profile before "
    "their profile's below_minimum decides (on_demand or error)",
    default_value=1440,
    minimum=0,
    maximum=7 * 1440,
)
VARIABLES = (
    BEDROCK_SERVICE_ROLE_ARN,
    BEDROCK_JOB_TIMEOUT_HOURS,
    DEFAULT_BACKEND,
    DEFAULT_BEDROCK_MODEL,
    BEDROCK_MIN_RECORDS,
    BEDROCK_MAX_RECORDS,
    BEDROCK_MIN_WAIT_MINUTES,
)


@dataclass(frozen=True, kw_only=True)
class BedrockSettings(FromEnv):
    """Where Bedrock batch jobs run from: the service role (empty: not configured), the job
    timeout, and the stack's default backend."""

    role_arn: str = setting(BEDROCK_SERVICE_ROLE_ARN)
    job_timeout_hours: int = setting(BEDROCK_JOB_TIMEOUT_HOURS)
    default_backend: str = setting(DEFAULT_BACKEND)
    default_model: str = setting(DEFAULT_BEDROCK_MODEL)
    min_records: int = setting(BEDROCK_MIN_RECORDS)
    max_records: int = setting(BEDROCK_MAX_RECORDS)
    min_wait_minutes: int = setting(BEDROCK_MIN_WAIT_MINUTES)

    @property
    def configured(self) -> bool:
        """Whether the stack has a Bedrock service role (Bedrock jobs can be created)."""
        return bool(self.role_arn)
