"""Structured outputs through the real Complete handler, moto and the emulator over HTTP: a schema
answer valid at once, one invalid and then valid (asked again with its errors), one invalid on
every attempt (an .error.json with the answer and the errors), and one cut off by max_tokens."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.harness import Stack
from tests.integration.structured_harness import (
    CUT_OFF,
    RECEIPT_SCHEMA,
    VALID,
    WRONG_TYPE,
    ScriptedAnswers,
    ended_event,
    jobs,
    put_extract_profile,
    rows_by_source,
    submit_and_end,
    summary_of,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

RECEIPT = "inbox/extract/receipts/{name}.txt"


def _receipt(name: str) -> tuple[str, str]:
    return RECEIPT.format(name=name), f"Receipt {name}: Café Ribeira, 2 bicas, total 7,50 EUR."


def _complete_follow_up(stack: Stack, job_id: str) -> dict[str, Any]:
    follow_up = jobs(stack)[job_id]
    summary: dict[str, Any] = stack.handler("CompleteFunction")(
        ended_event(stack, job_id, follow_up["batch_id"])
    )
    return summary


def test_a_valid_answer_is_written_as_its_json(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = ScriptedAnswers({"Receipt valid": [(VALID, "end_turn")]}).install(monkeypatch)
    put_extract_profile(stack)
    key, text = _receipt("valid")
    event = submit_and_end(stack, {key: text})

    summary = stack.handler("CompleteFunction")(event)

    assert summary["counts"]["succeeded"] == 1 and summary["retried_in"] is None
    assert answers.rounds_of("Receipt valid") == [0]
    answer = "results/extract/receipts/valid.txt.json"
    assert stack.keys("results/") == [answer]
    assert json.loads(stack.get_text(answer)) == {"merchant": "Café Ribeira", "total": 7.5}
    (row,) = rows_by_source(stack, event["detail"]["job_id"]).values()
    assert json.loads(row["extracted"]) == {"merchant": "Café Ribeira", "total": 7.5}
    assert (row["outcome"], row["result_key"], row["thinking_tokens"]) == ("succeeded", answer, 11)


def test_an_invalid_answer_is_asked_again_with_its_errors_and_the_valid_one_is_kept(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a receipt whose first answer has the total as a string, and whose second is valid
    answers = ScriptedAnswers({"Receipt once": [(WRONG_TYPE, "end_turn"), (VALID, "end_turn")]}).install(
        monkeypatch
    )
    put_extract_profile(stack)
    key, text = _receipt("once")
    event = submit_and_end(stack, {key: text})
    job_id = event["detail"]["job_id"]

    # When the job completes
    first = stack.handler("CompleteFunction")(event)

    # Then nothing is written for it yet; it is billed, and asked again in the follow-up job
    assert first["counts"]["retried"] == 1 and first["retried_in"] == f"{job_id}-a2"
    assert stack.keys("results/") == []
    (sent,) = stack.emulator.engine.batch_requests(jobs(stack)[f"{job_id}-a2"]["batch_id"])
    # The params are the job's requests.jsonl's (as Submit recorded them), plus two turns
    (original,) = [json.loads(line) for line in stack.get_text(f"jobs/{job_id}/requests.jsonl").splitlines()]
    user, assistant, feedback = sent["params"]["messages"]
    assert user == original["params"]["messages"][0]
    assert {k: v for k, v in sent["params"].items() if k != "messages"} == {
        k: v for k, v in original["params"].items() if k != "messages"
    }
    assert assistant == {"role": "assistant", "content": [{"type": "text", "text": WRONG_TYPE}]}
    prompt = feedback["content"][0]["text"]
    assert feedback["role"] == "user"
    assert "- $.total: '7,50' is not of type 'number'" in prompt.splitlines()
    first_row = rows_by_source(stack, job_id)[key]
    assert (first_row["outcome"], first_row["error_type"], first_row["retried_in"]) == (
        "retried",
        "invalid_output",
        f"{job_id}-a2",
    )
    # The invalid answer was billed: its row has its tokens (JobSummary.record_retry bills it too).
    assert first_row["output_tokens"] > 0 and first_row["thinking_tokens"] == 11

    # When the follow-up ends, its valid answer is the document's result
    second = _complete_follow_up(stack, f"{job_id}-a2")
    assert second["counts"]["succeeded"] == 1 and second["retried_in"] is None
    assert answers.rounds_of("Receipt once") == [0, 1]
    assert json.loads(stack.get_text("results/extract/receipts/once.txt.json"))["total"] == 7.5
    row = rows_by_source(stack, f"{job_id}-a2")[key]
    assert (row["outcome"], row["attempt"]) == ("succeeded", 2)


def test_an_answer_invalid_on_every_attempt_ends_in_an_error_with_the_answer_and_the_errors(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = ScriptedAnswers({"Receipt never": [(WRONG_TYPE, "end_turn")]}).install(monkeypatch)
    notifications = stack.capture_queue("structured-notifications")
    stack.client("sns").subscribe(
        TopicArn=stack.resources.names["NotificationTopic"],
        Protocol="sqs",
        Endpoint=stack.queue_arn(notifications),
    )
    put_extract_profile(stack)
    key, text = _receipt("never")
    event = submit_and_end(stack, {key: text})
    job_id = event["detail"]["job_id"]
    complete = stack.handler("CompleteFunction", MAX_ATTEMPTS="3")

    # When the job and its two follow-ups complete
    complete(event)
    complete(ended_event(stack, f"{job_id}-a2", jobs(stack)[f"{job_id}-a2"]["batch_id"]))
    last = complete(ended_event(stack, f"{job_id}-a3", jobs(stack)[f"{job_id}-a3"]["batch_id"]))

    # Then three rounds were asked, the third with both earlier answers and their errors
    assert answers.rounds_of("Receipt never") == [0, 1, 2]
    assert [m["role"] for m in answers.seen[-1][2]["messages"]] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    # And the last attempt's outcome is an .error.json keeping the answer and the errors
    assert last["counts"]["invalid_output"] == 1 and last["retried_in"] is None
    assert stack.keys("results/") == ["results/extract/receipts/never.txt.error.json"]
    error = json.loads(stack.get_text("results/extract/receipts/never.txt.error.json"))
    assert error["result_type"] == "invalid_output" and error["error"]["type"] == "invalid_output"
    assert error["answer"] == WRONG_TYPE
    assert error["validation_errors"] == ["$.total: '7,50' is not of type 'number'"]
    assert "asked 3 times in all" in error["reason"]
    (summary_error,) = summary_of(stack, f"{job_id}-a3")["errors"]
    assert summary_error["type"] == "invalid_output" and "$.total" in summary_error["message"]
    row = rows_by_source(stack, f"{job_id}-a3")[key]
    assert (row["outcome"], row["attempt"], row["result_key"]) == (
        "invalid_output",
        3,
        "results/extract/receipts/never.txt.error.json",
    )
    assert row["extracted"] is None and row["output_tokens"] > 0
    subjects = [n["Subject"] for n in stack.drain(notifications)]
    assert f"batchdrop job {job_id}-a3: 0 of 1 documents answered, 1 failed" in subjects


def test_an_answer_cut_off_by_max_tokens_is_asked_again_for_a_shorter_one(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = ScriptedAnswers({"Receipt cut": [(CUT_OFF, "max_tokens"), (VALID, "end_turn")]}).install(
        monkeypatch
    )
    put_extract_profile(stack)
    key, text = _receipt("cut")
    event = submit_and_end(stack, {key: text})
    job_id = event["detail"]["job_id"]

    first = stack.handler("CompleteFunction")(event)

    assert first["counts"]["retried"] == 1
    (sent,) = stack.emulator.engine.batch_requests(jobs(stack)[f"{job_id}-a2"]["batch_id"])
    prompt = sent["params"]["messages"][-1]["content"][0]["text"]
    assert "cut off by the max_tokens limit" in prompt and "more concisely" in prompt
    row = rows_by_source(stack, job_id)[key]
    assert (row["error_type"], row["stop_reason"]) == ("max_tokens", "max_tokens")
    second = _complete_follow_up(stack, f"{job_id}-a2")
    assert second["counts"]["succeeded"] == 1 and answers.rounds_of("Receipt cut") == [0, 1]


def test_a_cut_off_answer_on_the_last_attempt_says_it_was_cut_off(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    ScriptedAnswers({"Receipt short": [(CUT_OFF, "max_tokens")]}).install(monkeypatch)
    put_extract_profile(stack)
    key, text = _receipt("short")
    event = submit_and_end(stack, {key: text})

    summary = stack.handler("CompleteFunction", MAX_ATTEMPTS="1")(event)

    assert summary["counts"]["invalid_output"] == 1
    error = json.loads(stack.get_text("results/extract/receipts/short.txt.error.json"))
    assert error["error"]["type"] == "max_tokens" and error["stop_reason"] == "max_tokens"
    assert error["answer"] == CUT_OFF
    assert error["validation_errors"][0] == "$: the answer was cut off by max_tokens before it was complete"


def test_a_json_profile_without_a_schema_keeps_working_as_before(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # output_format json, no schema: an answer that is not JSON is an invalid_json error at once.
    ScriptedAnswers({"Receipt plain": [("The total is 7,50 EUR.", "end_turn")]}).install(monkeypatch)
    put_extract_profile(stack)
    key, text = _receipt("plain")
    event = submit_and_end(stack, {key: text}, schema_profile=None)

    summary = stack.handler("CompleteFunction")(event)

    assert summary["counts"]["invalid_json"] == 1 and summary["retried_in"] is None
    error = json.loads(stack.get_text("results/extract/receipts/plain.txt.error.json"))
    assert error["result_type"] == "invalid_json" and error["answer"] == "The total is 7,50 EUR."


# --- the emulator's own structured answers (output_config.format) in the follow-ups -------------


def test_the_follow_up_asked_with_output_config_gets_a_schema_valid_answer(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a first answer that fails the schema; the follow-up is answered by the emulator itself
    answers = ScriptedAnswers({"Receipt emulated": [(WRONG_TYPE, "end_turn"), None]}).install(monkeypatch)
    put_extract_profile(stack)
    key, text = _receipt("emulated")
    event = submit_and_end(stack, {key: text})
    job_id = event["detail"]["job_id"]
    stack.handler("CompleteFunction")(event)

    # When the follow-up (with output_config.format and the errors) completes
    (sent,) = stack.emulator.engine.batch_requests(jobs(stack)[f"{job_id}-a2"]["batch_id"])
    assert sent["params"]["output_config"]["format"]["schema"] == RECEIPT_SCHEMA
    second = _complete_follow_up(stack, f"{job_id}-a2")

    # Then the emulator's answer matched the schema, checked here with jsonschema
    assert second["counts"]["succeeded"] == 1 and answers.rounds_of("Receipt emulated") == [0, 1]
    answer = json.loads(stack.get_text("results/extract/receipts/emulated.txt.json"))
    assert set(answer) == {"merchant", "total"} and isinstance(answer["total"], int | float)
    row = rows_by_source(stack, f"{job_id}-a2")[key]
    assert json.loads(row["extracted"]) == answer


def test_the_emulators_deliberately_invalid_answers_end_in_an_error_with_them(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the emulator spoils every structured answer (invalid_output_rate 1)
    ScriptedAnswers({"Receipt spoiled": [(WRONG_TYPE, "end_turn"), None]}).install(monkeypatch)
    stack.emulator.update_config(invalid_output_rate=1.0)
    put_extract_profile(stack)
    key, text = _receipt("spoiled")
    event = submit_and_end(stack, {key: text})
    job_id = event["detail"]["job_id"]
    complete = stack.handler("CompleteFunction", MAX_ATTEMPTS="2")
    complete(event)

    last = complete(ended_event(stack, f"{job_id}-a2", jobs(stack)[f"{job_id}-a2"]["batch_id"]))

    # Then the last attempt's answer (JSON, but not the schema's) is kept with its errors
    assert last["counts"]["invalid_output"] == 1
    error = json.loads(stack.get_text("results/extract/receipts/spoiled.txt.error.json"))
    assert error["answer"] != WRONG_TYPE and error["validation_errors"]
    assert all(e.startswith("$") for e in error["validation_errors"])
    json.loads(error["answer"])  # the emulator's spoiled answer is still JSON


# --- end to end from the profile: Submit's preflight makes the schema copy and output_config ------


def _put_schema_profile(stack: Stack) -> None:
    stack.put_document(
        "profiles/receipts.json",
        json.dumps(
            {
                "model": "claude-sonnet-5-5",
                "max_tokens": 1024,
                "output_schema": RECEIPT_SCHEMA,
                "instruction": "Extract the receipt's merchant and total.",
            }
        ),
    )


def test_a_schema_profile_from_submit_to_complete_is_validated(stack: Stack) -> None:
    # Given a profile with an inline output_schema (Submit copies it and asks for output_config)
    _put_schema_profile(stack)
    key = "inbox/receipts/cafe.txt"
    event = submit_and_end(stack, {key: "Café Ribeira, 2 bicas, total 7,50 EUR."}, schema_profile=None)
    job_id = event["detail"]["job_id"]

    summary = stack.handler("CompleteFunction")(event)

    # Then the emulator's schema answer was checked against the job's copy and written as JSON
    assert summary["counts"]["succeeded"] == 1
    answer = json.loads(stack.get_text("results/receipts/cafe.txt.json"))
    assert set(answer) == {"merchant", "total"}
    row = rows_by_source(stack, job_id)[key]
    assert json.loads(row["extracted"]) == answer and row["settings_hash"] and row["content_sha256"]


def test_a_schema_profile_whose_answers_are_always_invalid_ends_in_an_error(stack: Stack) -> None:
    stack.emulator.update_config(invalid_output_rate=1.0)
    _put_schema_profile(stack)
    key = "inbox/receipts/cafe.txt"
    event = submit_and_end(stack, {key: "Café Ribeira, 2 bicas, total 7,50 EUR."}, schema_profile=None)
    job_id = event["detail"]["job_id"]
    complete = stack.handler("CompleteFunction", MAX_ATTEMPTS="2")

    first = complete(event)
    assert first["counts"]["retried"] == 1
    (sent,) = stack.emulator.engine.batch_requests(jobs(stack)[f"{job_id}-a2"]["batch_id"])
    assert [m["role"] for m in sent["params"]["messages"]] == ["user", "assistant", "user"]
    last = complete(ended_event(stack, f"{job_id}-a2", jobs(stack)[f"{job_id}-a2"]["batch_id"]))

    assert last["counts"]["invalid_output"] == 1
    error = json.loads(stack.get_text("results/receipts/cafe.txt.error.json"))
    assert error["result_type"] == "invalid_output" and error["validation_errors"]
