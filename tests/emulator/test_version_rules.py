"""The rules of the API version each create arrived with, applied to every request of its batch
when it is processed, and the model's own rules (sampling on 4.7+, thinking, effort), over HTTP
with the unmodified SDK. Each version rule is driven under both versions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from anthropic.types import CapabilitySupport

from batchdrop_local.emulator import EmulatorServer

from .conftest import API_KEY, RawHttp, batch_outcomes, make_request, wait_ended

LEGACY = "2023-06-01"
CURRENT = "2026-10-21"
NEW_MODELS = (
    "claude-opus-4-7",
    "claude-opus-4-8",
    "claude-opus-5",
    "claude-opus-5-5",
    "claude-sonnet-5",
    "claude-sonnet-5-5",
    "claude-haiku-5-5",
    "claude-fable-5-1",
    "claude-fable-5-2",
)


@pytest.fixture
def legacy(emulator: EmulatorServer) -> Iterator[anthropic.Anthropic]:
    """An SDK client that sends anthropic-version 2023-06-01 instead of its own 2026-10-21."""
    with anthropic.Anthropic(
        base_url=emulator.url,
        api_key=API_KEY,
        max_retries=0,
        timeout=10,
        default_headers={"anthropic-version": LEGACY},
    ) as sdk:
        yield sdk


OK = ("succeeded", "")
LEVELS = ("low", "medium", "high", "xhigh", "max")
UNSUPPORTED = CapabilitySupport(supported=False)


def test_the_sdk_sends_2026_10_21_and_the_batch_keeps_it(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    # Given a create without sampling parameters, when it ends, then it succeeded: the SDK's own
    # version header is accepted, and the version is recorded with the batch.
    assert client.default_headers["anthropic-version"] == CURRENT
    assert batch_outcomes(client, make_request("plain")) == {"plain": OK}


@pytest.mark.parametrize("name", ["temperature", "top_p", "top_k"])
def test_sampling_parameters_are_extra_inputs_under_2026_10_21(
    client: anthropic.Anthropic, name: str
) -> None:
    sampled: dict[str, Any] = {name: 1 if name != "top_k" else 5}
    zero: dict[str, Any] = {name: 0}
    lines = batch_outcomes(
        client,
        make_request("sampled", **sampled),
        make_request("zero", model="claude-sonnet-4-6", **zero),
        make_request("plain"),
    )

    expected = ("invalid_request_error", f"{name}: Extra inputs are not permitted")
    assert lines == {"sampled": expected, "zero": expected, "plain": OK}


def test_sampling_parameters_keep_working_under_2023_06_01_on_older_models(
    legacy: anthropic.Anthropic,
) -> None:
    lines = batch_outcomes(
        legacy,
        make_request("temperature", temperature=0),
        make_request("top-p", model="claude-sonnet-4-6", top_p=0.9),
        make_request("top-k", model="claude-opus-4-5", top_k=40),
        make_request("out-of-range", temperature=1.5),
        make_request("both", temperature=0.5, top_p=0.9),
    )

    assert lines["temperature"] == lines["top-p"] == lines["top-k"] == OK
    assert lines["out-of-range"][0] == "invalid_request_error"
    assert lines["out-of-range"][1].startswith("temperature: ")
    assert lines["both"] == (
        "invalid_request_error",
        "`temperature` and `top_p` cannot both be specified for this model. Please use only one.",
    )


@pytest.mark.parametrize("model", NEW_MODELS)
def test_models_4_7_and_later_refuse_sampling_under_every_version(
    legacy: anthropic.Anthropic, client: anthropic.Anthropic, model: str
) -> None:
    old = batch_outcomes(
        legacy, make_request("t", model=model, temperature=1), make_request("k", model=model, top_k=1)
    )
    new = batch_outcomes(client, make_request("t", model=model, temperature=1))

    assert old == {
        "t": ("invalid_request_error", "`temperature` is deprecated for this model."),
        "k": ("invalid_request_error", "`top_k` is deprecated for this model."),
    }
    assert new == {"t": ("invalid_request_error", "temperature: Extra inputs are not permitted")}


def assistant_document_request(custom_id: str) -> Any:
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Notes."}}
    messages = [
        {"role": "user", "content": "Read this."},
        {"role": "assistant", "content": [document]},
        {"role": "user", "content": "Now summarise it."},
    ]
    return make_request(custom_id, messages=messages)


def test_a_document_in_an_assistant_message_is_refused_only_under_2026_10_21(
    client: anthropic.Anthropic, legacy: anthropic.Anthropic
) -> None:
    new = batch_outcomes(client, assistant_document_request("doc"))
    old = batch_outcomes(legacy, assistant_document_request("doc"))

    assert new["doc"][0] == "invalid_request_error"
    assert new["doc"][1].startswith(
        "messages.1.content.0: document blocks are not permitted in assistant messages"
    )
    assert old == {"doc": OK}


CITATION = {
    "type": "char_location",
    "cited_text": "Sales doubled.",
    "document_index": 0,
    "document_title": None,
    "start_char_index": 0,
    "end_char_index": 14,
}


def cited_requests() -> list[Any]:
    direct = [{"type": "text", "text": "As quoted:", "citations": [CITATION]}]
    search_result = {
        "type": "search_result",
        "source": "https://example.com/report",
        "title": "Report",
        "content": [{"type": "text", "text": "Sales doubled.", "citations": [CITATION]}],
    }
    empty = [{"type": "text", "text": "No citations here.", "citations": []}]
    return [
        make_request("direct", messages=[{"role": "user", "content": direct}]),
        make_request("search", messages=[{"role": "user", "content": [search_result]}]),
        make_request("empty", messages=[{"role": "user", "content": empty}]),
    ]


def test_citations_on_user_text_are_refused_only_under_2026_10_21(
    client: anthropic.Anthropic, legacy: anthropic.Anthropic
) -> None:
    new = batch_outcomes(client, *cited_requests())
    old = batch_outcomes(legacy, *cited_requests())

    assert new["direct"] == (
        "invalid_request_error",
        "messages.0.content.0.citations: citations are not permitted on text blocks in user messages",
    )
    assert new["search"] == (
        "invalid_request_error",
        "messages.0.content.0.content.0.citations: citations are not permitted on text blocks in user messages",
    )
    assert new["empty"] == OK
    assert old == {"direct": OK, "search": OK, "empty": OK}


def test_the_rules_follow_each_creates_version_not_the_clients_later_calls(
    client: anthropic.Anthropic, legacy: anthropic.Anthropic
) -> None:
    # Given a batch created under 2023-06-01, when it is read back with the 2026-10-21 client,
    # then its request was judged by 2023-06-01's rules.
    batch = legacy.messages.batches.create(requests=[make_request("t", temperature=0)])
    wait_ended(client, batch.id)

    (line,) = list(client.messages.batches.results(batch.id))
    assert line.result.type == "succeeded"


@pytest.mark.parametrize(
    ("version", "status"), [("2023-06-01", 200), ("2026-10-21", 200), ("2024-01-01", 400), (None, 400)]
)
def test_only_known_api_versions_are_accepted(raw: RawHttp, version: str | None, status: int) -> None:
    body = json.dumps({"requests": [make_request("a")]}).encode()
    headers = {"x-api-key": API_KEY, "content-type": "application/json"}
    if version is not None:
        headers["anthropic-version"] = version
    raw.connection.request("POST", "/v1/messages/batches", body=body, headers=headers)
    response = raw.connection.getresponse()
    answer = json.loads(response.read())

    assert response.status == status
    if status == 400:
        assert answer["error"]["type"] == "invalid_request_error"
        assert "anthropic-version" in answer["error"]["message"]


@pytest.mark.parametrize("model", ["claude-opus-4-7", "claude-haiku-5-5", "claude-fable-5-1"])
def test_a_thinking_budget_is_refused_on_4_7_and_later(client: anthropic.Anthropic, model: str) -> None:
    thinking = {"type": "enabled", "budget_tokens": 2048}
    lines = batch_outcomes(
        client,
        make_request("budget", model=model, max_tokens=4096, thinking=thinking),
        make_request("adaptive", model=model, max_tokens=4096, thinking={"type": "adaptive"}),
    )

    assert lines["budget"] == (
        "invalid_request_error",
        '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and '
        '"output_config.effort" to control thinking behavior.',
    )
    assert lines["adaptive"] == OK


def test_a_thinking_budget_works_where_the_model_takes_one(client: anthropic.Anthropic) -> None:
    lines = batch_outcomes(
        client,
        make_request(
            "ok",
            model="claude-sonnet-4-6",
            max_tokens=4096,
            thinking={"type": "enabled", "budget_tokens": 2048},
        ),
        make_request("small", model="claude-haiku-4-5", thinking={"type": "enabled", "budget_tokens": 100}),
        make_request(
            "over",
            model="claude-haiku-4-5",
            max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 4096},
        ),
        make_request("adaptive", model="claude-haiku-4-5", thinking={"type": "adaptive"}),
    )

    assert lines["ok"] == OK
    assert lines["small"][1].startswith(
        "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    )
    assert lines["over"] == (
        "invalid_request_error",
        "`max_tokens` must be greater than `thinking.budget_tokens`.",
    )
    assert lines["adaptive"] == (
        "invalid_request_error",
        '"thinking.type.adaptive" is not supported for this model.',
    )


def test_thinking_cannot_be_turned_off_where_it_is_always_on(client: anthropic.Anthropic) -> None:
    lines = batch_outcomes(
        client,
        make_request("fable", model="claude-fable-5-2", thinking={"type": "disabled"}),
        make_request("opus", model="claude-opus-5-5", thinking={"type": "disabled"}),
        make_request("sonnet", model="claude-sonnet-5-5", thinking={"type": "disabled"}),
    )

    assert (
        lines["fable"]
        == lines["opus"]
        == ("invalid_request_error", '"thinking.type.disabled" is not supported for this model.')
    )
    assert lines["sonnet"] == OK


def test_effort_must_be_one_the_model_supports(client: anthropic.Anthropic) -> None:
    lines = batch_outcomes(
        client,
        make_request("xhigh-opus", model="claude-opus-4-7", output_config={"effort": "xhigh"}),
        make_request("xhigh-sonnet-4-6", model="claude-sonnet-4-6", output_config={"effort": "xhigh"}),
        make_request("max-opus-4-5", model="claude-opus-4-5", output_config={"effort": "max"}),
        make_request("haiku-4-5", model="claude-haiku-4-5", output_config={"effort": "low"}),
        make_request("bogus", model="claude-opus-4-7", output_config={"effort": "extreme"}),
    )

    assert lines["xhigh-opus"] == OK
    assert lines["xhigh-sonnet-4-6"] == (
        "invalid_request_error",
        'output_config.effort: "xhigh" is not supported by this model; supported values: low, medium, high, max',
    )
    assert lines["max-opus-4-5"][1].endswith("supported values: low, medium, high")
    assert lines["haiku-4-5"] == (
        "invalid_request_error",
        "output_config.effort: effort is not supported for this model",
    )
    assert lines["bogus"][1].startswith("output_config.effort: Input should be one of")


def test_effort_levels_match_the_models_api(client: anthropic.Anthropic) -> None:
    # What the Models API says a model supports is exactly what a batch request may ask for.
    for model in client.models.list(limit=100):
        assert model.capabilities is not None
        effort = model.capabilities.effort
        supported = {level for level in LEVELS if (getattr(effort, level) or UNSUPPORTED).supported}
        requests = [make_request(level, model=model.id, output_config={"effort": level}) for level in LEVELS]
        lines = batch_outcomes(client, *requests)
        assert {level for level, line in lines.items() if line == OK} == (
            supported if effort.supported else set()
        )


def test_stream_and_speed_are_not_allowed_in_batches(client: anthropic.Anthropic) -> None:
    lines = batch_outcomes(client, make_request("stream", stream=True), make_request("speed", speed="fast"))

    assert lines == {
        "stream": ("invalid_request_error", "stream: streaming is not supported in the Message Batches API"),
        "speed": ("invalid_request_error", "speed: fast mode is not supported in the Message Batches API"),
    }


def test_count_tokens_obeys_the_same_rules_as_http_errors(
    client: anthropic.Anthropic, legacy: anthropic.Anthropic
) -> None:
    cited = cited_requests()[0]["params"]["messages"]
    with pytest.raises(anthropic.BadRequestError, match="citations are not permitted"):
        client.messages.count_tokens(model="claude-haiku-5-5", messages=cited)
    assert legacy.messages.count_tokens(model="claude-haiku-5-5", messages=cited).input_tokens > 0
    with pytest.raises(anthropic.BadRequestError, match="temperature: Extra inputs are not permitted"):
        client.messages.count_tokens(
            model="claude-haiku-5-5",
            messages=[{"role": "user", "content": "Hi"}],
            extra_body={"temperature": 0},
        )
    with pytest.raises(anthropic.BadRequestError, match=r"thinking\.type\.enabled"):
        client.messages.count_tokens(
            model="claude-opus-4-7",
            messages=[{"role": "user", "content": "Hi"}],
            thinking={"type": "enabled", "budget_tokens": 2048},
        )
    with pytest.raises(anthropic.BadRequestError, match="xhigh"):
        client.messages.count_tokens(
            model="claude-haiku-5-5",
            messages=[{"role": "user", "content": "Hi"}],
            output_config={"effort": "xhigh"},
        )
