"""The emulator's logic without HTTP: answers, token counts, lifecycle by a fake clock, outcomes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from batchdrop_local.emulator import ApiError, BatchEngine, EmulatorConfig
from batchdrop_local.emulator.answers import ParamsError, answer, summarise
from batchdrop_local.emulator.catalogue import Catalogue
from batchdrop_local.emulator.engine import completion_fraction, planned_outcome
from batchdrop_local.emulator.rules import RequestContext, check_params

from .conftest import make_request

BASE = "http://emulator.test"
START = 1_800_000_000.0


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def params(text: str = "Hello there.", **overrides: Any) -> dict[str, Any]:
    return dict(make_request("x", text, **overrides)["params"])


def respond(request_params: dict[str, Any], message_id: str = "m") -> dict[str, Any]:
    """The answer to params the rules let through (ParamsError for the others), as a batch does."""
    model = check_params(request_params, Catalogue.build(), RequestContext())
    return answer(request_params, message_id, model)


def text_of(message: dict[str, Any]) -> str:
    return str(message["content"][0]["text"])


def document(data: str, title: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": data},
    }
    if title:
        block["title"] = title
    return block


def lines(engine: BatchEngine, batch_id: str) -> dict[str, dict[str, Any]]:
    parsed = [json.loads(line) for line in engine.results(batch_id)]
    return {line["custom_id"]: line["result"] for line in parsed}


def create(engine: BatchEngine, *custom_ids: str) -> str:
    body = json.dumps({"requests": [make_request(custom_id) for custom_id in custom_ids]}).encode()
    return str(engine.create(body, BASE)["id"])


def test_answer_names_model_title_word_count_and_first_sentence() -> None:
    content = [
        document(
            "Revenue grew by 12% in 2024. Costs fell. " + "More detail follows here. " * 20, "Annual report"
        ),
        {"type": "text", "text": "Summarise the report."},
    ]
    message = respond(
        params(model="claude-sonnet-4-6", messages=[{"role": "user", "content": content}]), "msg_1"
    )

    text = text_of(message)
    assert "claude-sonnet-4-6" in text
    assert '"Annual report"' in text
    assert "Revenue grew by 12% in 2024." in text
    assert "91 words" in text  # 7 + 4 * 20 in the document, 3 in the question
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["service_tier"] == "batch"
    assert message["usage"]["cache_read_input_tokens"] == 0


def test_summary_is_first_sentence_or_first_thirty_words() -> None:
    assert summarise("  One short   sentence.  And another.") == "One short sentence."
    long_text = " ".join(f"w{i}" for i in range(50)) + "."
    assert summarise(long_text) == " ".join(f"w{i}" for i in range(30)) + "..."
    assert summarise("") == "(no text content)"


def test_same_params_give_the_same_text_and_usage() -> None:
    first, second = respond(params("Same input."), "msg_a"), respond(params("Same input."), "msg_b")

    assert text_of(first) == text_of(second)
    assert first["usage"] == second["usage"]


def test_input_tokens_grow_with_text_and_with_binary_size() -> None:
    short = respond(params("word " * 10), "m")["usage"]["input_tokens"]
    longer = respond(params("word " * 1000), "m")["usage"]["input_tokens"]
    assert longer - short == pytest.approx((5000 - 50) / 4, abs=2)

    def pdf(size: int) -> dict[str, Any]:
        source = {
            "type": "base64",
            "media_type": "application/pdf",
            "data": base64.b64encode(b"%" * size).decode(),
        }
        content = [{"type": "document", "source": source}, {"type": "text", "text": "Summarise."}]
        return params(messages=[{"role": "user", "content": content}])

    small, large = (respond(pdf(size)) for size in (3_200, 320_000))
    assert large["usage"]["input_tokens"] > 50 * small["usage"]["input_tokens"]
    assert "1 attachment(s) of 320000 bytes" in text_of(large)


def test_system_prompt_counts_towards_input_tokens() -> None:
    plain = respond(params("Hi."), "m")["usage"]["input_tokens"]
    with_system = respond(params("Hi.", system="x" * 400), "m")["usage"]["input_tokens"]
    assert with_system == plain + 100


@pytest.mark.parametrize(
    "overrides",
    [
        {"system": "You answer in JSON only."},
        {"messages": [{"role": "user", "content": "Return a json object describing this."}]},
        {"system": [{"type": "text", "text": "Output JSON."}]},
    ],
)
def test_a_request_for_json_gets_a_json_object(overrides: dict[str, Any]) -> None:
    reply = json.loads(text_of(respond(params(**overrides), "m")))

    assert reply["model"] == "claude-haiku-4-5"
    assert isinstance(reply["word_count"], int)
    assert reply["summary"]


def test_output_over_max_tokens_is_truncated() -> None:
    message = respond(params("A long enough sentence to need several tokens.", max_tokens=3), "m")

    assert message["stop_reason"] == "max_tokens"
    assert message["usage"]["output_tokens"] == 3
    assert len(text_of(message)) == 12


def test_stop_sequence_cuts_the_reply() -> None:
    message = respond(params(stop_sequences=["Summary", "zzz"]), "m")

    assert message["stop_reason"] == "stop_sequence"
    assert message["stop_sequence"] == "Summary"
    assert "Summary" not in text_of(message)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"messages": []}, "messages"),
        ({"model": 42}, "model"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 64_001}, "max_tokens"),
        ({"max_tokens": "100"}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"stream": True}, "stream"),
        ({"messages": [{"role": "system", "content": "hi"}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": [{"text": "no type"}]}]}, "messages.0.content.0.type"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "base64", "data": "!"}}],
                    }
                ]
            },
            "messages.0.content.0.source.data",
        ),
    ],
)
def test_invalid_params_raise_with_the_field_name(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ParamsError, match=rf"^{field}: "):
        respond(params(**overrides), "m")


@pytest.mark.parametrize("missing", ["messages", "model", "max_tokens"])
def test_missing_params_fields_are_reported(missing: str) -> None:
    incomplete = params()
    del incomplete[missing]
    with pytest.raises(ParamsError, match=f"^{missing}: Field required"):
        respond(incomplete, "m")


def test_batch_is_in_progress_until_the_delay_then_ended_at_exactly_created_plus_delay() -> None:
    clock = FakeClock()
    engine = BatchEngine(EmulatorConfig(processing_delay=10), clock=clock)
    batch_id = create(engine, "a", "b", "c")

    clock.now = START + 9.999
    batch = engine.retrieve(batch_id, BASE)
    assert batch["processing_status"] == "in_progress"
    assert batch["request_counts"] == {
        "processing": 3,
        "succeeded": 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert batch["results_url"] is None
    with pytest.raises(ApiError) as not_yet:
        engine.results(batch_id)
    assert not_yet.value.status == 404

    clock.now = START + 10
    batch = engine.retrieve(batch_id, BASE)
    assert batch["processing_status"] == "ended"
    assert batch["ended_at"] == "2027-01-15T08:00:10.000000Z"
    assert batch["created_at"] == "2027-01-15T08:00:00.000000Z"
    assert batch["expires_at"] == "2027-01-16T08:00:00.000000Z"
    assert batch["request_counts"]["succeeded"] == 3
    assert batch["results_url"] == f"{BASE}/v1/messages/batches/{batch_id}/results"
    assert set(lines(engine, batch_id)) == {"a", "b", "c"}


def test_cancel_keeps_the_requests_done_before_it_and_cancels_the_rest() -> None:
    clock = FakeClock()
    engine = BatchEngine(EmulatorConfig(processing_delay=100, cancel_grace=1), clock=clock)
    custom_ids = [f"req-{i}" for i in range(40)]
    batch_id = create(engine, *custom_ids)

    clock.now = START + 50
    canceling = engine.cancel(batch_id, BASE)
    assert canceling["processing_status"] == "canceling"
    assert canceling["cancel_initiated_at"] == "2027-01-15T08:00:50.000000Z"
    assert engine.cancel(batch_id, BASE) == canceling  # canceling twice changes nothing

    clock.now = START + 51
    ended = engine.retrieve(batch_id, BASE)
    assert ended["processing_status"] == "ended"
    assert ended["ended_at"] == "2027-01-15T08:00:51.000000Z"
    results = lines(engine, batch_id)
    expected = {cid: "succeeded" if completion_fraction(cid) <= 0.5 else "canceled" for cid in custom_ids}
    assert {cid: result["type"] for cid, result in results.items()} == expected
    assert 0 < ended["request_counts"]["canceled"] < 40
    with pytest.raises(ApiError, match="already ended") as too_late:
        engine.cancel(batch_id, BASE)
    assert too_late.value.status == 400


def test_requests_unfinished_after_24_hours_expire() -> None:
    clock = FakeClock()
    engine = BatchEngine(EmulatorConfig(processing_delay=48 * 3600), clock=clock)
    custom_ids = [f"slow-{i}" for i in range(30)]
    batch_id = create(engine, *custom_ids)

    clock.now = START + 24 * 3600
    assert engine.retrieve(batch_id, BASE)["processing_status"] == "ended"
    expected = {cid: "succeeded" if completion_fraction(cid) <= 0.5 else "expired" for cid in custom_ids}
    assert {cid: r["type"] for cid, r in lines(engine, batch_id).items()} == expected


def test_results_are_archived_after_29_days() -> None:
    clock = FakeClock()
    engine = BatchEngine(EmulatorConfig(processing_delay=1), clock=clock)
    batch_id = create(engine, "a")

    clock.now = START + 29 * 24 * 3600
    assert engine.retrieve(batch_id, BASE)["archived_at"] == "2027-02-13T08:00:00.000000Z"
    with pytest.raises(ApiError, match="archived"):
        engine.results(batch_id)


def test_outcomes_follow_the_rates_and_a_resubmission_draws_again() -> None:
    draws = [planned_outcome(f"doc-{i}", 1, 0.2, 0.1) for i in range(4000)]

    assert draws.count("errored") / 4000 == pytest.approx(0.2, abs=0.03)
    assert draws.count("expired") / 4000 == pytest.approx(0.1, abs=0.03)
    assert planned_outcome("doc-1", 1, 0.2, 0.1) == draws[1]
    retried = [planned_outcome(f"doc-{i}", 2, 0.2, 0.1) for i in range(4000)]
    assert retried != draws


def test_submissions_are_counted_per_custom_id_and_set_the_attempt() -> None:
    engine = BatchEngine(EmulatorConfig(processing_delay=0, error_rate=0.5))
    first = create(engine, *(f"r{i}" for i in range(20)))
    second = create(engine, *(f"r{i}" for i in range(20)))

    stats = engine.stats()
    assert stats["batches_created"] == 2
    assert stats["requests_by_custom_id"] == {f"r{i}": 2 for i in range(20)}
    for batch_id, attempt in ((first, 1), (second, 2)):
        got = {cid: result["type"] for cid, result in lines(engine, batch_id).items()}
        assert got == {f"r{i}": planned_outcome(f"r{i}", attempt, 0.5, 0.0) for i in range(20)}


def test_results_are_not_in_submission_order_but_stable() -> None:
    engine = BatchEngine(EmulatorConfig(processing_delay=0))
    custom_ids = [f"r{i:02d}" for i in range(20)]
    orders = []
    for _ in range(2):
        batch_id = create(engine, *custom_ids)
        orders.append([json.loads(line)["custom_id"] for line in engine.results(batch_id)])

    assert orders[0] == orders[1]
    assert orders[0] != custom_ids
    assert sorted(orders[0]) == custom_ids


def test_list_cursors_work_in_both_directions_and_survive_deletion() -> None:
    engine = BatchEngine(EmulatorConfig(processing_delay=0))
    ids = [create(engine, "a") for _ in range(5)]  # oldest first
    newest_first = ids[::-1]

    page = engine.list_batches(BASE, limit=2, after_id=newest_first[1])
    assert [b["id"] for b in page["data"]] == newest_first[2:4]
    assert page["has_more"] is True
    page = engine.list_batches(BASE, limit=2, before_id=newest_first[3])
    assert [b["id"] for b in page["data"]] == newest_first[1:3]
    assert (page["first_id"], page["last_id"], page["has_more"]) == (newest_first[1], newest_first[2], True)

    engine.delete(newest_first[1])
    page = engine.list_batches(BASE, after_id=newest_first[1])
    assert [b["id"] for b in page["data"]] == newest_first[2:]
    assert page["has_more"] is False
    with pytest.raises(ApiError, match="after_id"):
        engine.list_batches(BASE, after_id="msgbatch_unknown")


def test_config_changes_apply_to_batches_created_afterwards() -> None:
    clock = FakeClock()
    engine = BatchEngine(EmulatorConfig(processing_delay=100), clock=clock)
    slow = create(engine, "a")
    engine.update_config(processing_delay=0)
    fast = create(engine, "a")

    assert engine.retrieve(fast, BASE)["processing_status"] == "ended"
    assert engine.retrieve(slow, BASE)["processing_status"] == "in_progress"
    with pytest.raises(ValueError, match="unknown setting"):
        engine.update_config(speed=3)


@pytest.mark.parametrize(
    "settings",
    [
        {"processing_delay": -1},
        {"error_rate": 1.5},
        {"error_rate": 0.6, "expire_rate": 0.6},
        {"max_body_bytes": 0},
        {"api_key": ""},
        {"processing_delay": float("nan")},
    ],
)
def test_invalid_config_is_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        EmulatorConfig(**settings)
