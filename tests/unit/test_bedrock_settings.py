"""The Bedrock settings (settings.bedrock) and the backends the wiring makes from them: Bedrock is
reached only with the stack's service role, made on first use, and refused with the reason."""

from __future__ import annotations

import pytest

from batchdrop.ports.batches import BackendUnavailable
from batchdrop.settings import CompleteSettings, ConfigurationError, PollSettings, SubmitSettings
from batchdrop.settings.bedrock import BedrockSettings
from batchdrop.settings.models import FromEnv
from batchdrop.wiring import common
from tests.fakes import FakeBatches, FakeClock

ROLE = "arn:aws:iam::123456789012:role/batchdrop-bedrock"


def test_defaults_mean_the_claude_api_and_no_bedrock_role() -> None:
    settings = BedrockSettings.from_env({})
    assert settings == BedrockSettings(role_arn="", job_timeout_hours=24, default_backend="anthropic")
    assert not settings.configured


def test_values_are_read() -> None:
    env = {
        "BEDROCK_SERVICE_ROLE_ARN": f" {ROLE} ",
        "BEDROCK_JOB_TIMEOUT_HOURS": "168",
        "DEFAULT_BACKEND": "bedrock",
    }
    settings = BedrockSettings.from_env(env)
    assert (settings.role_arn, settings.job_timeout_hours, settings.default_backend) == (ROLE, 168, "bedrock")
    assert settings.configured


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"BEDROCK_JOB_TIMEOUT_HOURS": "23"}, "BEDROCK_JOB_TIMEOUT_HOURS must be in 24..168, got 23"),
        ({"BEDROCK_JOB_TIMEOUT_HOURS": "169"}, "BEDROCK_JOB_TIMEOUT_HOURS must be in 24..168, got 169"),
        ({"DEFAULT_BACKEND": "vertex"}, "DEFAULT_BACKEND must be one of anthropic, bedrock, got 'vertex'"),
    ],
)
def test_bad_values_are_named(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        BedrockSettings.from_env(env)


@pytest.mark.parametrize("model", [SubmitSettings, PollSettings, CompleteSettings])
def test_every_function_reads_the_bedrock_group(model: type[FromEnv]) -> None:
    names = {variable.name for variable in model.variables()}
    assert {"BEDROCK_SERVICE_ROLE_ARN", "BEDROCK_JOB_TIMEOUT_HOURS", "DEFAULT_BACKEND"} <= names


def test_without_a_role_bedrock_is_refused_with_the_reason_and_the_claude_api_is_made_once() -> None:
    made: list[FakeBatches] = []

    def anthropic() -> FakeBatches:
        made.append(FakeBatches(FakeClock()))
        return made[-1]

    backends = common.backends(anthropic, BedrockSettings(), "bucket")
    assert made == []  # nothing is made before a job asks for it
    assert backends.for_backend("anthropic") is backends.for_backend("anthropic") is made[0]
    assert backends.unavailable("bedrock") == common.NO_BEDROCK_ROLE
    with pytest.raises(BackendUnavailable, match="BEDROCK_SERVICE_ROLE_ARN is empty"):
        backends.for_backend("bedrock")
    assert "no batch backend named 'vertex'" in (backends.unavailable("vertex") or "")


def test_with_a_role_bedrock_is_made_on_first_use_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str, int]] = []

    def bedrock_batches(settings: BedrockSettings, bucket: str) -> FakeBatches:
        calls.append((bucket, settings.role_arn, settings.job_timeout_hours))
        return FakeBatches(FakeClock())

    monkeypatch.setattr(common, "bedrock_batches", bedrock_batches)
    backends = common.backends(lambda: FakeBatches(FakeClock()), BedrockSettings(role_arn=ROLE), "bucket")
    assert calls == [] and backends.unavailable("bedrock") is None
    first = backends.for_backend("bedrock")
    assert backends.for_backend("bedrock") is first and calls == [("bucket", ROLE, 24)]
