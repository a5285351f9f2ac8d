"""The job lifecycle as a state machine (domain.lifecycle): what it allows, that every state is
reachable from a new job and the final ones are left by no move, and that the DynamoDB
adapter's conditional writes are built from it (their source states, their target) and from
nothing else."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from batchdrop.adapters.dynamodb_jobs import JobStore
from batchdrop.domain.lifecycle import (
    BY_ACTION,
    FINAL_STATES,
    GUARD_BY_ACTION,
    GUARDS,
    OPEN_STATES,
    TRANSITIONS,
    JobState,
    allowed,
    is_retake,
    moves_from,
)
from tests.fakes import summary_of

S = JobState
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def test_allowed_names_the_moves_and_only_those() -> None:
    assert allowed(None, S.SUBMITTING)
    assert not allowed(None, S.SUBMITTED)
    assert allowed(S.SUBMITTING, S.SUBMITTED) and allowed(S.SUBMITTING, S.ABANDONED)
    assert allowed(S.ENDING, S.SUBMITTED)  # release_ended
    assert allowed(S.COMPLETING, S.SUBMITTING)  # disown_batch
    assert not allowed(S.SUBMITTED, S.COMPLETED)
    assert not allowed(S.SUBMITTING, S.ENDED)
    assert not allowed(S.ENDED, S.SUBMITTED)


def test_moves_from_each_state() -> None:
    def actions(state: JobState) -> set[str]:
        return {t.action for t in moves_from(state)}

    assert actions(S.SUBMITTING) == {"record_submitted", "give_up_creation", "abandon"}
    assert actions(S.SUBMITTED) == {"claim_ended"}
    assert actions(S.HELD) == {"merge_held", "release_hold"}
    assert actions(S.ENDING) == {"claim_ended", "release_ended", "mark_ended", "claim_completion"}
    assert actions(S.ENDED) == {"claim_completion"}
    assert actions(S.COMPLETING) == {
        "claim_completion",
        "release_completion",
        "disown_batch",
        "mark_completed",
    }


def test_every_state_is_reachable_from_a_new_job() -> None:
    reached = {t.target for t in TRANSITIONS if not t.source}
    frontier = set(reached)
    while frontier:
        frontier = {t.target for state in frontier for t in moves_from(state)} - reached
        reached |= frontier
    assert reached == set(JobState)


def test_completed_abandoned_and_merged_are_final_and_every_other_state_is_open() -> None:
    assert {S.COMPLETED, S.ABANDONED, S.MERGED} == FINAL_STATES
    for state in FINAL_STATES:
        assert moves_from(state) == []
    assert set(JobState) - FINAL_STATES == OPEN_STATES
    # every open state can be left, so no job is stuck by the machine itself
    assert all(moves_from(state) for state in OPEN_STATES)


def test_the_retakes_are_the_two_claims() -> None:
    assert {t.action for t in TRANSITIONS if is_retake(t)} == {"claim_ended", "claim_completion"}


def test_actions_are_unique_and_guards_are_not_moves() -> None:
    assert len(BY_ACTION) == len(TRANSITIONS)
    assert len(GUARD_BY_ACTION) == len(GUARDS)
    assert not set(BY_ACTION) & set(GUARD_BY_ACTION)


# --- the adapter's conditions are the lifecycle's -------------------------------------------------


class RecordingTable:
    """A table that records each update and put and lets every condition hold."""

    name = "jobs"

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.puts: list[dict[str, Any]] = []

    def update_item(self, **kwargs: Any) -> None:
        self.updates.append(kwargs)

    def put_item(self, **kwargs: Any) -> None:
        self.puts.append(kwargs)

    def delete_item(self, **kwargs: Any) -> None:
        pass

    @property
    def meta(self) -> Any:
        table = self

        class Client:
            def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> None:
                table.puts += [item["Put"] for item in TransactItems if "Put" in item]
                table.updates += [item["Update"] for item in TransactItems if "Update" in item]

        class Meta:
            client = Client()

        return Meta()


SUMMARY = summary_of(cost={"batch": 0.1, "standard": 0.2, "savings": 0.1, "complete": True}, summary_key="k")
# Each lifecycle action as the adapter is called for it.
CALLS: dict[str, Any] = {
    "record_submitted": lambda s: s.record_submitted("j", "b", "e", "c", NOW),
    "give_up_creation": lambda s: s.give_up_creation("j", NOW, "why", "owner"),
    "abandon": lambda s: s.abandon("j", NOW, "why"),
    "claim_ended": lambda s: s.claim_ended("j", NOW, LEASE),
    "release_ended": lambda s: s.release_ended("j", NOW),
    "mark_ended": lambda s: s.mark_ended("j", NOW),
    "claim_completion": lambda s: s.claim_completion("j", NOW, LEASE),
    "release_completion": lambda s: s.release_completion("j", NOW),
    "disown_batch": lambda s: s.disown_batch("j", "b", NOW),
    "mark_completed": lambda s: s.mark_completed("j", NOW, SUMMARY),
    "claim_creation": lambda s: s.claim_creation("j", NOW, LEASE, "owner"),
    "note_create_call": lambda s: s.note_create_call("j", NOW, "owner", LEASE),
    "record_waiting": lambda s: s.record_waiting("j", NOW, NOW, "why", "owner"),
    "update_progress": lambda s: s.update_progress("j", "in_progress", {}, NOW),
    "claim_redrive": lambda s: s.claim_redrive("j", NOW, LEASE),
    "release_hold": lambda s: s.release_hold("j", NOW, LEASE, "owner"),
    "merge_held": lambda s: s.record_job("n", "m", NOW, LEASE, "owner", None, ["j"]),
}
# The moves that write a new job (a put), not an update of one.
FIRST_MOVES = {"record_intent", "record_held"}


def _status_states(update: dict[str, Any]) -> set[JobState]:
    """The states a write's condition compares the status (#s) with, as written in it."""
    condition = update["ConditionExpression"]
    values = update["ExpressionAttributeValues"]
    compared = re.findall(r"#s = (:\w+)", condition)
    for group in re.findall(r"#s IN \(([^)]*)\)", condition):
        compared += [name.strip() for name in group.split(",")]
    return {JobState(values[name]) for name in compared}


