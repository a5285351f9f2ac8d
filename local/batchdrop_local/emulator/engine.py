"""Message Batches state without HTTP: create, lazy processing by the clock, results, statistics.

A batch's life is computed from the clock when it is looked at; nothing runs in the background.
Each request has a deterministic "completion point" within the processing window, derived from
its custom_id, which decides what a cancel catches. Which requests error or expire is decided
from a hash of the seed, the custom_id and how many times that custom_id has been submitted (its
attempt), so a run is repeatable and a request resubmitted in a new batch gets a fresh draw, as a
transient failure would. Fail rules (`fail_first_attempts`) say exactly which requests fail on
which attempts, for tests of a client's retry path.

Each create records its `anthropic-version` and `anthropic-beta` headers and the model catalogue
as they were; each request is checked against that version's rules and that catalogue when the
batch is processed (`rules.check_params`), so a request the API would refuse ends `errored`
rather than failing the create. The catalogue (models.json plus `model_overrides`) also answers
the Models API and count_tokens.

Results stay downloadable for `results_ttl` (29 days) from creation; then the batch reports
`archived_at` and its results answer 404. Creates are refused with 429 while the queue is full:
switched on explicitly, or when the requests still processing plus the new ones pass `queue_limit`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from batchdrop_local.emulator.answers import answer, count_input_tokens
from batchdrop_local.emulator.catalogue import LIFECYCLES, Catalogue, check_overrides
from batchdrop_local.emulator.rules import CURRENT_VERSION, ParamsError, RequestContext, check_params

EXPIRY_SECONDS = 24 * 3600
ARCHIVE_SECONDS = 29 * 24 * 3600
MAX_LIST_LIMIT = 1000
DEFAULT_LIST_LIMIT = 20
CUSTOM_ID_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")
COUNTERS = ("processing", "succeeded", "errored", "canceled", "expired")
_BASE62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BYTE_TO_BASE62 = bytes(_BASE62[byte % 62] for byte in range(256))

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

ERRORED_TYPES = (
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "rate_limit_error",
    "timeout_error",
    "api_error",
    "overloaded_error",
)
"""The error.type values an errored result line may carry."""
_ERRORED_MESSAGES = {
    "api_error": "Internal server error (emulated)",
    "overloaded_error": "Overloaded (emulated)",
    "rate_limit_error": "Rate limited (emulated)",
    "timeout_error": "Request timed out (emulated)",
}
QUEUE_FULL_MESSAGE = (
    "Your organization has reached its limit of batch requests in the processing queue{detail}; "
    "no batch was created. Try again once earlier batches have ended."
)
"""The 429 message for a full queue: the real wording was not found, this one is a guess."""

Outcome = Literal["succeeded", "errored", "expired"]


@dataclass(frozen=True)
class FailRule:
    """Requests whose custom_id matches `pattern` (re.fullmatch) end `outcome` on their first
    `attempts` submissions, then succeed. The attempt counts every submission of the custom_id
    to this emulator, in any batch."""

    pattern: str
    attempts: int = 1
    outcome: Literal["errored", "expired"] = "errored"
    error_type: str | None = None
    """The errored line's error.type; None: the config's `error_type`."""

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, str) or not self.pattern:
            raise ValueError(
                f"fail rule pattern must be a non-empty regular expression, got {self.pattern!r}"
            )
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(
                f"fail rule pattern {self.pattern!r} is not a valid regular expression: {exc}"
            ) from None
        attempts = self.attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(f"fail rule attempts must be a positive integer, got {attempts!r}")
        if self.outcome not in ("errored", "expired"):
            raise ValueError(f"fail rule outcome must be errored or expired, got {self.outcome!r}")
        if self.error_type is not None:
            if self.outcome != "errored":
                raise ValueError("a fail rule's error_type needs outcome errored")
            _check_errored_type(self.error_type, "fail rule error_type")

    @classmethod
    def parse(cls, spec: object) -> FailRule:
        """A rule from a FailRule, a dict with its fields, or the text `REGEX=N[:OUTCOME]`.

        In the text form OUTCOME is `expired`, `errored` or an error type (errored with it),
        e.g. `doc-000[12]=2`, `doc-.*=1:expired`, `big-.*=3:overloaded_error`.
        """
        if isinstance(spec, FailRule):
            return spec
        if isinstance(spec, dict):
            unknown = set(spec) - {"pattern", "attempts", "outcome", "error_type"}
            if unknown:
                raise ValueError(f"unknown fail rule field(s): {', '.join(sorted(unknown))}")
            if "pattern" not in spec:
                raise ValueError("a fail rule needs a pattern")
            return cls(**spec)
        if isinstance(spec, str):
            pattern, sep, rest = spec.rpartition("=")
            if not sep:
                raise ValueError(f"fail rule {spec!r} must look like REGEX=N[:OUTCOME]")
            count, _, outcome = rest.partition(":")
            try:
                attempts = int(count)
            except ValueError:
                raise ValueError(f"fail rule {spec!r}: {count!r} is not a number of attempts") from None
            if outcome in ("", "errored"):
                return cls(pattern, attempts)
            if outcome == "expired":
                return cls(pattern, attempts, "expired")
            return cls(pattern, attempts, "errored", outcome)
        raise ValueError(f"a fail rule must be an object or REGEX=N[:OUTCOME] text, got {spec!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def matches(self, custom_id: str) -> bool:
        return re.fullmatch(self.pattern, custom_id) is not None


def _check_errored_type(value: object, name: str) -> None:
    if value not in ERRORED_TYPES:
        raise ValueError(f"{name} must be one of {', '.join(ERRORED_TYPES)}, got {value!r}")


@dataclass
class EmulatorConfig:
    """How the emulator behaves; the engine copies it, change it later with `update_config`."""

    processing_delay: float = 2.0
    """Seconds from create until a batch is ended (0: ended when first looked at)."""
    error_rate: float = 0.0
    """Share of requests that end errored (with `error_type`)."""
    expire_rate: float = 0.0
    """Share of requests that end expired."""
    error_type: str = "api_error"
    """error.type of the lines `error_rate` (and fail rules without their own type) make errored."""
    seed: int | None = None
    """Mixed into the error/expire draw: another seed, another (repeatable) choice of requests."""
    fail_first_attempts: tuple[FailRule, ...] = ()
    """Rules that fail chosen requests on their first attempts; the first matching rule decides
    (and a request it matches is not drawn by the rates). Dicts and REGEX=N[:OUTCOME] text are
    accepted and turned into FailRule."""
    results_ttl: float = ARCHIVE_SECONDS
    """Seconds from creation until an ended batch is archived and its results answer 404."""
    queue_limit: int | None = None
    """Most requests the processing queue holds; a create that would pass it is a 429 (None: no limit)."""
    queue_retry_after: float = 60.0
    """Seconds in the retry-after (and retry-after-ms) header of a queue-full 429."""
    api_key: str | None = None
    """Accept only this key; None accepts any non-empty key."""
    max_body_bytes: int = 256 * 1024 * 1024
    """Larger request bodies are answered 413 request_too_large."""
    max_requests: int = 100_000
    """Most requests one batch may hold."""
    cancel_grace: float = 0.5
    """A canceled batch ends at most this many seconds (and at most processing_delay) after the cancel."""
    fault_retry_after_ms: int = 10
    """retry-after-ms sent with injected retryable faults, so SDK retries are quick (0: SDK backoff)."""
    results_page_size: int = 1000
    """Result lines written per chunk of the streamed JSONL body."""
    keep_requests: bool = False
    """Keep every batch's requests after it ends, for `batch_requests` (tests inspect them)."""
    latency: float = 0.0
    """Seconds added before every API answer, to stand in for the network (benchmarks)."""
    invalid_output_rate: float = 0.0
    """Share of structured-output answers (output_config.format) made deliberately invalid
    against their schema (a required field dropped, or the wrong type; still JSON), drawn like
    error_rate from the seed, the custom_id and the attempt."""
    model_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Fields merged onto models.json entries by model id (nested objects key by key); an id not
    in the catalogue adds a model (then every ModelInfo field is needed). E.g.
    {"claude-haiku-4-5": {"lifecycle": "deprecated", "retires_at": "2027-02-01T00:00:00Z"}}."""

    def __post_init__(self) -> None:
        numbers = (
            "processing_delay",
            "error_rate",
            "expire_rate",
            "cancel_grace",
            "latency",
            "results_ttl",
            "invalid_output_rate",
        )
        for name in (*numbers, "queue_retry_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value!r}")
        if self.error_rate > 1 or self.expire_rate > 1 or self.error_rate + self.expire_rate > 1:
            raise ValueError("error_rate and expire_rate must each be at most 1, and so must their sum")
        if self.invalid_output_rate > 1:
            raise ValueError(f"invalid_output_rate must be at most 1, got {self.invalid_output_rate!r}")
        self.model_overrides = check_overrides(self.model_overrides)
        for name in ("max_body_bytes", "max_requests", "results_page_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        retry_ms = self.fault_retry_after_ms
        if isinstance(retry_ms, bool) or not isinstance(retry_ms, int) or retry_ms < 0:
            raise ValueError(f"fault_retry_after_ms must be a non-negative integer, got {retry_ms!r}")
        if self.api_key is not None and (not isinstance(self.api_key, str) or not self.api_key):
            raise ValueError("api_key must be None or a non-empty string")
        _check_errored_type(self.error_type, "error_type")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError(f"seed must be None or an integer, got {self.seed!r}")
        limit = self.queue_limit
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"queue_limit must be None or a positive integer, got {limit!r}")
        rules = self.fail_first_attempts
        if isinstance(rules, str | dict | FailRule) or not isinstance(rules, list | tuple):
            raise ValueError(f"fail_first_attempts must be a list of rules, got {rules!r}")
        self.fail_first_attempts = tuple(FailRule.parse(rule) for rule in rules)


class ApiError(Exception):
    """An error answer: HTTP status, the API's error type and a message."""

    def __init__(
        self, status: int, message: str, error_type: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or error_type_for(status)
        self.headers = headers or {}


def error_type_for(status: int) -> str:
    """The API's error.type for an HTTP status."""
    return ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")


def new_id(prefix: str) -> str:
    """`prefix` followed by 24 random base62 characters, like msgbatch_ and msg_ ids."""
    return prefix + secrets.token_bytes(24).translate(_BYTE_TO_BASE62).decode()


def rfc3339(timestamp: float) -> str:
    """RFC 3339 UTC time with microseconds and Z, as the API writes it."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _unit_hash(text: str) -> float:
    """A stable number in [0, 1) for `text`."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


def completion_fraction(custom_id: str) -> float:
    """Where in (0, 1] of the processing window this request completes."""
    return (math.floor(_unit_hash(f"progress:{custom_id}") * 10_000) + 1) / 10_000


def planned_invalid_output(custom_id: str, attempt: int, rate: float, seed: int | None = None) -> bool:
    """Whether a structured answer of this request's attempt is made invalid (`invalid_output_rate`);
    a draw of its own, apart from the outcome's."""
    key = f"{custom_id}:{attempt}" if seed is None else f"{seed}:{custom_id}:{attempt}"
    return _unit_hash(f"invalid-output:{key}") < rate


def planned_outcome(
    custom_id: str, attempt: int, error_rate: float, expire_rate: float, seed: int | None = None
) -> Outcome:
    """The rates' fate for a request with valid params that is processed; `attempt` counts from 1.

    The draw hashes the seed, the custom_id and the attempt: the same on every run, fresh for
    each resubmission (a random batch id would make runs differ).
    """
    key = f"{custom_id}:{attempt}" if seed is None else f"{seed}:{custom_id}:{attempt}"
    draw = _unit_hash(f"outcome:{key}")
    if draw < error_rate:
        return "errored"
    if draw < error_rate + expire_rate:
        return "expired"
    return "succeeded"


@dataclass(frozen=True)
class _OutcomePlan:
    """The settings that decide results, as they were when a batch was created."""

    error_rate: float = 0.0
    expire_rate: float = 0.0
    error_type: str = "api_error"
    seed: int | None = None
    rules: tuple[FailRule, ...] = ()
    invalid_output_rate: float = 0.0

    @classmethod
    def of(cls, config: EmulatorConfig) -> _OutcomePlan:
        return cls(
            config.error_rate,
            config.expire_rate,
            config.error_type,
            config.seed,
            config.fail_first_attempts,
            config.invalid_output_rate,
        )

    def invalid_output(self, custom_id: str, attempt: int) -> bool:
        return planned_invalid_output(custom_id, attempt, self.invalid_output_rate, self.seed)

    def decide(self, custom_id: str, attempt: int) -> tuple[Outcome, str]:
        """(outcome, error type if errored) for a processed request with valid params."""
        for rule in self.rules:
            if rule.matches(custom_id):
                if attempt > rule.attempts:
                    return "succeeded", ""
                return rule.outcome, rule.error_type or self.error_type
        return planned_outcome(
            custom_id, attempt, self.error_rate, self.expire_rate, self.seed
        ), self.error_type


@dataclass
class _Batch:
    id: str
    seq: int
    created_at: float
    delay: float
    plan: _OutcomePlan
    results_ttl: float
    size: int
    requests: list[tuple[str, Any, int]] | None
    """(custom_id, params, attempt) until the batch ends; then dropped for the results."""
    context: RequestContext = field(default_factory=RequestContext)
    """The API version and betas the create arrived with: the rules its requests obey."""
    catalogue: Catalogue | None = None
    """The models as they were at create."""
    cancel_initiated_at: float | None = None
    cancel_ends_at: float | None = None
    ended_at: float | None = None
    archived_early_at: float | None = None
    """When `archive_batch` archived it, if before its time."""
    counts: dict[str, int] = field(default_factory=dict)
    results: tuple[bytes, ...] = ()
    deleted: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    """Guards this batch's state; may be taken before, never after, the engine's lock."""

    def end_time(self) -> float:
        end = self.created_at + min(self.delay, EXPIRY_SECONDS)
        return end if self.cancel_ends_at is None else min(end, self.cancel_ends_at)

    def processing_at(self, now: float) -> bool:
        """Whether its requests still count as processing at `now` (readable without its lock)."""
        return self.ended_at is None and now < self.end_time()

    def archived_at(self, now: float) -> float | None:
        """When it was archived, if it has been by `now` (only an ended batch is)."""
        if self.ended_at is None:
            return None
        if self.archived_early_at is not None:
            return self.archived_early_at
        due = max(self.created_at + self.results_ttl, self.ended_at)
        return due if now >= due else None


class BatchEngine:
    """All batches of one emulator; every public method is thread-safe.

    The engine's lock guards the index of batches and the counters; each batch has its own
    lock, so finishing a large batch holds up only the calls about that batch.
    """

    def __init__(self, config: EmulatorConfig | None = None, clock: Callable[[], float] = time.time) -> None:
        self._config = dataclasses.replace(config) if config else EmulatorConfig()
        self._catalogue = Catalogue.build(self._config.model_overrides)
        self._clock = clock
        self._lock = threading.Lock()
        self._batches: dict[str, _Batch] = {}
        self._seq_by_id: dict[str, int] = {}
        self._submissions: Counter[str] = Counter()
        self._batches_created = 0
        self._creates_refused = 0
        self._queue_full = False
        self._kept_requests: dict[str, list[dict[str, Any]]] = {}

    def forget_submissions(self) -> None:
        """Count every custom_id's attempts from 1 again (a fail rule's "first attempts"), as for
        a fresh emulator: tests that reset the AWS side between them reset this too, so that an
        earlier test's submission of the same custom_id does not use up a later test's rule."""
        with self._lock:
            self._submissions.clear()

    @property
    def config(self) -> EmulatorConfig:
        """The current configuration (replace it with `update_config`, don't mutate it)."""
        return self._config

    def update_config(self, **changes: Any) -> EmulatorConfig:
        """Change settings; delay, rates, error type, seed, fail rules and results_ttl apply to
        batches created afterwards, queue_limit to the next create."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(EmulatorConfig)}
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            config = dataclasses.replace(self._config, **changes)
            if "model_overrides" in changes:
                self._catalogue = Catalogue.build(config.model_overrides)
            self._config = config
            return self._config

    @property
    def catalogue(self) -> Catalogue:
        """The models now: models.json with the configured overrides."""
        return self._catalogue

    def create(
        self, body: bytes, base_url: str, version: str = CURRENT_VERSION, betas: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Validate a create body and store the batch (400 ApiError on a bad body, 429 while the
        queue is full: then no batch is made and nothing is counted as submitted). Its requests
        obey the rules of API `version` (with `betas`) when the batch is processed."""
        requests = self._parse_create(body)
        with self._lock:
            config = self._config
            catalogue = self._catalogue
            now = self._clock()
            self._check_queue(config, now, len(requests))
            batch_id = new_id("msgbatch_")
            self._batches_created += 1
            seq = self._batches_created
            stored = []
            for custom_id, params in requests:
                self._submissions[custom_id] += 1
                stored.append((custom_id, params, self._submissions[custom_id]))
            batch = _Batch(
                id=batch_id,
                seq=seq,
                created_at=now,
                delay=config.processing_delay,
                plan=_OutcomePlan.of(config),
                results_ttl=config.results_ttl,
                size=len(stored),
                requests=stored,
                context=RequestContext(version=version, betas=tuple(betas)),
                catalogue=catalogue,
            )
            self._batches[batch_id] = batch
            self._seq_by_id[batch_id] = seq
            if config.keep_requests:
                self._kept_requests[batch_id] = [{"custom_id": c, "params": p} for c, p in requests]
            return self._render(batch, base_url, now)

    def retrieve(self, batch_id: str, base_url: str) -> dict[str, Any]:
        """The batch object as it stands now."""
        batch = self._lookup(batch_id)
        with batch.lock:
            now = self._clock()
            return self._render(self._current(batch, now), base_url, now)

    def list_batches(
        self,
        base_url: str,
        limit: int = DEFAULT_LIST_LIMIT,
        after_id: str | None = None,
        before_id: str | None = None,
    ) -> dict[str, Any]:
        """One page of batches, newest first, in the API's page shape."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ApiError(400, f"limit: must be between 1 and {MAX_LIST_LIMIT}, got {limit}")
        if after_id and before_id:
            raise ApiError(400, "after_id and before_id cannot be used together")
        with self._lock:
            newest_first = list(reversed(self._batches.values()))  # the dict keeps creation order
            if after_id:
                cursor = self._cursor(after_id, "after_id")
                candidates = [b for b in newest_first if b.seq < cursor]
                page = candidates[:limit]
            elif before_id:
                cursor = self._cursor(before_id, "before_id")
                candidates = [b for b in newest_first if b.seq > cursor]
                page = candidates[-limit:]
            else:
                candidates = newest_first
                page = candidates[:limit]
        data = []
        for batch in page:
            with batch.lock:
                if not batch.deleted:
                    now = self._clock()
                    data.append(self._render(self._refreshed(batch, now), base_url, now))
        return {
            "data": data,
            "has_more": len(candidates) > len(page),
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }

    def list_models(
        self,
        limit: int = DEFAULT_LIST_LIMIT,
        after_id: str | None = None,
        before_id: str | None = None,
        lifecycles: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """One page of the Models API list, newest first. Without `lifecycles` it holds the
        active and deprecated models; retired ones only when "retired" is asked for."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ApiError(400, f"limit: must be between 1 and {MAX_LIST_LIMIT}, got {limit}")
        if after_id and before_id:
            raise ApiError(400, "after_id and before_id cannot be used together")
        if len(lifecycles) > len(LIFECYCLES) or any(stage not in LIFECYCLES for stage in lifecycles):
            raise ApiError(400, f"lifecycle: up to 3 of {', '.join(LIFECYCLES)}, got {', '.join(lifecycles)}")
        models = self._catalogue.listing(lifecycles or ("active", "deprecated"))
        ids = [entry.id for entry in models]
        if after_id or before_id:
            cursor = after_id or before_id
            if cursor not in ids:
                name = "after_id" if after_id else "before_id"
                raise ApiError(400, f"{name}: {cursor!r} is not a model in this list")
            position = ids.index(str(cursor))
            candidates = models[position + 1 :] if after_id else models[:position]
            page = candidates[:limit] if after_id else candidates[-limit:]
        else:
            candidates = models
            page = candidates[:limit]
        data = [dict(entry.info) for entry in page]
        return {
            "data": data,
            "has_more": len(candidates) > len(page),
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }

    def retrieve_model(self, model_id: str) -> dict[str, Any]:
        """The Models API object of a model (by id or alias), whatever its lifecycle."""
        entry = self._catalogue.get(model_id)
        if entry is None:
            raise ApiError(404, f"model: {model_id}")
        return dict(entry.info)

    def count_tokens(
        self, body: bytes, version: str = CURRENT_VERSION, betas: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """`{"input_tokens": N}` for a message's params (no max_tokens), checked by the rules of
        `version` as a batch request is; what they refuse is the HTTP error (400, or 404 for an
        unknown or retired model)."""
        try:
            params = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"Request body is not valid JSON: {exc}") from exc
        context = RequestContext(version=version, betas=tuple(betas), in_batch=False)
        try:
            model = check_params(params, self._catalogue, context)
            return {"input_tokens": count_input_tokens(params, model)}
        except ParamsError as exc:
            raise ApiError(404 if exc.error_type == "not_found_error" else 400, exc.message) from None

    def cancel(self, batch_id: str, base_url: str) -> dict[str, Any]:
        """Start canceling an unfinished batch; 400 once it has ended."""
        batch = self._lookup(batch_id)
        with batch.lock:
            now = self._clock()
            self._current(batch, now)
            if batch.ended_at is not None:
                raise ApiError(400, f"Message batch {batch_id} has already ended and cannot be canceled")
            if batch.cancel_initiated_at is None:
                batch.cancel_initiated_at = now
                batch.cancel_ends_at = now + min(batch.delay, self._config.cancel_grace)
            return self._render(batch, base_url, now)

    def delete(self, batch_id: str) -> dict[str, Any]:
        """Forget an ended batch; 400 while it is still processing."""
        batch = self._lookup(batch_id)
        with batch.lock:
            self._current(batch, self._clock())
            if batch.ended_at is None:
                raise ApiError(
                    400, f"Message batch {batch_id} cannot be deleted until it has ended; cancel it first"
                )
            batch.deleted = True
            with self._lock:
                del self._batches[batch_id]
        return {"id": batch_id, "type": "message_batch_deleted"}

    def results(self, batch_id: str) -> tuple[bytes, ...]:
        """The JSONL lines of an ended batch, each ending in a bare newline (404 before the end)."""
        batch = self._lookup(batch_id)
        with batch.lock:
            now = self._clock()
            self._current(batch, now)
            if batch.ended_at is None:
                raise ApiError(
                    404, f"Message batch {batch_id} has not ended yet; its results are not available"
                )
            if batch.archived_at(now) is not None:
                raise ApiError(
                    404,
                    f"The results of message batch {batch_id} have been archived and are no longer available",
                )
            return batch.results

    def archive_batch(self, batch_id: str, base_url: str) -> dict[str, Any]:
        """Archive an ended batch now, as the API does 29 days after creation: it keeps
        answering retrieve and list, with `archived_at` set, and its results answer 404.
        400 while it is still processing; archiving twice changes nothing."""
        batch = self._lookup(batch_id)
        with batch.lock:
            now = self._clock()
            self._current(batch, now)
            if batch.ended_at is None:
                raise ApiError(400, f"Message batch {batch_id} has not ended yet and cannot be archived")
            if batch.archived_at(now) is None:
                batch.archived_early_at = max(now, batch.ended_at)
            batch.results = ()
            return self._render(batch, base_url, now)

    def set_queue_full(self, full: bool) -> None:
        """Refuse every create with 429 (True) until released (False), whatever `queue_limit` says."""
        if not isinstance(full, bool):
            raise ValueError(f"full must be true or false, got {full!r}")
        with self._lock:
            self._queue_full = full

    def queue(self) -> dict[str, Any]:
        """The processing queue: the switch, the limit and the requests still processing."""
        with self._lock:
            return {
                "queue_full": self._queue_full,
                "queue_limit": self._config.queue_limit,
                "requests_processing": self._requests_processing(self._clock()),
            }

    def batch_requests(self, batch_id: str) -> list[dict[str, Any]]:
        """The requests a batch was created with, as sent (needs `keep_requests`)."""
        with self._lock:
            if batch_id not in self._kept_requests:
                raise KeyError(f"no kept requests for {batch_id} (is keep_requests on?)")
            return list(self._kept_requests[batch_id])

    def stats(self) -> dict[str, Any]:
        """Counts for tests and demos: batches created and held, creates refused for a full queue,
        submissions per custom_id (a refused create submits nothing; a create whose answer was
        lost or replaced by an after-effect fault did submit)."""
        with self._lock:
            return {
                "batches_created": self._batches_created,
                "batches_stored": len(self._batches),
                "creates_refused": self._creates_refused,
                "queue_full": self._queue_full,
                "requests_submitted": sum(self._submissions.values()),
                "requests_by_custom_id": dict(self._submissions),
                "succeeded_by_custom_id": self._succeeded_by_custom_id(),
            }

    def _succeeded_by_custom_id(self) -> dict[str, int]:
        """How many times each custom_id succeeded, over the batches that ended (and are not
        deleted): what the API bills. A request errored or expired is not billed; one that
        succeeded in two batches was billed twice. Hold the engine's lock."""
        now = self._clock()
        billed: Counter[str] = Counter()
        for batch in self._batches.values():
            self._refreshed(batch, now)
            for line in batch.results or ():
                result = json.loads(line)
                if result["result"]["type"] == "succeeded":
                    billed[result["custom_id"]] += 1
        return dict(billed)

    def _check_queue(self, config: EmulatorConfig, now: float, size: int) -> None:
        """Raise the queue-full 429 (and count it) if a create of `size` requests must be refused;
        hold the engine's lock."""
        if self._queue_full:
            detail = ""
        elif config.queue_limit is not None:
            processing = self._requests_processing(now)
            if processing + size <= config.queue_limit:
                return
            detail = f" ({config.queue_limit:,}; {processing:,} are processing and this batch has {size:,})"
        else:
            return
        self._creates_refused += 1
        wait = config.queue_retry_after
        headers = {"retry-after": str(math.ceil(wait)), "retry-after-ms": str(round(wait * 1000))}
        raise ApiError(429, QUEUE_FULL_MESSAGE.format(detail=detail), headers=headers)

    def _requests_processing(self, now: float) -> int:
        """Requests of batches not ended by `now`; hold the engine's lock."""
        return sum(batch.size for batch in self._batches.values() if batch.processing_at(now))

    def _parse_create(self, body: bytes) -> list[tuple[str, Any]]:
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"Request body is not valid JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise ApiError(400, "Request body must be a JSON object")
        if "requests" not in payload:
            raise ApiError(400, "requests: Field required")
        items = payload["requests"]
        if not isinstance(items, list):
            raise ApiError(400, "requests: Input should be a valid list")
        if not items:
            raise ApiError(400, "requests: List should have at least 1 item")
        limit = self._config.max_requests
        if len(items) > limit:
            raise ApiError(400, f"requests: List should have at most {limit} items, got {len(items)}")
        seen: set[str] = set()
        parsed = []
        for index, item in enumerate(items):
            path = f"requests.{index}"
            if not isinstance(item, dict):
                raise ApiError(400, f"{path}: Input should be an object")
            custom_id = item.get("custom_id")
            if custom_id is None:
                raise ApiError(400, f"{path}.custom_id: Field required")
            if not isinstance(custom_id, str) or not CUSTOM_ID_PATTERN.fullmatch(custom_id):
                raise ApiError(
                    400, f"{path}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
                )
            if custom_id in seen:
                raise ApiError(400, f"{path}.custom_id: '{custom_id}' is used more than once in this batch")
            seen.add(custom_id)
            if "params" not in item:
                raise ApiError(400, f"{path}.params: Field required")
            if not isinstance(item["params"], dict):
                raise ApiError(400, f"{path}.params: Input should be an object")
            parsed.append((custom_id, item["params"]))
        return parsed

    def _cursor(self, batch_id: str, name: str) -> int:
        seq = self._seq_by_id.get(batch_id)
        if seq is None:
            raise ApiError(400, f"{name}: unknown message batch id {batch_id!r}")
        return seq

    def _lookup(self, batch_id: str) -> _Batch:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"Message batch {batch_id!r} not found")
        return batch

    def _current(self, batch: _Batch, now: float) -> _Batch:
        """The batch brought up to `now`, or 404 if it was deleted meanwhile; hold its lock."""
        if batch.deleted:
            raise ApiError(404, f"Message batch {batch.id!r} not found")
        return self._refreshed(batch, now)

    @classmethod
    def _refreshed(cls, batch: _Batch, now: float) -> _Batch:
        if batch.ended_at is None and now >= batch.end_time():
            cls._finish(batch)
        return batch

    @classmethod
    def _finish(cls, batch: _Batch) -> None:
        """Decide every request's result and keep them as JSONL lines; the params are dropped."""
        ended_at = batch.end_time()
        counts = dict.fromkeys(COUNTERS, 0)
        keyed_lines = []
        cache: set[str] = set()  # the batch's prompt cache
        for custom_id, params, attempt in batch.requests or ():
            result = cls._result(batch, ended_at, custom_id, params, attempt, cache)
            counts[result["type"]] += 1
            line = json.dumps({"custom_id": custom_id, "result": result}, separators=(",", ":"))
            keyed_lines.append((hashlib.sha256(custom_id.encode()).digest(), line.encode() + b"\n"))
        keyed_lines.sort()
        batch.results = tuple(line for _, line in keyed_lines)
        batch.counts = counts
        batch.ended_at = ended_at
        batch.requests = None

    @staticmethod
    def _result(
        batch: _Batch, ended_at: float, custom_id: str, params: Any, attempt: int, cache: set[str]
    ) -> dict[str, Any]:
        done_at = batch.created_at + completion_fraction(custom_id) * batch.delay
        cutoff = ended_at if batch.cancel_initiated_at is None else min(ended_at, batch.cancel_initiated_at)
        if done_at > cutoff:
            return {"type": "canceled" if batch.cancel_initiated_at is not None else "expired"}
        try:
            model = check_params(params, batch.catalogue or Catalogue.build(), batch.context)
            invalid = batch.plan.invalid_output(custom_id, attempt)
            message = answer(params, new_id("msg_"), model, cache, invalid_output=invalid)
        except ParamsError as exc:
            return _errored(exc.error_type, exc.message)
        outcome, error_type = batch.plan.decide(custom_id, attempt)
        if outcome == "errored":
            return _errored(error_type, _ERRORED_MESSAGES.get(error_type, f"{error_type} (emulated)"))
        if outcome == "expired":
            return {"type": "expired"}
        return {"type": "succeeded", "message": message}

    @staticmethod
    def _render(batch: _Batch, base_url: str, now: float) -> dict[str, Any]:
        ended = batch.ended_at is not None
        if ended:
            status = "ended"
            counts = dict(batch.counts)
        else:
            status = "in_progress" if batch.cancel_initiated_at is None else "canceling"
            counts = {name: batch.size if name == "processing" else 0 for name in COUNTERS}
        archived_at = batch.archived_at(now)
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": counts,
            "created_at": rfc3339(batch.created_at),
            "expires_at": rfc3339(batch.created_at + EXPIRY_SECONDS),
            "ended_at": rfc3339(batch.ended_at) if batch.ended_at is not None else None,
            "cancel_initiated_at": (
                rfc3339(batch.cancel_initiated_at) if batch.cancel_initiated_at is not None else None
            ),
            "archived_at": rfc3339(archived_at) if archived_at is not None else None,
            # Still given once archived: the reference says it is set once processing ends and
            # nothing about clearing it; the URL then answers 404 (the SDK raises NotFoundError).
            "results_url": f"{base_url}/v1/messages/batches/{batch.id}/results" if ended else None,
        }


def _errored(error_type: str, message: str) -> dict[str, Any]:
    return {
        "type": "errored",
        "error": {"type": "error", "error": {"type": error_type, "message": message}, "request_id": None},
    }
