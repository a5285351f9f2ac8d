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
VARIABLES = (BEDROCK_SERVICE_ROLE_ARN, BEDROCK_JOB_TIMEOUT_HOURS, DEFAULT_BACKEND)


@dataclass(frozen=True, kw_only=True)
class BedrockSettings(FromEnv):
    """Where Bedrock batch jobs run from: the service role (empty: not configured), the job
    timeout, and the stack's default backend."""

    role_arn: str = setting(BEDROCK_SERVICE_ROLE_ARN)
    job_timeout_hours: int = setting(BEDROCK_JOB_TIMEOUT_HOURS)
    default_backend: str = setting(DEFAULT_BACKEND)

    @property
    def configured(self) -> bool:
        """Whether the stack has a Bedrock service role (Bedrock jobs can be created)."""
        return bool(self.role_arn)
