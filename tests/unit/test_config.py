"""config: one settings model per function (SubmitSettings, PollSettings, CompleteSettings), each
variable declared once, every failure naming its variable."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from batchdrop.settings import (
    AnthropicAccess,
    CompleteSettings,
    ConfigurationError,
    CreationSettings,
    DefaultProfileSettings,
    PollSettings,
    StackResources,
    SubmitSettings,
)
from batchdrop.settings import bedrock as bedrock_settings
from batchdrop.settings import variables as v
from batchdrop.settings.bedrock import BedrockSettings
from batchdrop.settings.models import FromEnv

MODELS: list[type[FromEnv]] = [SubmitSettings, PollSettings, CompleteSettings]

FULL_ENV = {
    "BUCKET_NAME": "batchdrop-documents",
    "JOBS_TABLE_NAME": "batchdrop-jobs",
    "EVENT_BUS_NAME": "batchdrop-bus",
    "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:batchdrop-notifications",
    "ANTHROPIC_SECRET_NAME": "batchdrop/anthropic",
    "ANTHROPIC_BASE_URL": "http://127.0.0.1:8765",
    "DEFAULT_MODEL": "claude-sonnet-4-6",
    "DEFAULT_MAX_TOKENS": "2048",
    "DEFAULT_INSTRUCTION": "Summarise this document.",
    "DEFAULT_SYSTEM_PROMPT": "  You are concise.  ",
    "RESULT_WRITE_CONCURRENCY": "32",
}

# What each function must be given, and what it may be given (the rest have defaults).
REQUIRED = {
    SubmitSettings: [
        "BUCKET_NAME",
        "JOBS_TABLE_NAME",
        "TOPIC_ARN",
        "ANTHROPIC_SECRET_NAME",
        "DEFAULT_MODEL",
        "DEFAULT_INSTRUCTION",
    ],
    PollSettings: ["BUCKET_NAME", "JOBS_TABLE_NAME", "EVENT_BUS_NAME", "ANTHROPIC_SECRET_NAME"],
    CompleteSettings: [
        "BUCKET_NAME",
        "JOBS_TABLE_NAME",
        "EVENT_BUS_NAME",
        "TOPIC_ARN",
        "ANTHROPIC_SECRET_NAME",
    ],
}
SHARED = [
    "BUCKET_NAME",
    "JOBS_TABLE_NAME",
    "ANTHROPIC_SECRET_NAME",
    "ANTHROPIC_BASE_URL",
    "API_KEY_MAX_AGE_SECONDS",
    "SUBMIT_GRACE_SECONDS",
    "QUEUE_WAIT_MAX_HOURS",
    "QUEUE_WAIT_MAX_SECONDS",
    "QUEUE_RETRY_FIRST_SECONDS",
    "CREATE_SPAN_SECONDS",
    "BEDROCK_SERVICE_ROLE_ARN",
    "BEDROCK_JOB_TIMEOUT_HOURS",
    "DEFAULT_BACKEND",
    "DEFAULT_BEDROCK_MODEL",
    "BEDROCK_MIN_RECORDS",
    "BEDROCK_MAX_RECORDS",
    "BEDROCK_MIN_WAIT_MINUTES",
]
READS = {
    SubmitSettings: {
        *SHARED,
        "TOPIC_ARN",
        "DEFAULT_MODEL",
        "DEFAULT_MAX_TOKENS",
        "DEFAULT_INSTRUCTION",
        "DEFAULT_SYSTEM_PROMPT",
        "DOCUMENT_READ_CONCURRENCY",
        "BATCH_MAX_REQUESTS",
        "BATCH_MAX_BYTES",
        "PDF_MAX_PAGES",
        "MAX_JOB_COST_USD",
    },
    PollSettings: {
        *SHARED,
        "EVENT_BUS_NAME",
        "UNCOLLECTED_AFTER_HOURS",
        "REDRIVE_AFTER_SECONDS",
        "ENDING_LEASE_SECONDS",
    },
    CompleteSettings: {
        *SHARED,
        "TOPIC_ARN",
        "EVENT_BUS_NAME",
        "RESULT_WRITE_CONCURRENCY",
        "COMPLETING_LEASE_SECONDS",
        "MAX_ATTEMPTS",
    },
}
REQUIRED_CASES = [(model, name) for model in MODELS for name in REQUIRED[model]]
CASE_IDS = [f"{model.__name__}-{name}" for model, name in REQUIRED_CASES]


def _env(**changes: str | None) -> dict[str, str]:
    env = dict(FULL_ENV)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


class RecordingEnv(Mapping[str, str]):
    """An environment that remembers every variable looked up in it."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.known = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self.known[name]

    def get(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return self.known.get(name, default)

    def __iter__(self) -> Any:
        raise AssertionError("a settings model must look its variables up by name, not list them all")

    def __len__(self) -> int:
        return len(self.known)


# ---------------------------------------------------------------- one model per function


def test_all_variables_set() -> None:
    stack = StackResources(bucket_name="batchdrop-documents", jobs_table_name="batchdrop-jobs")
    anthropic = AnthropicAccess(
        secret_name="batchdrop/anthropic", base_url="http://127.0.0.1:8765", key_max_age_seconds=300
    )
    topic = "arn:aws:sns:us-east-1:123456789012:batchdrop-notifications"
    assert SubmitSettings.from_env(FULL_ENV) == SubmitSettings(
        stack=stack,
        anthropic=anthropic,
        creation=CreationSettings(),
        bedrock=BedrockSettings(),
        default_profile=DefaultProfileSettings(
            model="claude-sonnet-4-6",
            max_tokens=2048,
            instruction="Summarise this document.",
            system_prompt="You are concise.",
        ),
        topic_arn=topic,
    )
    assert PollSettings.from_env(FULL_ENV) == PollSettings(
        stack=stack,
        anthropic=anthropic,
        creation=CreationSettings(),
        bedrock=BedrockSettings(),
        event_bus_name="batchdrop-bus",
    )
    assert CompleteSettings.from_env(FULL_ENV) == CompleteSettings(
        stack=stack,
        anthropic=anthropic,
        creation=CreationSettings(),
        bedrock=BedrockSettings(),
        topic_arn=topic,
        event_bus_name="batchdrop-bus",
        result_write_concurrency=32,
    )


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_each_model_reads_exactly_its_variables(model: type[FromEnv]) -> None:
    # Given an environment that records look-ups, When the model starts, Then it has looked up
    # exactly the variables it declares: those of its groups and its own, no others.
    env = RecordingEnv(FULL_ENV)
    model.from_env(env)
    assert env.read == READS[model]
    assert {variable.name for variable in model.variables()} == READS[model]
    assert {variable.name for variable in model.variables() if variable.required} == set(REQUIRED[model])


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_each_model_starts_with_only_its_required_variables(model: type[FromEnv]) -> None:
    model.from_env({name: FULL_ENV[name] for name in REQUIRED[model]})


def test_poll_starts_without_the_variables_only_submit_or_complete_use() -> None:
    only_poll = {name: FULL_ENV[name] for name in REQUIRED[PollSettings]}
    settings = PollSettings.from_env(only_poll)
    assert settings.stack.bucket_name == "batchdrop-documents"
    assert settings.event_bus_name == "batchdrop-bus"
    for unused in ("TOPIC_ARN", "DEFAULT_MODEL", "DEFAULT_INSTRUCTION"):
        assert unused not in READS[PollSettings]
    with pytest.raises(ConfigurationError, match=r"^environment variable TOPIC_ARN must be set"):
        CompleteSettings.from_env(only_poll)
    with pytest.raises(ConfigurationError, match=r"^environment variable DEFAULT_MODEL must be set"):
        SubmitSettings.from_env(only_poll)


def test_submit_does_not_need_the_event_bus() -> None:
    SubmitSettings.from_env(_env(EVENT_BUS_NAME=None))


def test_every_variable_is_declared_once_under_its_own_name() -> None:
    declared = {
        name: value
        for module in (v, bedrock_settings)
        for name, value in vars(module).items()
        if isinstance(value, v.Variable)
    }
    assert all(variable.name == name for name, variable in declared.items())
    assert set(declared) == set().union(*READS.values())
    for model in MODELS:
        names = [variable.name for variable in model.variables()]
        assert len(names) == len(set(names)), f"{model.__name__} reads a variable twice"


def test_field_defaults_are_the_declared_defaults() -> None:
    # A field's default is its variable's (not a second copy), and lies within its bounds.
    assert CreationSettings() == CreationSettings.from_env({})
    assert CreationSettings().submit_grace_seconds == v.SUBMIT_GRACE_SECONDS.default == 1200
    for name, variable in vars(v).items():
        if isinstance(variable, v.Integer):
            assert variable.minimum <= variable.default <= variable.maximum, name


def test_durations_are_timedeltas() -> None:
    env = _env(
        SUBMIT_GRACE_SECONDS="12",
        QUEUE_RETRY_FIRST_SECONDS="2",
        CREATE_SPAN_SECONDS="3",
        UNCOLLECTED_AFTER_HOURS="5",
        REDRIVE_AFTER_SECONDS="7",
        ENDING_LEASE_SECONDS="8",
        COMPLETING_LEASE_SECONDS="9",
    )
    poll = PollSettings.from_env(env)
    assert poll.creation.submit_grace == timedelta(seconds=12)
    assert poll.creation.queue_retry_first == timedelta(seconds=2)
    assert poll.creation.create_span == timedelta(seconds=3)
    assert poll.creation.queue_wait_max == timedelta(hours=24)
    assert poll.uncollected_after == timedelta(hours=5)
    assert poll.redrive_after == timedelta(seconds=7)
    assert poll.ending_lease == timedelta(seconds=8)
    assert CompleteSettings.from_env(env).completing_lease == timedelta(seconds=9)


def test_queue_wait_in_seconds_overrides_hours() -> None:
    creation = CreationSettings.from_env({"QUEUE_WAIT_MAX_SECONDS": "20", "QUEUE_WAIT_MAX_HOURS": "2"})
    assert creation.queue_wait_max == timedelta(seconds=20)
    assert CreationSettings.from_env({"QUEUE_WAIT_MAX_HOURS": "2"}).queue_wait_max == timedelta(hours=2)


def test_optional_variables_have_defaults() -> None:
    env = _env(
        ANTHROPIC_BASE_URL=None,
        DEFAULT_MAX_TOKENS=None,
        DEFAULT_SYSTEM_PROMPT=None,
        RESULT_WRITE_CONCURRENCY=None,
    )
    submit = SubmitSettings.from_env(env)
    assert submit.anthropic.base_url is None
    assert submit.default_profile.max_tokens == 1024
    assert submit.default_profile.system_prompt == ""
    assert submit.document_read_concurrency == 16
    assert (submit.batch_max_requests, submit.batch_max_bytes, submit.pdf_max_pages) == (
        100_000,
        256 * 1024 * 1024,
        100,
    )
    assert submit.max_job_cost_usd is None
    assert CompleteSettings.from_env(env).result_write_concurrency == 16
    assert CompleteSettings.from_env(env).max_attempts == 3


@pytest.mark.parametrize(("model", "name"), REQUIRED_CASES, ids=CASE_IDS)
def test_missing_required_variable_is_named(model: type[FromEnv], name: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        model.from_env(_env(**{name: None}))
    assert str(info.value) == f"environment variable {name} must be set (see template.yaml Globals)"


@pytest.mark.parametrize(("model", "name"), REQUIRED_CASES, ids=CASE_IDS)
@pytest.mark.parametrize("value", ["", "   "])
def test_blank_required_variable_is_missing(model: type[FromEnv], name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^environment variable {name} must be set"):
        model.from_env(_env(**{name: value}))


def test_required_values_are_stripped() -> None:
    settings = SubmitSettings.from_env(_env(BUCKET_NAME="  b  ", DEFAULT_MODEL="\tclaude-haiku-4-5\n"))
    assert settings.stack.bucket_name == "b"
    assert settings.default_profile.model == "claude-haiku-4-5"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("lots", "environment variable DEFAULT_MAX_TOKENS must be an integer, got 'lots'"),
        ("1.5", "environment variable DEFAULT_MAX_TOKENS must be an integer, got '1.5'"),
        ("0", "environment variable DEFAULT_MAX_TOKENS must be in 1..128000, got 0"),
        ("-5", "environment variable DEFAULT_MAX_TOKENS must be in 1..128000, got -5"),
        ("200000", "environment variable DEFAULT_MAX_TOKENS must be in 1..128000, got 200000"),
        ("128001", "environment variable DEFAULT_MAX_TOKENS must be in 1..128000, got 128001"),
    ],
)
def test_bad_default_max_tokens_is_named(value: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        SubmitSettings.from_env(_env(DEFAULT_MAX_TOKENS=value))
    assert str(info.value) == message


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("128000", 128000), (" 4096 ", 4096), ("", 1024)])
def test_default_max_tokens_bounds(value: str, expected: int) -> None:
    assert SubmitSettings.from_env(_env(DEFAULT_MAX_TOKENS=value)).default_profile.max_tokens == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("many", "must be an integer, got 'many'"),
        ("0", "must be in 1..128, got 0"),
        ("129", "must be in 1..128, got 129"),
    ],
)
@pytest.mark.parametrize(
    ("name", "model"),
    [("RESULT_WRITE_CONCURRENCY", CompleteSettings), ("DOCUMENT_READ_CONCURRENCY", SubmitSettings)],
)
def test_bad_concurrency_is_named(name: str, model: type[FromEnv], value: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        model.from_env(_env(**{name: value}))
    assert str(info.value) == f"environment variable {name} {problem}"


def test_document_read_concurrency_is_read() -> None:
    assert SubmitSettings.from_env(_env(DOCUMENT_READ_CONCURRENCY="48")).document_read_concurrency == 48
    assert SubmitSettings.from_env(_env()).document_read_concurrency == 16


@pytest.mark.parametrize(("value", "expected"), [("", None), ("0", None), ("12.5", 12.5), (" 3 ", 3.0)])
def test_max_job_cost(value: str, expected: float | None) -> None:
    assert SubmitSettings.from_env(_env(MAX_JOB_COST_USD=value)).max_job_cost_usd == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [("ten", "must be a number of USD, got 'ten'"), ("-1", "must not be negative, got -1.0")],
)
def test_bad_max_job_cost_is_named(value: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        SubmitSettings.from_env(_env(MAX_JOB_COST_USD=value))
    assert str(info.value) == f"environment variable MAX_JOB_COST_USD {problem}"


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_base_url_means_public_api(value: str) -> None:
    assert AnthropicAccess.from_env(_env(ANTHROPIC_BASE_URL=value)).base_url is None


def test_base_url_is_stripped() -> None:
    settings = AnthropicAccess.from_env(_env(ANTHROPIC_BASE_URL=" https://api.anthropic.com "))
    assert settings.base_url == "https://api.anthropic.com"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_reads_os_environ_when_no_env_given(model: type[FromEnv], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FULL_ENV.items():
        monkeypatch.setenv(name, value)
    assert model.from_env() == model.from_env(FULL_ENV)


def test_configuration_error_is_a_runtime_error() -> None:
    assert issubclass(ConfigurationError, RuntimeError)


# ---------------------------------------------------------------- ANTHROPIC_BASE_URL: TLS only


@pytest.mark.parametrize(
    "url",
    [
        "https://api.anthropic.com",
        "https://gateway.example.com:8443/anthropic",
        "HTTPS://GATEWAY.EXAMPLE.COM",
        # The local stack's emulator listens on loopback over plain http.
        "http://127.0.0.1:8765",
        "http://127.8.9.10:8765",
        "http://localhost:8765",
        "http://LOCALHOST",
        "http://[::1]:8765",
    ],
)
def test_base_url_accepts_https_and_loopback_http(url: str) -> None:
    assert AnthropicAccess.from_env(_env(ANTHROPIC_BASE_URL=url)).base_url == url


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://api.anthropic.com", "api.anthropic.com"),
        ("http://gateway.example.com:8080/v1", "gateway.example.com"),
        ("http://10.0.0.5:8765", "10.0.0.5"),
        ("http://0.0.0.0:8765", "0.0.0.0"),  # noqa: S104 - every interface, which is not loopback
        ("http://localhost.example.com", "localhost.example.com"),
        ("http://[::ffff:10.0.0.5]:8765", "::ffff:10.0.0.5"),
    ],
)
def test_base_url_refuses_plain_http_to_a_network_host(model: type[FromEnv], url: str, host: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        model.from_env(_env(ANTHROPIC_BASE_URL=url))
    assert str(info.value) == (
        "environment variable ANTHROPIC_BASE_URL must be an https:// URL (http:// is accepted only to a "
        f"loopback host: localhost, 127.0.0.0/8 or ::1), got http:// to {host!r}"
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("api.anthropic.com", "got scheme '' and host ''"),
        ("ftp://api.anthropic.com", "got scheme 'ftp' and host 'api.anthropic.com'"),
        ("ws://127.0.0.1:8765", "got scheme 'ws' and host '127.0.0.1'"),
        ("https://", "got scheme 'https' and host ''"),
        ("https:///v1", "got scheme 'https' and host ''"),
    ],
)
def test_base_url_without_scheme_or_host_is_refused(url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        AnthropicAccess.from_env(_env(ANTHROPIC_BASE_URL=url))
    assert str(info.value) == f"environment variable ANTHROPIC_BASE_URL must be an https:// URL, {problem}"


@pytest.mark.parametrize("url", ["https://api.anthropic.com:port", "https://[::1"])
def test_malformed_base_url_is_named(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^environment variable ANTHROPIC_BASE_URL is not a URL: "):
        AnthropicAccess.from_env(_env(ANTHROPIC_BASE_URL=url))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_refused_base_url_does_not_echo_its_path_or_credentials(model: type[FromEnv]) -> None:
    # A gateway URL may carry a token in its path or user info; the error names only the host.
    with pytest.raises(ConfigurationError) as info:
        model.from_env(_env(ANTHROPIC_BASE_URL="http://user:s3cret@gateway.example.com/t/abc123"))
    assert "s3cret" not in str(info.value)
    assert "abc123" not in str(info.value)
    assert "'gateway.example.com'" in str(info.value)


# ---------------------------------------------------------------- batch queue wait and key cache


def test_queue_wait_and_key_age_have_defaults() -> None:
    settings = PollSettings.from_env(_env())
    assert settings.creation.queue_wait_max_hours == 24
    assert settings.anthropic.key_max_age_seconds == 300


@pytest.mark.parametrize(
    ("name", "attribute", "value", "expected"),
    [
        ("QUEUE_WAIT_MAX_HOURS", ("creation", "queue_wait_max_hours"), "1", 1),
        ("QUEUE_WAIT_MAX_HOURS", ("creation", "queue_wait_max_hours"), " 72 ", 72),
        ("QUEUE_WAIT_MAX_HOURS", ("creation", "queue_wait_max_hours"), "168", 168),
        ("QUEUE_WAIT_MAX_HOURS", ("creation", "queue_wait_max_hours"), "", 24),
        ("API_KEY_MAX_AGE_SECONDS", ("anthropic", "key_max_age_seconds"), "0", 0),
        ("API_KEY_MAX_AGE_SECONDS", ("anthropic", "key_max_age_seconds"), "60", 60),
        ("API_KEY_MAX_AGE_SECONDS", ("anthropic", "key_max_age_seconds"), "86400", 86_400),
        ("API_KEY_MAX_AGE_SECONDS", ("anthropic", "key_max_age_seconds"), "  ", 300),
    ],
)
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_queue_wait_and_key_age_bounds(
    model: type[FromEnv], name: str, attribute: tuple[str, str], value: str, expected: int
) -> None:
    group, field = attribute
    assert getattr(getattr(model.from_env(_env(**{name: value})), group), field) == expected


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("QUEUE_WAIT_MAX_HOURS", "0", "must be in 1..168, got 0"),
        ("QUEUE_WAIT_MAX_HOURS", "169", "must be in 1..168, got 169"),
        ("QUEUE_WAIT_MAX_HOURS", "1.5", "must be an integer, got '1.5'"),
        ("QUEUE_WAIT_MAX_HOURS", "a day", "must be an integer, got 'a day'"),
        ("API_KEY_MAX_AGE_SECONDS", "-1", "must be in 0..86400, got -1"),
        ("API_KEY_MAX_AGE_SECONDS", "86401", "must be in 0..86400, got 86401"),
        ("API_KEY_MAX_AGE_SECONDS", "5m", "must be an integer, got '5m'"),
    ],
)
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_bad_queue_wait_or_key_age_is_named(
    model: type[FromEnv], name: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        model.from_env(_env(**{name: value}))
    assert str(info.value) == f"environment variable {name} {problem}"
