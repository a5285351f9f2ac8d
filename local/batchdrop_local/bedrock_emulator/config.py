"""The Bedrock emulator's settings and its clocks.

`BedrockConfig` says how long a job stays in each status, how records fail, the minimum job size
and what the emulator does with a reused clientRequestToken. `ManualClock` lets a test move time
by hand (nothing happens between two `advance` calls); `SystemClock` is real time, for the local
stack, where a ticker thread moves the jobs along.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

STATUSES = (
    "Submitted",
    "Validating",
    "Scheduled",
    "InProgress",
    "Completed",
    "PartiallyCompleted",
    "Failed",
    "Stopping",
    "Stopped",
    "Expired",
)
"""Every ModelInvocationJobStatus of botocore's `bedrock` service model."""
TIMED_STATUSES = ("Submitted", "Validating", "Scheduled", "InProgress", "Stopping")
"""The statuses a job leaves by itself after a configured duration."""
ENDED_STATUSES = frozenset({"Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"})
DEFAULT_DURATIONS = {
    "Submitted": 1.0,
    "Validating": 1.0,
    "Scheduled": 1.0,
    "InProgress": 3.0,
    "Stopping": 1.0,
}
MIN_RECORDS_CHECKS = ("create", "validation")
IDEMPOTENCY_MISMATCH = ("conflict", "ignore")


class Clock(Protocol):
    """Where the emulator reads the time (seconds since the epoch)."""

    def now(self) -> float: ...


class SystemClock:
    """Real time."""

    manual = False

    def now(self) -> float:
        return time.time()


class ManualClock:
    """Time that moves only when told to; starts at the real time of its creation (or `start`)."""

    manual = True

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by `seconds` (>= 0); the new time."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ValueError(f"seconds must be a non-negative number, got {seconds!r}")
        with self._lock:
            self._now += float(seconds)
            return self._now


