"""Issue 9's faults on the wire and their admin paths: after-effect errors, archival, a full
queue, fail rules, and the list a client uses to find a batch whose create answer was lost."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from batchdrop_local.emulator import EmulatorServer

from .conftest import LONG_DELAY, RawHttp, make_request
from .test_http import BATCHES, assert_error, create, wait_ended


def inject(raw: RawHttp, spec: dict[str, Any]) -> dict[str, Any]:
    response = raw.request("POST", "/_emulator/faults", spec, key=None)
    assert response.status == 200, response.body
    return dict(response.json()["pending_faults"])


def result_types(raw: RawHttp, batch_id: str) -> dict[str, str]:
    body = raw.request("GET", f"{BATCHES}/{batch_id}/results").body
    return {line["custom_id"]: line["result"]["type"] for line in map(json.loads, body.splitlines())}


# Acts first, fails after


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(500, "api_error"), (502, "api_error"), (504, "timeout_error"), (529, "overloaded_error")],
)
def test_an_after_effect_create_makes_the_batch_then_answers_the_error(
    raw: RawHttp, emulator: EmulatorServer, status: int, error_type: str
) -> None:
    emulator.update_config(processing_delay=LONG_DELAY)  # still processing when listed below
    emulator.inject_fault("create", status, after_effect=True)

    response = raw.request("POST", BATCHES, {"requests": [make_request("a"), make_request("b")]})

    assert_error(response, status, error_type)
    assert "after the call took effect" in response.json()["error"]["message"]
    assert response.headers["retry-after-ms"] == "10"
    stats = emulator.stats()
    assert stats["batches_created"] == 1
    assert stats["requests_by_custom_id"] == {"a": 1, "b": 1}
    assert stats["pending_faults"]["create"] == []
    listed = raw.request("GET", f"{BATCHES}?limit=1").json()["data"]
    assert [b["request_counts"]["processing"] for b in listed] == [2]


def test_an_after_effect_cancel_cancels_then_answers_the_error(
    raw: RawHttp, emulator: EmulatorServer
) -> None:
    emulator.update_config(processing_delay=LONG_DELAY)
    batch_id = create(raw, "a").json()["id"]
    emulator.inject_fault("cancel", 502, after_effect=True)

    response = raw.request("POST", f"{BATCHES}/{batch_id}/cancel")

    assert_error(response, 502, "api_error")
    batch = raw.request("GET", f"{BATCHES}/{batch_id}").json()
    assert batch["processing_status"] == "canceling"
    assert batch["cancel_initiated_at"] is not None
    again = raw.request("POST", f"{BATCHES}/{batch_id}/cancel").json()
    assert again["cancel_initiated_at"] == batch["cancel_initiated_at"]


def test_an_after_effect_fault_still_answers_its_status_when_the_call_failed(
    raw: RawHttp, emulator: EmulatorServer
) -> None:
    emulator.inject_fault("create", 504, after_effect=True)
    emulator.inject_fault("create", 504, after_effect=True)

    bad_body = raw.request("POST", BATCHES, {"requests": []})
    no_key = raw.request("POST", BATCHES, {"requests": [make_request("a")]}, key=None)

    assert_error(bad_body, 504, "timeout_error")
    assert "itself failed with 400" in bad_body.json()["error"]["message"]
    assert_error(no_key, 504, "timeout_error")
    assert "itself failed with 401" in no_key.json()["error"]["message"]
    assert emulator.stats()["batches_created"] == 0


def test_an_after_effect_fault_on_a_read_answers_the_error(raw: RawHttp, emulator: EmulatorServer) -> None:
    batch_id = create(raw, "a").json()["id"]
    wait_ended(raw, batch_id)
    emulator.inject_fault("results", 500, count=2, after_effect=True)

    assert_error(raw.request("GET", f"{BATCHES}/{batch_id}/results"), 500, "api_error")
    assert emulator.stats()["pending_faults"]["results"] == [
        {"status": 500, "after_effect": True, "remaining": 1}
    ]


def test_after_effect_faults_over_http(raw: RawHttp, emulator: EmulatorServer) -> None:
    pending = inject(raw, {"endpoint": "create", "status": 502, "after_effect": True, "count": 2})
    inject(raw, {"endpoint": "create", "status": 529})

    assert pending["create"] == [{"status": 502, "after_effect": True, "remaining": 2}]
    body = {"requests": [make_request("a")]}
    statuses = [raw.request("POST", BATCHES, body).status for _ in range(4)]
    assert statuses == [502, 502, 529, 200]
    stats = emulator.stats()
    assert stats["batches_created"] == 3  # two after the effect, the 529 made none
    assert stats["requests_by_custom_id"] == {"a": 3}


@pytest.mark.parametrize(
    "spec",
    [
        {"endpoint": "create", "status": 502, "after_effect": "yes"},
        {"endpoint": "create", "status": 502, "after_effect": 1},
        {"endpoint": "create", "cut_after_lines": 0, "after_effect": True},
        {"endpoint": "create", "status": 502, "after": True},
    ],
)
def test_invalid_after_effect_specs_are_400(raw: RawHttp, spec: dict[str, Any]) -> None:
    assert_error(raw.request("POST", "/_emulator/faults", spec, key=None), 400, "invalid_request_error")


def test_a_cut_create_counts_its_requests_as_submitted(raw: RawHttp, emulator: EmulatorServer) -> None:
    inject(raw, {"endpoint": "create", "cut_after_lines": 0})

    with pytest.raises((http.client.HTTPException, OSError)):
        raw.request("POST", BATCHES, {"requests": [make_request("a")]})

    assert emulator.stats()["requests_by_custom_id"] == {"a": 1}


# Archival


def test_an_archived_batch_keeps_its_results_url_and_its_results_answer_404(
    raw: RawHttp, emulator: EmulatorServer
) -> None:
    batch_id = create(raw, "a").json()["id"]
    ended = wait_ended(raw, batch_id)

    archived = raw.request("POST", f"/_emulator/batches/{batch_id}/archive", key=None)

    assert archived.status == 200
    batch = archived.json()
    assert batch["archived_at"] is not None
    assert batch["results_url"] == ended["results_url"]
    assert raw.request("GET", f"{BATCHES}/{batch_id}").json() == batch
    gone = raw.request("GET", f"{BATCHES}/{batch_id}/results")
    assert_error(gone, 404, "not_found_error")
    assert "archived" in gone.json()["error"]["message"]


def test_archiving_a_running_or_unknown_batch_is_refused(raw: RawHttp, emulator: EmulatorServer) -> None:
    emulator.update_config(processing_delay=LONG_DELAY)
    batch_id = create(raw, "a").json()["id"]

    assert_error(
        raw.request("POST", f"/_emulator/batches/{batch_id}/archive", key=None), 400, "invalid_request_error"
    )
    assert_error(
        raw.request("POST", "/_emulator/batches/msgbatch_nope/archive", key=None), 404, "not_found_error"
    )
    assert raw.request("GET", f"/_emulator/batches/{batch_id}/archive", key=None).status == 404


def test_results_ttl_can_be_set_over_http(raw: RawHttp) -> None:
    changed = raw.request("POST", "/_emulator/config", {"results_ttl": 0}, key=None)
    assert changed.json()["results_ttl"] == 0
    batch_id = create(raw, "a").json()["id"]

    assert wait_ended(raw, batch_id)["archived_at"] is not None
    assert_error(raw.request("GET", f"{BATCHES}/{batch_id}/results"), 404, "not_found_error")


# A full queue


def test_the_queue_switch_over_http_refuses_creates_with_a_retry_after(
    raw: RawHttp, emulator: EmulatorServer
) -> None:
    emulator.update_config(queue_retry_after=30)
    switched = raw.request("POST", "/_emulator/queue", {"full": True}, key=None)
    assert switched.json() == {"queue_full": True, "queue_limit": None, "requests_processing": 0}

    refused = raw.request("POST", BATCHES, {"requests": [make_request("a")]})

    assert_error(refused, 429, "rate_limit_error")
    assert refused.headers["retry-after"] == "30"
    assert "processing queue" in refused.json()["error"]["message"]
    assert raw.request("GET", BATCHES).json()["data"] == []
    assert raw.request("GET", "/_emulator/queue", key=None).json()["queue_full"] is True
    raw.request("POST", "/_emulator/queue", {"full": False}, key=None)
    create(raw, "a")
    stats = raw.request("GET", "/_emulator/stats", key=None).json()
    assert (stats["creates_refused"], stats["batches_created"]) == (1, 1)
    assert stats["requests_by_custom_id"] == {"a": 1}


def test_queue_limit_over_http(raw: RawHttp, emulator: EmulatorServer) -> None:
    raw.request("POST", "/_emulator/config", {"queue_limit": 3, "processing_delay": LONG_DELAY}, key=None)
    create(raw, "a", "b")

    refused = raw.request("POST", BATCHES, {"requests": [make_request("c"), make_request("d")]})

    assert_error(refused, 429, "rate_limit_error")
    assert "3" in refused.json()["error"]["message"]
    assert raw.request("GET", "/_emulator/queue", key=None).json() == {
        "queue_full": False,
        "queue_limit": 3,
        "requests_processing": 2,
    }
    create(raw, "c")


@pytest.mark.parametrize("spec", [{"full": "yes"}, {}, {"full": True, "limit": 3}])
def test_invalid_queue_switches_are_400(raw: RawHttp, spec: dict[str, Any]) -> None:
    assert_error(raw.request("POST", "/_emulator/queue", spec, key=None), 400, "invalid_request_error")


# Per-request errors and expiry


def test_fail_rules_seed_and_error_type_over_http(raw: RawHttp) -> None:
    rules = [{"pattern": "doc-1", "attempts": 1, "error_type": "overloaded_error"}, {"pattern": "doc-2"}]
    changed = raw.request(
        "POST",
        "/_emulator/config",
        {
            "processing_delay": 0,
            "fail_first_attempts": rules,
            "seed": 3,
            "error_type": "invalid_request_error",
        },
        key=None,
    ).json()

    assert changed["fail_first_attempts"] == [
        {"pattern": "doc-1", "attempts": 1, "outcome": "errored", "error_type": "overloaded_error"},
        {"pattern": "doc-2", "attempts": 1, "outcome": "errored", "error_type": None},
    ]
    assert (changed["seed"], changed["error_type"]) == (3, "invalid_request_error")
    first = create(raw, "doc-0", "doc-1", "doc-2").json()["id"]
    second = create(raw, "doc-1", "doc-2").json()["id"]
    assert result_types(raw, first) == {"doc-0": "succeeded", "doc-1": "errored", "doc-2": "errored"}
    assert result_types(raw, second) == {"doc-1": "succeeded", "doc-2": "succeeded"}


@pytest.mark.parametrize(
    "change",
    [
        {"fail_first_attempts": [{"pattern": "("}]},
        {"fail_first_attempts": "doc=1"},
        {"error_type": "bad_error"},
        {"queue_limit": -3},
        {"seed": 1.5},
    ],
)
def test_invalid_fault_settings_over_http_are_400(raw: RawHttp, change: dict[str, Any]) -> None:
    assert_error(raw.request("POST", "/_emulator/config", change, key=None), 400, "invalid_request_error")


# The list that tells whether a lost create made a batch


def test_list_pages_newest_first_with_exact_cursors(raw: RawHttp, emulator: EmulatorServer) -> None:
    ids = [create(raw, "a").json()["id"] for _ in range(25)]
    newest_first = ids[::-1]
    raw.request("DELETE", f"{BATCHES}/{wait_ended(raw, ids[10])['id']}")
    expected = [batch_id for batch_id in newest_first if batch_id != ids[10]]

    default = raw.request("GET", BATCHES).json()
    assert [b["id"] for b in default["data"]] == expected[:20]
    assert (default["has_more"], default["first_id"], default["last_id"]) == (True, expected[0], expected[19])
    walked, after = [], None
    while True:
        page = raw.request("GET", f"{BATCHES}?limit=7" + (f"&after_id={after}" if after else "")).json()
        walked += [b["id"] for b in page["data"]]
        assert page["last_id"] == page["data"][-1]["id"]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert walked == expected
    everything = raw.request("GET", f"{BATCHES}?limit=1000").json()
    assert ([b["id"] for b in everything["data"]], everything["has_more"]) == (expected, False)
    last = raw.request("GET", f"{BATCHES}?after_id={expected[-1]}").json()
    assert last == {"data": [], "has_more": False, "first_id": None, "last_id": None}
