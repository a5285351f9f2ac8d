"""config: Settings.from_env, with every failure naming its variable."""

from __future__ import annotations

import pytest

from batchdrop.settings import ConfigurationError, DefaultProfileSettings, Settings

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

REQUIRED = [
    "BUCKET_NAME",
    "JOBS_TABLE_NAME",
    "EVENT_BUS_NAME",
    "TOPIC_ARN",
    "ANTHROPIC_SECRET_NAME",
    "DEFAULT_MODEL",
    "DEFAULT_INSTRUCTION",
]
OPTIONAL = ["ANTHROPIC_BASE_URL", "DEFAULT_MAX_TOKENS", "DEFAULT_SYSTEM_PROMPT", "RESULT_WRITE_CONCURRENCY"]


def _env(**changes: str | None) -> dict[str, str]:
    env = dict(FULL_ENV)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def test_all_variables_set() -> None:
    assert Settings.from_env(FULL_ENV) == Settings(
        bucket_name="batchdrop-documents",
        jobs_table_name="batchdrop-jobs",
        event_bus_name="batchdrop-bus",
        topic_arn="arn:aws:sns:us-east-1:123456789012:batchdrop-notifications",
        anthropic_secret_name="batchdrop/anthropic",
        anthropic_base_url="http://127.0.0.1:8765",
        default_profile=DefaultProfileSettings(
            model="claude-sonnet-4-6",
            max_tokens=2048,
            instruction="Summarise this document.",
            system_prompt="You are concise.",
        ),
        result_write_concurrency=32,
    )


def test_optional_variables_have_defaults() -> None:
    settings = Settings.from_env(_env(**dict.fromkeys(OPTIONAL)))
    assert settings.anthropic_base_url is None
    assert settings.default_profile.max_tokens == 1024
    assert settings.default_profile.system_prompt == ""
    assert settings.result_write_concurrency == 16


@pytest.mark.parametrize("name", REQUIRED)
def test_missing_required_variable_is_named(name: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(_env(**{name: None}))
    assert str(info.value) == f"environment variable {name} must be set (see template.yaml Globals)"


@pytest.mark.parametrize("name", REQUIRED)
@pytest.mark.parametrize("value", ["", "   "])
def test_blank_required_variable_is_missing(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^environment variable {name} must be set"):
        Settings.from_env(_env(**{name: value}))


def test_required_values_are_stripped() -> None:
    settings = Settings.from_env(_env(BUCKET_NAME="  b  ", DEFAULT_MODEL="\tclaude-haiku-4-5\n"))
    assert settings.bucket_name == "b"
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
        Settings.from_env(_env(DEFAULT_MAX_TOKENS=value))
    assert str(info.value) == message


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("128000", 128000), (" 4096 ", 4096), ("", 1024)])
def test_default_max_tokens_bounds(value: str, expected: int) -> None:
    assert Settings.from_env(_env(DEFAULT_MAX_TOKENS=value)).default_profile.max_tokens == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("many", "must be an integer, got 'many'"),
        ("0", "must be in 1..128, got 0"),
        ("129", "must be in 1..128, got 129"),
    ],
)
@pytest.mark.parametrize("name", ["RESULT_WRITE_CONCURRENCY", "DOCUMENT_READ_CONCURRENCY"])
def test_bad_concurrency_is_named(name: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(_env(**{name: value}))
    assert str(info.value) == f"environment variable {name} {problem}"


def test_document_read_concurrency_is_read() -> None:
    assert Settings.from_env(_env(DOCUMENT_READ_CONCURRENCY="48")).document_read_concurrency == 48
    assert Settings.from_env(_env()).document_read_concurrency == 16


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_base_url_means_public_api(value: str) -> None:
    assert Settings.from_env(_env(ANTHROPIC_BASE_URL=value)).anthropic_base_url is None


def test_base_url_is_stripped() -> None:
    settings = Settings.from_env(_env(ANTHROPIC_BASE_URL=" https://api.anthropic.com "))
    assert settings.anthropic_base_url == "https://api.anthropic.com"


def test_reads_os_environ_when_no_env_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FULL_ENV.items():
        monkeypatch.setenv(name, value)
    assert Settings.from_env() == Settings.from_env(FULL_ENV)


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
    assert Settings.from_env(_env(ANTHROPIC_BASE_URL=url)).anthropic_base_url == url


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
def test_base_url_refuses_plain_http_to_a_network_host(url: str, host: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(_env(ANTHROPIC_BASE_URL=url))
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
        Settings.from_env(_env(ANTHROPIC_BASE_URL=url))
    assert str(info.value) == f"environment variable ANTHROPIC_BASE_URL must be an https:// URL, {problem}"


@pytest.mark.parametrize("url", ["https://api.anthropic.com:port", "https://[::1"])
def test_malformed_base_url_is_named(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^environment variable ANTHROPIC_BASE_URL is not a URL: "):
        Settings.from_env(_env(ANTHROPIC_BASE_URL=url))


def test_refused_base_url_does_not_echo_its_path_or_credentials() -> None:
    # A gateway URL may carry a token in its path or user info; the error names only the host.
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(_env(ANTHROPIC_BASE_URL="http://user:s3cret@gateway.example.com/t/abc123"))
    assert "s3cret" not in str(info.value)
    assert "abc123" not in str(info.value)
    assert "'gateway.example.com'" in str(info.value)


# ---------------------------------------------------------------- batch queue wait and key cache


def test_queue_wait_and_key_age_have_defaults() -> None:
    settings = Settings.from_env(_env())
    assert settings.queue_wait_max_hours == 24
    assert settings.api_key_max_age_seconds == 300


@pytest.mark.parametrize(
    ("name", "attribute", "value", "expected"),
    [
        ("QUEUE_WAIT_MAX_HOURS", "queue_wait_max_hours", "1", 1),
        ("QUEUE_WAIT_MAX_HOURS", "queue_wait_max_hours", " 72 ", 72),
        ("QUEUE_WAIT_MAX_HOURS", "queue_wait_max_hours", "168", 168),
        ("QUEUE_WAIT_MAX_HOURS", "queue_wait_max_hours", "", 24),
        ("API_KEY_MAX_AGE_SECONDS", "api_key_max_age_seconds", "0", 0),
        ("API_KEY_MAX_AGE_SECONDS", "api_key_max_age_seconds", "60", 60),
        ("API_KEY_MAX_AGE_SECONDS", "api_key_max_age_seconds", "86400", 86_400),
        ("API_KEY_MAX_AGE_SECONDS", "api_key_max_age_seconds", "  ", 300),
    ],
)
def test_queue_wait_and_key_age_bounds(name: str, attribute: str, value: str, expected: int) -> None:
    assert getattr(Settings.from_env(_env(**{name: value})), attribute) == expected


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
def test_bad_queue_wait_or_key_age_is_named(name: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(_env(**{name: value}))
    assert str(info.value) == f"environment variable {name} {problem}"
