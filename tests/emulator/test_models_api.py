"""The Models API, the model checks of batch requests, count_tokens and model_overrides, driven
over HTTP with the unmodified SDK."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic.types import ModelInfo

from batchdrop_local.cli import build_parser
from batchdrop_local.emulator import EmulatorConfig, EmulatorServer
from batchdrop_local.emulator.catalogue import CATALOGUE_FILE, INTERNAL_KEY, Catalogue

from .conftest import RawHttp, batch_outcomes, make_request, wait_ended
from .test_admin_cli import admin

CONTRACT_MODELS = {
    "claude-fable-5-1",
    "claude-fable-5-2",
    "claude-opus-5-5",
    "claude-opus-5",
    "claude-opus-4-8",
    "claude-opus-4-7",
    "claude-opus-4-6",
    "claude-opus-4-5",
    "claude-sonnet-5-5",
    "claude-sonnet-5",
    "claude-sonnet-4-6",
    "claude-haiku-5-5",
    "claude-haiku-4-5",
}
RETIRED = {"claude-sonnet-4-5", "claude-sonnet-4", "claude-opus-4"}


def test_the_list_holds_every_current_model_newest_first_and_parses(client: anthropic.Anthropic) -> None:
    models = list(client.models.list(limit=5))  # the SDK pages with after_id until has_more is false

    ids = [model.id for model in models]
    assert set(ids) == CONTRACT_MODELS
    assert all(isinstance(model, ModelInfo) and model.capabilities is not None for model in models)
    created = [model.created_at for model in models]
    assert created == sorted(created, reverse=True)
    assert all(model.lifecycle == "active" for model in models)


def test_retired_models_are_listed_only_when_asked_for(client: anthropic.Anthropic) -> None:
    retired = list(client.models.list(lifecycle=["retired"], limit=100))
    everything = {model.id for model in client.models.list(lifecycle=["active", "retired"], limit=100)}

    assert {model.id for model in retired} >= RETIRED
    assert {model.lifecycle for model in retired} == {"retired"}
    assert any(model.id.startswith("claude-3-") for model in retired)
    assert everything == CONTRACT_MODELS | {model.id for model in retired}


def test_pages_follow_after_id_and_before_id(raw: RawHttp) -> None:
    first = raw.request("GET", "/v1/models?limit=4").json()
    second = raw.request("GET", f"/v1/models?limit=4&after_id={first['last_id']}").json()
    back = raw.request("GET", f"/v1/models?limit=4&before_id={second['first_id']}").json()

    assert first["has_more"] is True
    assert [m["id"] for m in first["data"]] == [m["id"] for m in back["data"]]
    assert first["last_id"] == first["data"][-1]["id"] and first["first_id"] == first["data"][0]["id"]
    assert not {m["id"] for m in first["data"]} & {m["id"] for m in second["data"]}
    everything = raw.request("GET", "/v1/models?limit=1000").json()
    assert everything["has_more"] is False and len(everything["data"]) == len(CONTRACT_MODELS)


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "limit=x", "lifecycle[]=gone", "after_id=a&before_id=b"]
)
def test_bad_list_queries_are_400(raw: RawHttp, query: str) -> None:
    response = raw.request("GET", f"/v1/models?{query}")

    assert response.status == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_retrieve_parses_into_model_info_with_limits_and_capabilities(client: anthropic.Anthropic) -> None:
    haiku = client.models.retrieve("claude-haiku-5-5")

    assert isinstance(haiku, ModelInfo)
    assert (haiku.display_name, haiku.line, haiku.lifecycle) == ("Claude Haiku 5.5", "haiku", "active")
    assert haiku.created_at == datetime(2026, 10, 7, tzinfo=UTC)
    assert (haiku.max_input_tokens, haiku.max_tokens) == (1_000_000, 128_000)
    assert haiku.capabilities is not None
    assert haiku.capabilities.batch.supported and haiku.capabilities.structured_outputs.supported
    assert haiku.capabilities.effort.medium.supported
    assert haiku.capabilities.thinking.types.adaptive.supported
    assert not haiku.capabilities.thinking.types.enabled.supported
    opus = client.models.retrieve("claude-opus-5-5")
    assert opus.capabilities is not None and not opus.capabilities.thinking.types.disabled.supported


def test_a_retired_model_is_still_retrievable(client: anthropic.Anthropic) -> None:
    sonnet = client.models.retrieve("claude-sonnet-4-5")

    assert sonnet.lifecycle == "retired"
    assert sonnet.retires_at == datetime(2026, 11, 30, tzinfo=UTC)
    assert sonnet.deprecated_at is not None


def test_an_alias_names_its_model(client: anthropic.Anthropic) -> None:
    assert client.models.retrieve("claude-haiku-4-5-20251001").id == "claude-haiku-4-5"


def test_an_unknown_model_is_404(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.models.retrieve("claude-nope-9")

    assert isinstance(missing.value.body, dict)
    assert missing.value.body["error"] == {"type": "not_found_error", "message": "model: claude-nope-9"}


def test_internal_facts_are_never_served(raw: RawHttp) -> None:
    listing = raw.request("GET", "/v1/models?limit=1000&lifecycle[]=active&lifecycle[]=retired").json()
    single = raw.request("GET", "/v1/models/claude-haiku-5-5").json()

    assert all(INTERNAL_KEY not in model for model in [*listing["data"], single])
    shipped = json.loads(CATALOGUE_FILE.read_text())["models"]
    haiku = next(entry for entry in shipped if entry["id"] == "claude-haiku-5-5")
    assert haiku[INTERNAL_KEY]["tokenizer_ratio"] == 1.3


def test_retired_and_unknown_models_end_not_found(client: anthropic.Anthropic) -> None:
    lines = batch_outcomes(
        client,
        make_request("retired", model="claude-sonnet-4-5"),
        make_request("old", model="claude-3-5-haiku-20241022"),
        make_request("unknown", model="gpt-4o"),
        make_request("fine", model="claude-sonnet-4-6"),
    )

    assert lines == {
        "retired": ("not_found_error", "model: claude-sonnet-4-5"),
        "old": ("not_found_error", "model: claude-3-5-haiku-20241022"),
        "unknown": ("not_found_error", "model: gpt-4o"),
        "fine": ("succeeded", ""),
    }


def test_max_tokens_is_held_to_the_models_limit(client: anthropic.Anthropic) -> None:
    lines = batch_outcomes(
        client,
        make_request("over", model="claude-haiku-4-5", max_tokens=64_001),
        make_request("at", model="claude-haiku-4-5", max_tokens=64_000),
        make_request("big", model="claude-haiku-5-5", max_tokens=128_000),
        make_request("beta-only", model="claude-opus-4-7", max_tokens=300_000),
    )

    assert lines["over"] == (
        "invalid_request_error",
        "max_tokens: 64001 > 64000, which is the maximum allowed number of output tokens for claude-haiku-4-5",
    )
    assert lines["at"] == lines["big"] == ("succeeded", "")
    assert lines["beta-only"][0] == "invalid_request_error"


def test_the_300k_output_beta_raises_the_limit_on_4_7_and_later(client: anthropic.Anthropic) -> None:
    lines = batch_outcomes(
        client,
        make_request("opus", model="claude-opus-4-7", max_tokens=300_000),
        make_request("haiku-4-5", model="claude-haiku-4-5", max_tokens=300_000),
        extra_headers={"anthropic-beta": "output-300k-2026-03-24"},
    )

    assert lines["opus"] == ("succeeded", "")
    assert lines["haiku-4-5"][0] == "invalid_request_error"


def test_count_tokens_answers_input_tokens_with_the_models_tokenizer(client: anthropic.Anthropic) -> None:
    messages: Any = [{"role": "user", "content": "Count these words please. " * 200}]

    old = client.messages.count_tokens(model="claude-haiku-4-5", messages=messages).input_tokens
    new = client.messages.count_tokens(model="claude-haiku-5-5", messages=messages).input_tokens
    with_system = client.messages.count_tokens(
        model="claude-haiku-4-5", messages=messages, system="x" * 400
    ).input_tokens

    assert old > 1000
    assert new == pytest.approx(old * 1.3, rel=0.01)
    assert with_system == old + 100


def test_count_tokens_matches_the_batch_answers_input_tokens(client: anthropic.Anthropic) -> None:
    text = "A sentence of some length to count. " * 30
    counted = client.messages.count_tokens(
        model="claude-sonnet-5-5", messages=[{"role": "user", "content": text}]
    )
    batch = client.messages.batches.create(requests=[make_request("a", text, model="claude-sonnet-5-5")])
    wait_ended(client, batch.id)
    (line,) = list(client.messages.batches.results(batch.id))

    assert line.result.type == "succeeded"
    assert line.result.message.usage.input_tokens == counted.input_tokens


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-nope"])
def test_count_tokens_refuses_retired_and_unknown_models_with_404(
    client: anthropic.Anthropic, model: str
) -> None:
    with pytest.raises(anthropic.NotFoundError, match=f"model: {model}"):
        client.messages.count_tokens(model=model, messages=[{"role": "user", "content": "Hi"}])


def test_count_tokens_takes_no_max_tokens(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="max_tokens: Extra inputs are not permitted"):
        client.messages.count_tokens(
            model="claude-haiku-5-5",
            messages=[{"role": "user", "content": "Hi"}],
            extra_body={"max_tokens": 10},
        )


def test_model_overrides_deprecate_retire_and_add_models(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    emulator.update_config(
        model_overrides={
            "claude-haiku-4-5": {"lifecycle": "deprecated", "retires_at": "2027-02-01T00:00:00Z"},
            "claude-sonnet-4-6": {"lifecycle": "retired"},
            "claude-test-1": {
                **client.models.retrieve("claude-haiku-5-5").model_dump(mode="json"),
                "id": "claude-test-1",
                "display_name": "Test model",
                "created_at": "2026-12-01T00:00:00Z",
            },
        }
    )

    haiku = client.models.retrieve("claude-haiku-4-5")
    assert (haiku.lifecycle, haiku.retires_at) == ("deprecated", datetime(2027, 2, 1, tzinfo=UTC))
    assert haiku.capabilities is not None and haiku.capabilities.batch.supported  # the rest is kept
    listed = [model.id for model in client.models.list(limit=100)]
    assert listed[0] == "claude-test-1"
    assert "claude-sonnet-4-6" not in listed
    lines = batch_outcomes(
        client,
        make_request("deprecated", model="claude-haiku-4-5"),
        make_request("retired", model="claude-sonnet-4-6"),
        make_request("added", model="claude-test-1"),
    )
    assert lines == {
        "deprecated": ("succeeded", ""),
        "retired": ("not_found_error", "model: claude-sonnet-4-6"),
        "added": ("succeeded", ""),
    }


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"claude-haiku-4-5": {"lifecycle": "sunset"}}, "lifecycle must be one of"),
        ({"claude-new": {"display_name": "New"}}, "needs created_at"),
        ({"claude-haiku-4-5": {"retires_at": "soon"}}, "retires_at must be an RFC 3339 time"),
        ({"claude-haiku-4-5": {"max_tokens": 0}}, "max_tokens must be a positive integer"),
        ({"claude-haiku-4-5": {"id": "other"}}, "id cannot be changed"),
        ({"claude-haiku-4-5": "retired"}, "must be an object of fields"),
    ],
)
def test_bad_model_overrides_are_refused(overrides: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EmulatorConfig(model_overrides=overrides)


def test_overrides_leave_the_shipped_catalogue_alone() -> None:
    Catalogue.build({"claude-haiku-4-5": {"lifecycle": "retired"}})

    haiku = Catalogue.build().get("claude-haiku-4-5")
    assert haiku is not None and haiku.lifecycle == "active"


def test_model_overrides_over_the_admin_http_path(raw: RawHttp, client: anthropic.Anthropic) -> None:
    override = {"claude-opus-4-5": {"lifecycle": "deprecated", "deprecated_at": "2026-12-01T00:00:00Z"}}
    changed = raw.request("POST", "/_emulator/config", {"model_overrides": override}, key=None)
    refused = raw.request(
        "POST", "/_emulator/config", {"model_overrides": {"x": {"lifecycle": "gone"}}}, key=None
    )

    assert changed.status == 200 and changed.json()["model_overrides"] == override
    assert refused.status == 400
    assert client.models.retrieve("claude-opus-4-5").lifecycle == "deprecated"


def test_the_admin_cli_overrides_one_model_at_a_time(
    emulator: EmulatorServer, client: anthropic.Anthropic, capsys: pytest.CaptureFixture[str]
) -> None:
    code, answer, _ = admin(
        capsys,
        emulator.url,
        "model",
        "claude-haiku-4-5",
        "lifecycle=deprecated",
        'retires_at="2027-02-01T00:00:00Z"',
    )
    assert code == 0
    admin(capsys, emulator.url, "model", "claude-opus-4-6", "lifecycle=retired")
    assert client.models.retrieve("claude-haiku-4-5").lifecycle == "deprecated"
    assert client.models.retrieve("claude-opus-4-6").lifecycle == "retired"
    assert answer["model_overrides"]["claude-haiku-4-5"]["retires_at"] == "2027-02-01T00:00:00Z"

    code, answer, _ = admin(capsys, emulator.url, "model", "claude-opus-4-6")
    assert code == 0 and set(answer["model_overrides"]) == {"claude-haiku-4-5"}
    code, _, err = admin(capsys, emulator.url, "model", "claude-opus-4-6", "lifecycle=sunset")
    assert code == 1 and "lifecycle must be one of" in err


def test_the_emulator_command_takes_model_overrides(tmp_path: Path) -> None:
    path = tmp_path / "overrides.json"
    path.write_text(json.dumps({"claude-haiku-4-5": {"lifecycle": "deprecated"}}))
    args = build_parser().parse_args(
        ["local", "emulator", "--model-overrides", f"@{path}", "--invalid-output-rate", "0.25"]
    )

    assert args.model_overrides == {"claude-haiku-4-5": {"lifecycle": "deprecated"}}
    assert args.invalid_output_rate == 0.25
    with pytest.raises(SystemExit):
        build_parser().parse_args(["local", "emulator", "--model-overrides", '{"m": 1}'])


def test_models_api_needs_a_key_and_a_version(raw: RawHttp) -> None:
    assert raw.request("GET", "/v1/models", key=None).status == 401
    no_version = raw.request("GET", "/v1/models", headers={"anthropic-version": ""})
    assert no_version.status == 400
    assert "anthropic-version" in no_version.json()["error"]["message"]
    assert raw.request("GET", "/v1/models", headers={"anthropic-version": "2026-10-21"}).status == 200
