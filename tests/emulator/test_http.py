"""Wire details the SDK hides: auth headers, request ids, error bodies, the JSONL stream, framing."""

from __future__ import annotations

import http.client
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest

from batchdrop_local.emulator import EmulatorServer

from .conftest import DEADLINE, LONG_DELAY, RawHttp, RawResponse, make_request

BATCHES = "/v1/messages/batches"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def create(raw: RawHttp, *custom_ids: str) -> RawResponse:
    response = raw.request("POST", BATCHES, {"requests": [make_request(cid) for cid in custom_ids]})
    assert response.status == 200, response.body
    return response


def wait_ended(raw: RawHttp, batch_id: str) -> dict[str, object]:
    deadline = time.monotonic() + DEADLINE
    while True:
        batch = raw.request("GET", f"{BATCHES}/{batch_id}").json()
        if batch["processing_status"] == "ended":
            return dict(batch)
        assert time.monotonic() < deadline
        time.sleep(0.02)


def assert_error(response: RawResponse, status: int, error_type: str) -> None:
    assert response.status == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert body["error"]["message"]
    assert body["request_id"] == response.headers["request-id"]


def test_missing_key_is_401_with_an_error_body(raw: RawHttp) -> None:
    response = raw.request("GET", BATCHES, key=None)

    assert_error(response, 401, "authentication_error")
    assert response.headers["request-id"].startswith("req_")


@pytest.mark.parametrize(
    "headers", [{"x-api-key": "k"}, {"Authorization": "Bearer k"}, {"authorization": "bearer k"}]
)
def test_either_key_header_is_accepted(raw: RawHttp, headers: dict[str, str]) -> None:
    response = raw.request("GET", BATCHES, key=None, headers={**headers, "anthropic-version": "2026-10-21"})

    assert response.status == 200
    assert response.json() == {"data": [], "has_more": False, "first_id": None, "last_id": None}


def test_every_answer_has_a_distinct_request_id(raw: RawHttp) -> None:
    batch = create(raw, "a")
    retrieved = raw.request("GET", f"{BATCHES}/{batch.json()['id']}")
    missing = raw.request("GET", f"{BATCHES}/msgbatch_nope")

    ids = [r.headers["request-id"] for r in (batch, retrieved, missing)]
    assert all(re.fullmatch(r"req_[0-9A-Za-z]{24}", request_id) for request_id in ids)
    assert len(set(ids)) == 3
    assert_error(missing, 404, "not_found_error")


def test_batch_object_fields_and_formats(raw: RawHttp) -> None:
    batch = create(raw, "a", "b").json()

    assert re.fullmatch(r"msgbatch_[0-9A-Za-z]{24}", batch["id"])
    assert batch["type"] == "message_batch"
    assert set(batch) == {
        "id",
        "type",
        "processing_status",
        "request_counts",
        "created_at",
        "expires_at",
        "ended_at",
        "cancel_initiated_at",
        "archived_at",
        "results_url",
    }
    assert TIMESTAMP.fullmatch(batch["created_at"])
    assert TIMESTAMP.fullmatch(batch["expires_at"])
    created, expires = (datetime.fromisoformat(batch[key]) for key in ("created_at", "expires_at"))
    assert expires - created == timedelta(hours=24)
    assert sum(batch["request_counts"].values()) == 2
    ended = wait_ended(raw, batch["id"])
    assert TIMESTAMP.fullmatch(str(ended["ended_at"]))


def test_results_stream_is_clean_jsonl(raw: RawHttp) -> None:
    batch_id = create(raw, "a", "b", "c").json()["id"]
    results_url = str(wait_ended(raw, batch_id)["results_url"])

    response = raw.request("GET", results_url.split(str(raw.port), 1)[1])

    assert response.status == 200
    assert response.headers["content-type"] == "application/x-jsonl"
    assert response.headers["request-id"].startswith("req_")
    assert response.body.endswith(b"\n")
    assert b"\r" not in response.body
    lines = response.body.split(b"\n")[:-1]
    assert all(lines)
    assert sorted(json.loads(line)["custom_id"] for line in lines) == ["a", "b", "c"]