def _set_status(update: dict[str, Any]) -> JobState | None:
    match = re.search(r"SET #s = (:\w+)", update["UpdateExpression"])
    return JobState(update["ExpressionAttributeValues"][match.group(1)]) if match else None


def test_every_lifecycle_action_and_guard_has_a_call_here() -> None:
    assert set(CALLS) == (set(BY_ACTION) - FIRST_MOVES) | set(GUARD_BY_ACTION)


@pytest.mark.parametrize("action", sorted(set(BY_ACTION) - FIRST_MOVES))
def test_each_move_is_conditioned_on_its_sources_and_sets_its_target(action: str) -> None:
    table = RecordingTable()
    CALLS[action](JobStore(table))  # type: ignore[arg-type]
    (update,) = table.updates
    transition = BY_ACTION[action]
    assert _status_states(update) == transition.source
    assert _set_status(update) == transition.target
    if is_retake(transition):  # from its own target only once the claim is stale
        assert re.search(r"\(#s = :\w+ AND \w+_claimed_at < :stale\)", update["ConditionExpression"])


@pytest.mark.parametrize("action", sorted(GUARD_BY_ACTION))
def test_each_guarded_write_keeps_the_state_and_is_conditioned_on_its_guard(action: str) -> None:
    table = RecordingTable()
    CALLS[action](JobStore(table))  # type: ignore[arg-type]
    (update,) = table.updates
    assert _status_states(update) == GUARD_BY_ACTION[action].states
    assert _set_status(update) is None and "#s" not in update["UpdateExpression"]


def test_a_new_job_is_written_in_the_first_state_only_where_none_exists() -> None:
    table = RecordingTable()
    JobStore(table).record_intent("j", "m", NOW, LEASE, "owner")  # type: ignore[arg-type]
    (put,) = table.puts
    assert put["Item"]["status"] == BY_ACTION["record_intent"].target
    assert put["ConditionExpression"] == "attribute_not_exists(job_id)"


@pytest.mark.parametrize("held", [False, True])
def test_a_job_recorded_with_held_jobs_to_take_over_is_one_transaction(held: bool) -> None:
    # Given a new job (held until a time, or not) that takes over two held jobs, When it is
    # recorded, Then its put (in its first state, where none exists) and each held job's move
    # to merged (conditioned on held) are written together, and the merged ones leave the index.
    table = RecordingTable()
    until = NOW + LEASE if held else None
    JobStore(table).record_job("n", "m", NOW, LEASE, "owner", until, ["h1", "h2"])  # type: ignore[arg-type]
    (put,) = table.puts
    assert put["Item"]["status"] == BY_ACTION["record_held" if held else "record_intent"].target
    assert (
        put["Item"]["merged"] == ["h1", "h2"] and put["ConditionExpression"] == "attribute_not_exists(job_id)"
    )
    assert ("held_until" in put["Item"]) is held
    assert [u["Key"]["job_id"] for u in table.updates] == ["h1", "h2"]
    for update in table.updates:
        assert _status_states(update) == {S.HELD} and _set_status(update) == S.MERGED
        assert "REMOVE open_flag" in update["UpdateExpression"]
        assert update["ExpressionAttributeValues"][":into"] == "n"


def test_no_write_outside_the_lifecycle_touches_the_status() -> None:
    table = RecordingTable()
    store = JobStore(table)  # type: ignore[arg-type]
    store.mark_cancel_requested("j", NOW)
    store.settle_create_call("j", NOW)
    assert all("#s" not in u["UpdateExpression"] for u in table.updates)
