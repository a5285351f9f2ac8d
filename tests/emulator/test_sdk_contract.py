"""The unmodified anthropic SDK against the running emulator over HTTP."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import pytest

from batchdrop_local.emulator import EmulatorServer
from batchdrop_local.emulator.engine import planned_outcome

from .conftest import API_KEY, LONG_DELAY, make_request, wait_ended


def error_type(error: anthropic.APIStatusError) -> str:
    """The error.type of an error answer's body."""
    assert isinstance(error.body, dict)
    return str(error.body["error"]["type"])


def results_by_id(client: anthropic.Anthropic, batch_id: str) -> dict[str, Any]:
    return {line.custom_id: line.result for line in client.messages.batches.results(batch_id)}


def test_create_retrieve_and_results_round_trip(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    document = {
        "type": "document",
        "title": "Quarterly memo",
        "source": {
            "type": "text",
            "media_type": "text/plain",
            "data": "Sales doubled in March. Details follow.",
        },
    }
    requests = [
        make_request(
            "memo", messages=[{"role": "user", "content": [document, {"type": "text", "text": "Summarise."}]}]
        ),
        make_request("plain"),
    ]

    created = client.messages.batches.create(requests=requests)
    assert created.id.startswith("msgbatch_")
    assert created.processing_status == "in_progress"
    assert created.request_counts.processing == 2
    assert created.results_url is None
    ended = wait_ended(client, created.id)

    assert ended.request_counts.succeeded == 2
    assert ended.request_counts.processing == 0
    assert ended.ended_at is not None
    assert ended.results_url == f"{emulator.url}/v1/messages/batches/{created.id}/results"
    results = results_by_id(client, created.id)
    assert set(results) == {"memo", "plain"}
    memo = results["memo"]
    assert memo.type == "succeeded"
    assert memo.message.id.startswith("msg_")
    assert memo.message.model == "claude-haiku-4-5"
    assert memo.message.usage.service_tier == "batch"
    assert '"Quarterly memo"' in memo.message.content[0].text
    assert "Sales doubled in March." in memo.message.content[0].text


def test_results_before_the_end_are_not_found(client: anthropic.Anthropic, emulator: EmulatorServer) -> None:
    emulator.update_config(processing_delay=LONG_DELAY)
    batch = client.messages.batches.create(requests=[make_request("a")])

    with pytest.raises(anthropic.AnthropicError, match="No `results_url`"):
        client.messages.batches.results(batch.id)
    with pytest.raises(anthropic.NotFoundError):
        client.get(f"/v1/messages/batches/{batch.id}/results", cast_to=object)


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([], "at least 1 item"),
        ([make_request("has space")], "custom_id"),
        ([make_request("x" * 65)], "custom_id"),
        ([make_request("twin"), make_request("twin")], "more than once"),
        ([{"custom_id": "no-params"}], "params: Field required"),
        ([{"params": make_request("a")["params"]}], "custom_id: Field required"),
    ],
)
def test_invalid_batches_are_rejected_whole(
    client: anthropic.Anthropic, emulator: EmulatorServer, requests: list[Any], message: str
) -> None:
    with pytest.raises(anthropic.BadRequestError, match=message) as rejected:
        client.messages.batches.create(requests=requests)

    assert error_type(rejected.value) == "invalid_request_error"
    assert emulator.stats()["batches_created"] == 0