def test_results_stream_in_chunks_of_the_page_size(raw: RawHttp, emulator: EmulatorServer) -> None:
    emulator.update_config(results_page_size=2)
    custom_ids = [f"r{i}" for i in range(5)]
    batch_id = create(raw, *custom_ids).json()["id"]
    wait_ended(raw, batch_id)

    response = raw.request("GET", f"{BATCHES}/{batch_id}/results")

    assert response.headers["transfer-encoding"] == "chunked"
    assert sorted(json.loads(line)["custom_id"] for line in response.body.splitlines()) == custom_ids


def test_results_url_follows_the_host_the_client_used(raw: RawHttp) -> None:
    host = f"localhost:{raw.port}"
    batch_id = create(raw, "a").json()["id"]
    wait_ended(raw, batch_id)

    batch = raw.request("GET", f"{BATCHES}/{batch_id}", headers={"Host": host}).json()

    assert batch["results_url"] == f"http://{host}{BATCHES}/{batch_id}/results"


def test_beta_query_and_header_are_ignored(raw: RawHttp) -> None:
    beta = {"anthropic-beta": "message-batches-2024-09-24"}
    body = {"requests": [make_request("a")]}
    created = raw.request("POST", f"{BATCHES}?beta=true", body, headers=beta)
    listed = raw.request("GET", f"{BATCHES}?beta=true&limit=5", headers=beta)

    assert created.status == 200
    assert [b["id"] for b in listed.json()["data"]] == [created.json()["id"]]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (b"{}", "requests: Field required"),
        (b'{"requests": {}}', "valid list"),
        (b'{"requests": ["x"]}', "requests.0: Input should be an object"),
    ],
)
def test_malformed_create_bodies_are_400(raw: RawHttp, data: bytes, message: str) -> None:
    response = raw.request("POST", BATCHES, data=data, headers={"content-type": "application/json"})

    assert_error(response, 400, "invalid_request_error")
    assert message in response.json()["error"]["message"]


def test_a_chunked_request_body_is_read(raw: RawHttp) -> None:
    body = json.dumps({"requests": [make_request("chunked")]}).encode()
    raw.connection.request(
        "POST",
        BATCHES,
        body=iter([body[:10], body[10:]]),
        headers={"x-api-key": "k", "content-type": "application/json", "anthropic-version": "2023-06-01"},
        encode_chunked=True,
    )
    response = raw.connection.getresponse()

    assert response.status == 200
    assert json.loads(response.read())["request_counts"]["processing"] == 1


def test_an_oversized_body_is_413_and_the_connection_stays_usable(
    raw: RawHttp, emulator: EmulatorServer
) -> None:
    emulator.update_config(max_body_bytes=1_000)

    too_large = raw.request("POST", BATCHES, {"requests": [make_request("big", "x" * 5_000)]})
    after = raw.request("GET", BATCHES)

    assert_error(too_large, 413, "request_too_large")
    assert after.status == 200


def test_unknown_paths_and_wrong_methods(raw: RawHttp) -> None:
    assert_error(raw.request("GET", "/v1/messages/other"), 404, "not_found_error")
    wrong_method = raw.request("PUT", BATCHES)
    assert_error(wrong_method, 405, "invalid_request_error")
    assert wrong_method.headers["allow"] == "POST, GET"
    assert_error(raw.request("GET", f"{BATCHES}/msgbatch_x/cancel"), 405, "invalid_request_error")


def test_list_rejects_bad_parameters(raw: RawHttp) -> None:
    batch_id = create(raw, "a").json()["id"]

    assert_error(raw.request("GET", f"{BATCHES}?limit=abc"), 400, "invalid_request_error")
    assert_error(
        raw.request("GET", f"{BATCHES}?after_id={batch_id}&before_id={batch_id}"),
        400,
        "invalid_request_error",
    )
    assert_error(raw.request("GET", f"{BATCHES}?after_id=msgbatch_unknown"), 400, "invalid_request_error")


def test_cancel_of_an_ended_batch_is_400_and_delete_then_404(raw: RawHttp) -> None:
    batch_id = create(raw, "a").json()["id"]
    wait_ended(raw, batch_id)

    assert_error(raw.request("POST", f"{BATCHES}/{batch_id}/cancel"), 400, "invalid_request_error")
    deleted = raw.request("DELETE", f"{BATCHES}/{batch_id}")
    assert deleted.json() == {"id": batch_id, "type": "message_batch_deleted"}
    assert_error(raw.request("GET", f"{BATCHES}/{batch_id}/results"), 404, "not_found_error")


