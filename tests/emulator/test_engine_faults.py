"""The engine's faults without HTTP: archival, the queue limit, seeded draws and fail rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batchdrop_local.emulator import ApiError, BatchEngine, EmulatorConfig
from batchdrop_local.emulator.engine import FailRule, planned_outcome

from .conftest import make_request
from .test_engine import BASE, START, FakeClock, create, lines

DAY = 24 * 3600


def outcomes(engine: BatchEngine, batch_id: str) -> dict[str, str]:
    return {custom_id: result["type"] for custom_id, result in lines(engine, batch_id).items()}


def error_types(engine: BatchEngine, batch_id: str) -> dict[str, str]:
    return {
        custom_id: result["error"]["error"]["type"]
        for custom_id, result in lines(engine, batch_id).items()
        if result["type"] == "errored"
    }


def body(*custom_ids: str) -> bytes:
    return json.dumps({"requests": [make_request(custom_id) for custom_id in custom_ids]}).encode()


# Archival


def test_results_ttl_sets_when_a_batch_is_archived_and_results_url_stays() -> None:
    clock = FakeClock()
    engine = BatchEngine(EmulatorConfig(processing_delay=10, results_ttl=3600), clock=clock)
    batch_id = create(engine, "a")

    clock.now = START + 3599
    assert engine.retrieve(batch_id, BASE)["archived_at"] is None
    assert set(lines(engine, batch_id)) == {"a"}

    clock.now = START + 3600
    batch = engine.retrieve(batch_id, BASE)
    assert batch["archived_at"] == "2027-01-15T09:00:00.000000Z"
    assert batch["processing_status"] == "ended"
    assert batch["results_url"] == f"{BASE}/v1/messages/batches/{batch_id}/results"
    with pytest.raises(ApiError, match="archived") as gone:
        engine.results(batch_id)
    assert (gone.value.status, gone.value.error_type) == (404, "not_found_error")
    listed = engine.list_batches(BASE)["data"]
    assert [(b["id"], b["archived_at"]) for b in listed] == [(batch_id, batch["archived_at"])]


def test_a_batch_is_never_archived_before_it_ends() -> None:
    clock = FakeClock()
    engine = BatchEngine(EmulatorConfig(processing_delay=100, results_ttl=10), clock=clock)
    batch_id = create(engine, "a")

    clock.now = START + 50
    assert engine.retrieve(batch_id, BASE)["archived_at"] is None
    clock.now = START + 100
    assert engine.retrieve(batch_id, BASE)["archived_at"] == "2027-01-15T08:01:40.000000Z"  # = ended_at


def test_archive_batch_archives_an_ended_batch_now_and_only_once() -> None:
    clock = FakeClock()
    engine = BatchEngine(EmulatorConfig(processing_delay=10), clock=clock)
    running = create(engine, "a")
    with pytest.raises(ApiError, match="has not ended") as too_early:
        engine.archive_batch(running, BASE)
    assert too_early.value.status == 400

    clock.now = START + 60
    archived = engine.archive_batch(running, BASE)
    assert archived["archived_at"] == "2027-01-15T08:01:00.000000Z"
    clock.now = START + 120
    assert engine.archive_batch(running, BASE)["archived_at"] == archived["archived_at"]
    assert engine.retrieve(running, BASE) == archived
    with pytest.raises(ApiError, match="archived"):
        engine.results(running)
    with pytest.raises(ApiError) as unknown:
        engine.archive_batch("msgbatch_unknown", BASE)
    assert unknown.value.status == 404
    assert engine.delete(running)["type"] == "message_batch_deleted"


def test_results_ttl_of_a_batch_is_the_one_at_its_creation() -> None:
    clock = FakeClock()
    engine = BatchEngine(EmulatorConfig(processing_delay=0), clock=clock)
    default_ttl = create(engine, "a")
    engine.update_config(results_ttl=0)
    zero_ttl = create(engine, "a")

    assert engine.retrieve(zero_ttl, BASE)["archived_at"] is not None
    assert engine.retrieve(default_ttl, BASE)["archived_at"] is None
    clock.now = START + 29 * DAY
    assert engine.retrieve(default_ttl, BASE)["archived_at"] == "2027-02-13T08:00:00.000000Z"


# The processing queue


def test_queue_limit_refuses_a_create_that_would_overflow_and_counts_it() -> None:
    clock = FakeClock()
    engine = BatchEngine(EmulatorConfig(processing_delay=100, queue_limit=5), clock=clock)
    first = create(engine, "a", "b", "c")

    with pytest.raises(ApiError) as refused:
        engine.create(body("d", "e", "f"), BASE)

    error = refused.value
    assert (error.status, error.error_type) == (429, "rate_limit_error")
    assert "processing queue" in error.message and "no batch was created" in error.message
    assert error.headers == {"retry-after": "60", "retry-after-ms": "60000"}
    stats = engine.stats()
    assert stats["batches_created"] == 1
    assert stats["creates_refused"] == 1
    assert stats["requests_by_custom_id"] == {"a": 1, "b": 1, "c": 1}
    assert [b["id"] for b in engine.list_batches(BASE)["data"]] == [first]
    assert engine.queue() == {"queue_full": False, "queue_limit": 5, "requests_processing": 3}
    create(engine, "d", "e")  # exactly at the limit is allowed
    assert engine.queue()["requests_processing"] == 5


def test_the_queue_drains_as_batches_end_or_are_canceled() -> None:
    clock = FakeClock()
    engine = BatchEngine(EmulatorConfig(processing_delay=100, cancel_grace=1, queue_limit=4), clock=clock)
    slow = create(engine, "a", "b", "c")
    with pytest.raises(ApiError):
        engine.create(body("d", "e"), BASE)

    clock.now = START + 10
    engine.cancel(slow, BASE)
    assert engine.queue()["requests_processing"] == 3  # canceling still counts
    clock.now = START + 11
    assert engine.queue()["requests_processing"] == 0
    create(engine, "d", "e")
    engine.update_config(queue_limit=None)
    create(engine, *(f"r{i}" for i in range(10)))
    assert engine.stats()["creates_refused"] == 1


def test_queue_full_switch_refuses_every_create_until_released() -> None:
    engine = BatchEngine(EmulatorConfig(processing_delay=0, queue_retry_after=0.25))
    engine.set_queue_full(True)

    for _ in range(2):
        with pytest.raises(ApiError) as refused:
            engine.create(body("a"), BASE)
        assert refused.value.status == 429
        assert refused.value.headers == {"retry-after": "1", "retry-after-ms": "250"}
    assert engine.queue()["queue_full"] is True
    engine.set_queue_full(False)
    create(engine, "a")

    stats = engine.stats()
    assert (stats["batches_created"], stats["creates_refused"], stats["queue_full"]) == (1, 2, False)
    assert stats["requests_by_custom_id"] == {"a": 1}
    with pytest.raises(ValueError, match="true or false"):
        engine.set_queue_full("yes")  # type: ignore[arg-type]


def test_a_bad_body_is_400_even_while_the_queue_is_full() -> None:
    engine = BatchEngine(EmulatorConfig(queue_limit=1))
    engine.set_queue_full(True)

    with pytest.raises(ApiError) as bad:
        engine.create(b'{"requests": []}', BASE)

    assert bad.value.status == 400
    assert engine.stats()["creates_refused"] == 0


# Seeded draws, error types and fail rules


def test_the_seed_changes_which_requests_fail_repeatably() -> None:
    ids = [f"doc-{i}" for i in range(200)]

    def run(seed: int | None) -> dict[str, str]:
        engine = BatchEngine(EmulatorConfig(processing_delay=0, error_rate=0.3, seed=seed))
        return outcomes(engine, create(engine, *ids))

    unseeded, seed_1, seed_1_again, seed_2 = run(None), run(1), run(1), run(2)
    assert seed_1 == seed_1_again
    assert seed_1 != seed_2 and seed_1 != unseeded
    assert seed_1 == {cid: planned_outcome(cid, 1, 0.3, 0.0, seed=1) for cid in ids}
    assert unseeded == {cid: planned_outcome(cid, 1, 0.3, 0.0) for cid in ids}


def test_a_retried_request_gets_a_fresh_draw() -> None:
    engine = BatchEngine(EmulatorConfig(processing_delay=0, error_rate=0.5, seed=7))
    ids = [f"doc-{i}" for i in range(100)]
    first = outcomes(engine, create(engine, *ids))
    failed = [cid for cid, outcome in first.items() if outcome == "errored"]

    retried = outcomes(engine, create(engine, *failed))

    assert retried == {cid: planned_outcome(cid, 2, 0.5, 0.0, seed=7) for cid in failed}
    assert 0 < list(retried.values()).count("succeeded") < len(failed)


@pytest.mark.parametrize("error_type", ["overloaded_error", "invalid_request_error", "api_error"])
def test_error_type_names_the_errored_lines(error_type: str) -> None:
    engine = BatchEngine(EmulatorConfig(processing_delay=0, error_rate=1, error_type=error_type))
    batch_id = create(engine, "a", "b")

    assert error_types(engine, batch_id) == {"a": error_type, "b": error_type}
    message = lines(engine, batch_id)["a"]["error"]["error"]["message"]
    assert message and "emulated" in message


def test_fail_rules_fail_matching_requests_for_their_first_attempts_then_succeed() -> None:
    rules = (
        FailRule("doc-000[12]", attempts=2),
        FailRule("late-.*", attempts=1, outcome="expired"),
        FailRule("busy", attempts=1, error_type="overloaded_error"),
    )
    # The rates would fail everything: a rule decides alone for the requests it matches.
    engine = BatchEngine(EmulatorConfig(processing_delay=0, fail_first_attempts=rules, error_rate=1))
    ids = ("doc-0001", "doc-0002", "late-1", "busy", "doc-00011")

    attempts = [outcomes(engine, create(engine, *ids)) for _ in range(3)]

    assert attempts[0] == {
        "doc-0001": "errored",
        "doc-0002": "errored",
        "late-1": "expired",
        "busy": "errored",
        "doc-00011": "errored",  # no rule (fullmatch): the error rate
    }
    assert attempts[1] == {**attempts[0], "late-1": "succeeded", "busy": "succeeded"}
    assert attempts[2] == {**attempts[1], "doc-0001": "succeeded", "doc-0002": "succeeded"}
    assert engine.stats()["requests_by_custom_id"] == dict.fromkeys(ids, 3)


def test_fail_rules_take_their_error_type_or_the_configured_one() -> None:
    rules = (FailRule("a"), FailRule("b", error_type="rate_limit_error"))
    engine = BatchEngine(
        EmulatorConfig(processing_delay=0, fail_first_attempts=rules, error_type="timeout_error")
    )

    assert error_types(engine, create(engine, "a", "b", "c")) == {
        "a": "timeout_error",
        "b": "rate_limit_error",
    }


def test_invalid_params_keep_their_own_error_whatever_the_rules() -> None:
    engine = BatchEngine(
        EmulatorConfig(processing_delay=0, fail_first_attempts=(FailRule(".*", 1, "expired"),))
    )
    requests = [make_request("bad", max_tokens=0), make_request("unknown", model="gpt-4o")]
    batch_id = engine.create(json.dumps({"requests": requests}).encode(), BASE)["id"]

    assert error_types(engine, batch_id) == {"bad": "invalid_request_error", "unknown": "not_found_error"}


def test_fail_rules_apply_to_batches_created_after_the_change() -> None:
    clock = FakeClock()
    engine = BatchEngine(EmulatorConfig(processing_delay=10), clock=clock)
    before = create(engine, "a")
    engine.update_config(fail_first_attempts=[{"pattern": "a", "attempts": 5}])
    after = create(engine, "a")

    clock.now = START + 10
    assert outcomes(engine, before) == {"a": "succeeded"}
    assert outcomes(engine, after) == {"a": "errored"}


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        ("doc-000[12]=2", FailRule("doc-000[12]", 2)),
        ("doc-.*=1:expired", FailRule("doc-.*", 1, "expired")),
        ("x=3:errored", FailRule("x", 3)),
        ("big-.*=3:overloaded_error", FailRule("big-.*", 3, "errored", "overloaded_error")),
        ("a=b=1", FailRule("a=b", 1)),
        ({"pattern": "x", "attempts": 2, "outcome": "expired"}, FailRule("x", 2, "expired")),
    ],
)
def test_fail_rules_parse_from_text_and_dicts(spec: Any, rule: FailRule) -> None:
    assert FailRule.parse(spec) == rule
    assert FailRule.parse(rule.to_dict()) == rule


@pytest.mark.parametrize(
    "spec",
    [
        "no-count",
        "x=two",
        "x=0",
        "(=1",
        "=1",
        "x=1:exploded",
        {"pattern": "x", "attempts": 1, "outcome": "expired", "error_type": "api_error"},
        {"pattern": "x", "colour": "red"},
        {"attempts": 1},
        42,
    ],
)
def test_bad_fail_rules_are_refused(spec: Any) -> None:
    with pytest.raises(ValueError, match="fail rule"):
        FailRule.parse(spec)


@pytest.mark.parametrize(
    "settings",
    [
        {"error_type": "oops_error"},
        {"seed": "1"},
        {"seed": True},
        {"queue_limit": 0},
        {"queue_limit": 2.5},
        {"results_ttl": -1},
        {"queue_retry_after": -1},
        {"fail_first_attempts": "x=1"},
        {"fail_first_attempts": [{"pattern": "("}]},
    ],
)
def test_invalid_fault_settings_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must|fail rule"):
        EmulatorConfig(**settings)