def test_too_many_requests_and_too_large_bodies_are_refused(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    emulator.update_config(max_requests=3, max_body_bytes=2_000)

    with pytest.raises(anthropic.BadRequestError, match="at most 3"):
        client.messages.batches.create(requests=[make_request(f"r{i}") for i in range(4)])
    with pytest.raises(anthropic.RequestTooLargeError) as too_large:
        client.messages.batches.create(requests=[make_request("big", "word " * 1_000)])

    assert error_type(too_large.value) == "request_too_large"
    assert emulator.stats()["calls"]["create"] == 2  # a 413 is not retried


def test_bad_params_end_as_errored_lines(client: anthropic.Anthropic) -> None:
    requests = [
        make_request("ok"),
        make_request("no-messages", messages=[]),
        make_request("bad-model", model="gpt-4o"),
        make_request("huge-max", max_tokens=500_000),
        make_request("streaming", stream=True),
    ]
    batch = client.messages.batches.create(requests=requests)
    ended = wait_ended(client, batch.id)

    assert (ended.request_counts.succeeded, ended.request_counts.errored) == (1, 4)
    for custom_id, result in results_by_id(client, batch.id).items():
        if custom_id == "ok":
            assert result.type == "succeeded"
        else:
            assert result.type == "errored"
            expected = "not_found_error" if custom_id == "bad-model" else "invalid_request_error"
            assert result.error.error.type == expected


def test_list_pages_newest_first(client: anthropic.Anthropic, emulator: EmulatorServer) -> None:
    created = [client.messages.batches.create(requests=[make_request("a")]).id for _ in range(7)]
    newest_first = created[::-1]

    everything = [batch.id for batch in client.messages.batches.list(limit=3)]
    assert everything == newest_first
    assert emulator.stats()["calls"]["list"] == 3

    first = client.messages.batches.list(limit=3)
    assert [b.id for b in first.data] == newest_first[:3]
    assert (first.has_more, first.first_id, first.last_id) == (True, newest_first[0], newest_first[2])
    second = client.messages.batches.list(limit=3, after_id=newest_first[2])
    assert [b.id for b in second.data] == newest_first[3:6]
    last = client.messages.batches.list(limit=3, after_id=newest_first[5])
    assert [b.id for b in last.data] == newest_first[6:]
    assert last.has_more is False
    newer = client.messages.batches.list(limit=2, before_id=newest_first[3])
    assert [b.id for b in newer.data] == newest_first[1:3]
    assert [b.id for b in client.messages.batches.list()] == newest_first  # default limit 20


@pytest.mark.parametrize("limit", [0, 1001])
def test_list_limit_out_of_range_is_refused(client: anthropic.Anthropic, limit: int) -> None:
    with pytest.raises(anthropic.BadRequestError, match="limit"):
        client.messages.batches.list(limit=limit)


def test_cancel_goes_through_canceling_to_ended(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    emulator.update_config(processing_delay=LONG_DELAY, cancel_grace=0.1)
    batch = client.messages.batches.create(requests=[make_request(f"r{i}") for i in range(4)])

    canceling = client.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    ended = wait_ended(client, batch.id)

    assert ended.request_counts.canceled == 4
    assert ended.cancel_initiated_at == canceling.cancel_initiated_at
    assert {result.type for result in results_by_id(client, batch.id).values()} == {"canceled"}
    with pytest.raises(anthropic.BadRequestError, match="already ended"):
        client.messages.batches.cancel(batch.id)


def test_delete_only_after_the_end(client: anthropic.Anthropic, emulator: EmulatorServer) -> None:
    emulator.update_config(processing_delay=LONG_DELAY, cancel_grace=0.05)
    batch = client.messages.batches.create(requests=[make_request("a")])

    with pytest.raises(anthropic.BadRequestError, match="cannot be deleted"):
        client.messages.batches.delete(batch.id)
    client.messages.batches.cancel(batch.id)
    wait_ended(client, batch.id)
    deleted = client.messages.batches.delete(batch.id)

    assert (deleted.id, deleted.type) == (batch.id, "message_batch_deleted")
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(batch.id)
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.delete(batch.id)


def test_unknown_ids_are_not_found_everywhere(client: anthropic.Anthropic) -> None:
    batches = client.messages.batches
    unknown = "msgbatch_doesnotexist000000000"
    for call in (batches.retrieve, batches.cancel, batches.delete, batches.results):
        with pytest.raises(anthropic.NotFoundError) as missing:
            call(unknown)
        assert error_type(missing.value) == "not_found_error"


def test_beta_client_works(client: anthropic.Anthropic) -> None:
    batches = client.beta.messages.batches
    request: Any = make_request("beta")  # the beta Request TypedDict has the same shape
    batch = batches.create(requests=[request], betas=["message-batches-2024-09-24"])
    wait_ended(client, batch.id)

    assert batches.retrieve(batch.id).processing_status == "ended"
    assert [line.custom_id for line in batches.results(batch.id)] == ["beta"]
    assert batch.id in [b.id for b in batches.list()]


def test_a_429_once_is_retried_by_the_sdk(client: anthropic.Anthropic, emulator: EmulatorServer) -> None:
    emulator.inject_fault("create", 429)

    batch = client.messages.batches.create(requests=[make_request("a")])

    assert batch.processing_status == "in_progress"
    stats = emulator.stats()
    assert stats["calls"]["create"] == 2
    assert stats["batches_created"] == 1
    assert stats["pending_faults"]["create"] == []


def test_overload_beyond_max_retries_raises(client: anthropic.Anthropic, emulator: EmulatorServer) -> None:
    batch = client.messages.batches.create(requests=[make_request("a")])
    emulator.inject_fault("retrieve", 529, count=3)

    with pytest.raises(anthropic.OverloadedError) as overloaded:
        client.messages.batches.retrieve(batch.id)  # 1 call + max_retries=2

    assert error_type(overloaded.value) == "overloaded_error"
    assert emulator.stats()["calls"]["retrieve"] == 3
    assert client.messages.batches.retrieve(batch.id).id == batch.id


def test_each_faulted_call_uses_up_one_count(client: anthropic.Anthropic, emulator: EmulatorServer) -> None:
    emulator.inject_fault("list", 500, count=5)

    with pytest.raises(anthropic.InternalServerError):
        client.with_options(max_retries=0).messages.batches.list()

    assert emulator.stats()["pending_faults"]["list"] == [{"status": 500, "remaining": 4}]


def test_a_cut_results_stream_raises_mid_iteration_outside_the_sdk_errors(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    batch = client.messages.batches.create(requests=[make_request(f"r{i}") for i in range(4)])
    wait_ended(client, batch.id)
    emulator.inject_cut("results", after_lines=2)
    lines = client.messages.batches.results(batch.id)
    received = [next(lines).custom_id, next(lines).custom_id]

    # What the SDK raises is httpx2's error, not an anthropic.APIError: the SDK does not
    # retry a stream it has started to hand out, and callers that catch only
    # anthropic.APIError let it through.
    with pytest.raises(httpx2.RemoteProtocolError, match="incomplete chunked read"):
        next(lines)

    assert not issubclass(httpx2.RemoteProtocolError, anthropic.APIError)
    assert emulator.stats()["pending_faults"]["results"] == []
    again = [line.custom_id for line in client.messages.batches.results(batch.id)]
    assert again[:2] == received and sorted(again) == ["r0", "r1", "r2", "r3"]


def test_a_cut_answer_elsewhere_is_a_connection_error_that_the_sdk_retries(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    batch = client.messages.batches.create(requests=[make_request("a")])
    emulator.inject_cut("retrieve", count=3)

    with pytest.raises(anthropic.APIConnectionError):
        client.messages.batches.retrieve(batch.id)  # 1 call + max_retries=2, all cut

    assert emulator.stats()["calls"]["retrieve"] == 3


def test_a_cut_create_answer_makes_a_retrying_sdk_create_the_batch_twice(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    # The hazard for exactly-once submission: create takes no idempotency key, the first
    # batch exists (and is billed) although its answer was lost, and the SDK's retry of the
    # dropped connection creates a second one. So batchdrop creates without the SDK's retries
    # for dropped connections (anthropic_batches.MessageBatches.create).
    emulator.inject_cut("create")

    batch = client.messages.batches.create(requests=[make_request("a")])

    stats = emulator.stats()
    assert stats["batches_created"] == 2
    assert stats["requests_by_custom_id"] == {"a": 2}
    assert batch.id == client.messages.batches.list(limit=1).data[0].id


def test_stats_count_batches_and_submissions(client: anthropic.Anthropic, emulator: EmulatorServer) -> None:
    client.messages.batches.create(requests=[make_request("a"), make_request("b")])
    client.messages.batches.create(requests=[make_request("a")])

    stats = emulator.stats()
    assert stats["batches_created"] == 2
    assert stats["requests_by_custom_id"] == {"a": 2, "b": 1}
    assert stats["calls"]["create"] == 2


def test_same_request_gives_the_same_answer(client: anthropic.Anthropic) -> None:
    texts, ids = [], []
    for _ in range(2):
        batch = client.messages.batches.create(requests=[make_request("same", "Identical input. Twice.")])
        wait_ended(client, batch.id)
        message = results_by_id(client, batch.id)["same"].message
        texts.append(message.content[0].text)
        ids.append(message.id)

    assert texts[0] == texts[1]
    assert ids[0] != ids[1]


def test_usage_grows_with_input_length(client: anthropic.Anthropic) -> None:
    requests = [make_request("short", "word " * 10), make_request("long", "word " * 2_000)]
    batch = client.messages.batches.create(requests=requests)
    wait_ended(client, batch.id)
    results = results_by_id(client, batch.id)

    short, long = (results[key].message.usage.input_tokens for key in ("short", "long"))
    assert long > short + 2_000


def test_json_is_answered_when_asked_for(client: anthropic.Anthropic) -> None:
    import json

    batch = client.messages.batches.create(
        requests=[make_request("j", "Describe this as JSON please. The sky is blue.")]
    )
    wait_ended(client, batch.id)

    reply = json.loads(results_by_id(client, batch.id)["j"].message.content[0].text)
    assert reply["summary"] == "Describe this as JSON please."


def test_error_and_expire_rates_pick_outcomes_by_custom_id(
    client: anthropic.Anthropic, emulator: EmulatorServer
) -> None:
    emulator.update_config(error_rate=0.3, expire_rate=0.3)
    custom_ids = [f"doc-{i:03d}" for i in range(40)]
    expected = {cid: planned_outcome(cid, 1, 0.3, 0.3) for cid in custom_ids}
    assert set(expected.values()) == {"succeeded", "errored", "expired"}

    batch = client.messages.batches.create(requests=[make_request(cid) for cid in custom_ids])
    ended = wait_ended(client, batch.id)
    results = results_by_id(client, batch.id)

    assert {cid: result.type for cid, result in results.items()} == expected
    assert ended.request_counts.errored == list(expected.values()).count("errored")
    assert ended.request_counts.expired == list(expected.values()).count("expired")
    errored = [r for r in results.values() if r.type == "errored"]
    assert {r.error.error.type for r in errored} == {"api_error"}


def test_a_configured_api_key_is_enforced(emulator: EmulatorServer) -> None:
    emulator.update_config(api_key="the-right-key")

    wrong = anthropic.Anthropic(base_url=emulator.url, api_key=API_KEY, max_retries=0)
    with wrong, pytest.raises(anthropic.AuthenticationError):
        wrong.messages.batches.list()
    with anthropic.Anthropic(base_url=emulator.url, api_key="the-right-key", max_retries=0) as right:
        assert right.messages.batches.list().data == []