@dataclass
class BedrockConfig:
    """How the emulator behaves. Change it at run time with `BedrockEngine.update_config` (or
    POST /_bedrock/config); new durations and failure rules apply to every job from then on."""

    durations: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_DURATIONS))
    """Seconds a job stays in each of TIMED_STATUSES before it moves on."""
    expiry_speedup: float = 1.0
    """timeoutDurationInHours is divided by this: 3600 makes a 24-hour timeout last 24 seconds."""
    min_records: int = 100
    """Bedrock's quota "Minimum number of records per batch inference job" (a per-model default)."""
    min_records_check: Literal["create", "validation"] = "create"
    """Where a too-small job is refused: at create (ValidationException, the job is never made)
    or while it validates (the job ends Failed with the same message)."""
    max_records: int = 50_000
    """Records per batch inference job; more and the job ends Failed while validating."""
    record_error_rate: float = 0.0
    """Share of records (a repeatable draw from the seed, the job and the recordId) that end with an error."""
    error_records: tuple[str, ...] = ()
    """Regular expressions: records whose recordId fully matches one end with an error."""
    error_records_attempts: int = 0
    """A record named by error_records errors only in its first this many jobs (0: in every
    job): a follow-up job that sends the same recordIds again then gets answers."""
    record_error_code: int = 500
    record_error_message: str = "An internal error occurred while processing this record (emulated)."
    seed: int = 0
    partial_on_record_errors: bool = True
    """A job with record errors ends PartiallyCompleted (False: Completed, errors only in the output)."""
    idempotency_mismatch: Literal["conflict", "ignore"] = "conflict"
    """A clientRequestToken reused with other parameters: ConflictException, or (ignore) the
    first job's ARN as if the parameters were the same."""
    unique_job_names: bool = True
    """A jobName already used by another job (another or no token) is a ConflictException."""
    region: str = "us-east-1"
    """The region of job ARNs when the request's signature names none."""
    account: str = "123456789012"
    """The account of job ARNs (moto's default account)."""
    aws_endpoint: str | None = None
    """Where S3 and EventBridge are (the local stack's moto); None: boto3's own resolution."""
    publish_events: bool = True
    """Put the "Batch Inference Job State Change" event on the default bus at each status change."""
    default_page_size: int = 100
    """ListModelInvocationJobs page size when maxResults is not given."""
    latency: float = 0.0
    """Seconds added before every answer of the control plane and InvokeModel (not the admin paths)."""

    def __post_init__(self) -> None:
        self.durations = _check_durations(self.durations)
        _non_negative_number(self.expiry_speedup, "expiry_speedup", positive=True)
        _non_negative_number(self.latency, "latency")
        for name in ("min_records", "max_records", "default_page_size", "error_records_attempts"):
            _count(
                getattr(self, name), name, minimum=1 if name in ("max_records", "default_page_size") else 0
            )
        if self.min_records_check not in MIN_RECORDS_CHECKS:
            raise ValueError(f"min_records_check must be one of {', '.join(MIN_RECORDS_CHECKS)}")
        if self.idempotency_mismatch not in IDEMPOTENCY_MISMATCH:
            raise ValueError(f"idempotency_mismatch must be one of {', '.join(IDEMPOTENCY_MISMATCH)}")
        rate = self.record_error_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
            raise ValueError(f"record_error_rate must be between 0 and 1, got {rate!r}")
        if isinstance(self.error_records, str):
            self.error_records = (self.error_records,)
        self.error_records = tuple(self.error_records)
        for pattern in self.error_records:
            try:
                re.compile(pattern)
            except (re.error, TypeError) as exc:
                raise ValueError(f"error_records: {pattern!r} is not a regular expression: {exc}") from None
        code = self.record_error_code
        if isinstance(code, bool) or not isinstance(code, int) or not 400 <= code <= 599:
            raise ValueError(f"record_error_code must be an HTTP error status, got {code!r}")
        for name in ("partial_on_record_errors", "unique_job_names", "publish_events"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")

    def replace(self, **changes: Any) -> BedrockConfig:
        """A checked copy with `changes`; `durations` may name only some statuses."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        if "durations" in changes and isinstance(changes["durations"], dict):
            changes["durations"] = {**self.durations, **changes["durations"]}
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        settings = dataclasses.asdict(self)
        settings["error_records"] = list(self.error_records)
        return settings


def _check_durations(durations: object) -> dict[str, float]:
    if not isinstance(durations, dict):
        raise ValueError(f"durations must map statuses to seconds, got {durations!r}")
    unknown = set(durations) - set(TIMED_STATUSES)
    if unknown:
        raise ValueError(
            f"durations: {', '.join(sorted(map(str, unknown)))} not timed; give {', '.join(TIMED_STATUSES)}"
        )
    merged = {**DEFAULT_DURATIONS, **durations}
    for status, seconds in merged.items():
        _non_negative_number(seconds, f"durations[{status}]")
    return {status: float(merged[status]) for status in TIMED_STATUSES}


def _non_negative_number(value: object, name: str, positive: bool = False) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value < 0
        or (positive and value == 0)
    ):
        raise ValueError(
            f"{name} must be a {'positive' if positive else 'non-negative'} number, got {value!r}"
        )


def _count(value: object, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}")


def aws_client(service: str, config: BedrockConfig, app_id: str | None = None) -> Any:
    """A boto3 client of the configured local AWS endpoint (moto accepts any credentials);
    `app_id` names the emulator in the User-Agent of its calls (the local stack's AWS faults
    can aim at it, or spare it, by that name)."""
    import boto3  # here: `batchdrop --help` and the argument parsers need no SDK
    from botocore.config import Config

    settings: dict[str, Any] = {"connect_timeout": 2, "read_timeout": 10, "retries": {"mode": "standard"}}
    if service == "s3":
        settings["s3"] = {"addressing_style": "path"}
    if app_id:
        settings["user_agent_appid"] = app_id
    options: dict[str, Any] = {"region_name": config.region, "config": Config(**settings)}
    if config.aws_endpoint:
        options.update(
            endpoint_url=config.aws_endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto accepts any credentials
        )
    return boto3.client(service, **options)  # type: ignore[call-overload]