def test_results_before_the_end_are_404(raw: RawHttp, emulator: EmulatorServer) -> None:
    emulator.update_config(processing_delay=LONG_DELAY)
    batch_id = create(raw, "a").json()["id"]

    assert_error(raw.request("GET", f"{BATCHES}/{batch_id}/results"), 404, "not_found_error")


def test_injected_429_carries_retry_hints(raw: RawHttp, emulator: EmulatorServer) -> None:
    emulator.inject_fault("list", 429)

    response = raw.request("GET", BATCHES)

    assert_error(response, 429, "rate_limit_error")
    assert response.headers["retry-after"] == "0"
    assert response.headers["retry-after-ms"] == "10"
    assert raw.request("GET", BATCHES).status == 200


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(500, "api_error"), (529, "overloaded_error"), (403, "permission_error"), (402, "billing_error")],
)
def test_injected_faults_have_matching_error_types(
    raw: RawHttp, emulator: EmulatorServer, status: int, error_type: str
) -> None:
    emulator.inject_fault("create", status)

    assert_error(raw.request("POST", BATCHES, {"requests": [make_request("a")]}), status, error_type)
    assert emulator.stats()["batches_created"] == 0


def test_a_cut_results_stream_sends_some_lines_then_closes(raw: RawHttp, emulator: EmulatorServer) -> None:
    batch_id = create(raw, "a", "b", "c").json()["id"]
    wait_ended(raw, batch_id)
    whole = raw.request("GET", f"{BATCHES}/{batch_id}/results").body.splitlines(keepends=True)
    emulator.inject_cut("results", after_lines=1)
    connection = http.client.HTTPConnection(raw.host, raw.port, timeout=10)

    connection.request(
        "GET", f"{BATCHES}/{batch_id}/results", headers={"x-api-key": "k", "anthropic-version": "2023-06-01"}
    )
    response = connection.getresponse()

    assert response.status == 200
    assert response.getheader("transfer-encoding") == "chunked"
    with pytest.raises(http.client.IncompleteRead) as cut:
        response.read()
    # http.client keeps the complete chunks (the first line) and, in the cause, what it got
    # of the chunk that never finished (half of the second line).
    assert cut.value.partial == whole[0]
    assert isinstance(cut.value.__cause__, http.client.IncompleteRead)
    half = cut.value.__cause__.partial
    assert half and whole[1].startswith(half) and len(half) == len(whole[1]) // 2
    connection.close()
    assert raw.request("GET", f"{BATCHES}/{batch_id}/results").body == b"".join(whole)


def test_a_cut_json_answer_stops_halfway_and_the_call_took_effect(
    raw: RawHttp, emulator: EmulatorServer
) -> None:
    emulator.inject_cut("create")
    connection = http.client.HTTPConnection(raw.host, raw.port, timeout=10)
    body = json.dumps({"requests": [make_request("a")]})

    connection.request(
        "POST", BATCHES, body=body, headers={"x-api-key": "k", "anthropic-version": "2023-06-01"}
    )
    response = connection.getresponse()

    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead) as cut:
        response.read()
    assert 0 < len(cut.value.partial) == int(response.getheader("content-length", "0")) // 2
    connection.close()
    assert emulator.stats()["batches_created"] == 1


def test_stop_closes_open_keep_alive_connections(emulator: EmulatorServer) -> None:
    raw = RawHttp(emulator.url)
    assert raw.request("GET", BATCHES).status == 200

    emulator.stop()

    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        raw.request("GET", BATCHES)
    raw.close()


def test_concurrent_clients_are_all_counted(emulator: EmulatorServer) -> None:
    def submit(worker: int) -> list[int]:
        raw = RawHttp(emulator.url)
        try:
            body = {"requests": [make_request(f"w{worker}"), make_request("shared")]}
            return [raw.request("POST", BATCHES, body).status for _ in range(10)]
        finally:
            raw.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [status for result in pool.map(submit, range(8)) for status in result]

    assert statuses == [200] * 80
    stats = emulator.stats()
    assert stats["batches_created"] == 80
    assert stats["requests_by_custom_id"] == {"shared": 80, **{f"w{i}": 10 for i in range(8)}}
    assert stats["calls"]["create"] == 80
