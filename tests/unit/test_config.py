"""config: Settings.from_env, with every failure naming its variable."""

from __future__ import annotations

import pytest

from batchdrop.config import ConfigurationError, DefaultProfileSettings, Settings

FULL_ENV = {
    "BUCKET_NAME": "batchdrop-documents",
    "JOBS_TABLE_NAME": "batchdrop-jobs",
    "EVENT_BUS_NAME": "batchdrop-bus",
    "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:batchdrop-notifications",
    "ANTHROPIC_SECRET_NAME": "batchdrop/anthropic",
    "ANTHROPIC_BASE_URL": "http://127.0.0.1:8765",
    "DEFAULT_MODEL": "claude-sonnet-4-5",
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
            model="claude-sonnet-4-5",
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
