"""The job lifecycle over the jobs table in moto, with the real adapter: a job is driven through
every move of domain.lifecycle.TRANSITIONS, and at each state every move the lifecycle does not
allow from it is refused (returns False) and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from batchdrop.adapters.dynamodb_jobs import JobStore
from batchdrop.domain.lifecycle import BY_ACTION, TRANSITIONS, JobState, is_retake
from batchdrop.domain.times import iso
from tests.fakes import summary_of
from tests.integration.harness import Stack

S = JobState
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
OWNER = "submit-token"
SUMMARY = summary_of(
    cost={"batch": 0.1, "standard": 0.2, "savings": 0.1, "complete": True},
    counts={"succeeded": 1},
    tokens={"input": 10},
    summary_key="jobs/j/summary.json",
)
Move = Callable[[JobStore, str, datetime], bool]
# Each move as its caller makes it (the batch is "b-<job>"; the creation held by OWNER).
MOVES: dict[str, Move] = {
    "record_submitted": lambda s, j, now: s.record_submitted(j, f"b-{j}", iso(now), iso(now), now),
    "give_up_creation": lambda s, j, now: s.give_up_creation(j, now, "no batch", OWNER),
    "abandon": lambda s, j, now: s.abandon(j, now, "no requests"),
    "claim_ended": lambda s, j, now: s.claim_ended(j, now, LEASE),
    "release_ended": lambda s, j, now: s.release_ended(j, now),
    "mark_ended": lambda s, j, now: s.mark_ended(j, now),
    "claim_completion": lambda s, j, now: s.claim_completion(j, now, LEASE),
    "release_completion": lambda s, j, now: s.release_completion(j, now),
    "disown_batch": lambda s, j, now: s.disown_batch(j, f"b-{j}", now),
    "mark_completed": lambda s, j, now: s.mark_completed(j, now, SUMMARY),
    "release_hold": lambda s, j, now: s.release_hold(j, now, LEASE, OWNER),
}
# A path from (new) through every move: (action, the state it leaves the job in).
PATH = [
    ("record_submitted", S.SUBMITTED),
    ("claim_ended", S.ENDING),
    ("release_ended", S.SUBMITTED),
    ("claim_ended", S.ENDING),
    ("claim_completion", S.COMPLETING),  # Complete took it before Poll marked it ended
    ("release_completion", S.ENDED),
    ("claim_completion", S.COMPLETING),
    ("disown_batch", S.SUBMITTING),
    ("give_up_creation", S.SUBMITTED),
    ("claim_ended", S.ENDING),
    ("mark_ended", S.ENDED),
    ("claim_completion", S.COMPLETING),
    ("mark_completed", S.COMPLETED),
]


def _status(table: Any, job_id: str) -> JobState:
    return JobState(table.get_item(Key={"job_id": job_id}, ConsistentRead=True)["Item"]["status"])


def _refused_from_here(store: JobStore, table: Any, job_id: str, now: datetime) -> list[str]:
    """Try every move the lifecycle does not allow from the job's state: each must be refused
    and leave the item as it was. Returns the moves tried."""
    state = _status(table, job_id)
    before = table.get_item(Key={"job_id": job_id}, ConsistentRead=True)["Item"]
    tried = []
    for action, move in MOVES.items():
        if state in BY_ACTION[action].source:
            continue
        assert move(store, job_id, now) is False, f"{action} from {state} was allowed"
        assert table.get_item(Key={"job_id": job_id}, ConsistentRead=True)["Item"] == before
        tried.append(action)
    return tried


def test_a_job_goes_through_every_move_and_every_illegal_move_is_refused(stack: Stack) -> None:
    table = stack.table
    store = JobStore(table)
    job_id = "20261201T120000Z-lifecycle"
    store.record_intent(job_id, f"jobs/{job_id}/manifest.jsonl", NOW, LEASE, OWNER, requests=1)
    assert _status(table, job_id) == BY_ACTION["record_intent"].target
    made = {"record_intent"}
    refused = 0
    now = NOW
    for action, expected in PATH:
        refused += len(_refused_from_here(store, table, job_id, now))
        now += timedelta(seconds=1)
        assert MOVES[action](store, job_id, now), f"{action} from {_status(table, job_id)} was refused"
        assert _status(table, job_id) == expected == BY_ACTION[action].target
        made.add(action)
    # every move but abandon, which ends a job another way (test_abandoned_is_final)
    assert made == {t.action for t in TRANSITIONS} - {"abandon", *HOLD_MOVES}  # those: tests below
    # completed is final: every move is refused from it
    assert len(_refused_from_here(store, table, job_id, now)) == len(MOVES)
    assert refused > 0


HOLD_MOVES = {"record_held", "merge_held", "release_hold"}


def test_a_held_job_is_taken_over_or_released_once_and_merged_is_final(stack: Stack) -> None:
    # Given two jobs held below Bedrock's minimum (record_held), in moto's real table
    table = stack.table
    store = JobStore(table)
    until = NOW + LEASE
    for held in ("h1", "h2"):
        store.record_job(held, "m", NOW, LEASE, OWNER, until, (), hold_key="bedrock|m|p", requests=1)
        assert _status(table, held) == BY_ACTION["record_held"].target
    assert sorted(j.job_id for j in store.open_jobs()) == ["h1", "h2"]
    # Not before its wait is over, then once: h2 is released (release_hold)
    assert not store.release_hold("h2", NOW, LEASE, OWNER)
    assert store.release_hold("h2", until, LEASE, "poll", backend="bedrock-on-demand")
    assert not store.release_hold("h2", until, LEASE, "poll")
    released = store.get("h2")
    assert released is not None and (released.status, released.backend) == (S.SUBMITTING, "bedrock-on-demand")
    # A job taking both over fails whole: h2 is no longer held; nothing is written
    from batchdrop.ports.jobs import HoldChanged

    with pytest.raises(HoldChanged):
        store.record_job("n1", "m", NOW, LEASE, OWNER, None, ("h1", "h2"), requests=3)
    assert store.get("n1") is None and _status(table, "h1") == S.HELD
    # Taking h1 alone over: the new job and h1's move to merged, in one transaction
    store.record_job("n1", "m", NOW, LEASE, OWNER, None, ("h1",), requests=2)
    merged = store.get("h1")
    assert merged is not None and (merged.status, merged.merged_into) == (S.MERGED, "n1")
    assert store.get("n1").merged == ("h1",)  # type: ignore[union-attr]
    assert sorted(j.job_id for j in store.open_jobs()) == ["h2", "n1"]  # merged left the index
    assert len(_refused_from_here(store, table, "h1", NOW)) == len(MOVES)  # merged is final
    with pytest.raises(HoldChanged):  # and cannot be taken over twice
        store.record_job("n2", "m", NOW, LEASE, OWNER, until, ("h1",))


def test_abandoned_is_final(stack: Stack) -> None:
    table = stack.table
    store = JobStore(table)
    store.record_intent("j-abandoned", "m", NOW, LEASE, OWNER)
    assert store.abandon("j-abandoned", NOW, "no requests")
    assert _status(table, "j-abandoned") == S.ABANDONED
    assert len(_refused_from_here(store, table, "j-abandoned", NOW)) == len(MOVES)
    assert list(store.open_jobs()) == []


@pytest.mark.parametrize("action", [t.action for t in TRANSITIONS if is_retake(t)])
def test_a_claim_is_retaken_only_once_it_is_stale(stack: Stack, action: str) -> None:
    table = stack.table
    store = JobStore(table)
    job_id = f"j-{action}"
    store.record_intent(job_id, "m", NOW, LEASE, OWNER)
    assert store.record_submitted(job_id, f"b-{job_id}", iso(NOW), iso(NOW), NOW)
    assert store.claim_ended(job_id, NOW, LEASE)
    if action == "claim_completion":
        assert store.claim_completion(job_id, NOW, LEASE)
    held = BY_ACTION[action].target
    assert _status(table, job_id) == held
    assert not MOVES[action](store, job_id, NOW + LEASE - timedelta(seconds=1))  # fresh: held
    assert MOVES[action](store, job_id, NOW + LEASE + timedelta(seconds=1))  # stale: retaken
    assert _status(table, job_id) == held


def test_the_creation_moves_hold_only_for_the_owner_and_without_a_batch(stack: Stack) -> None:
    table = stack.table
    store = JobStore(table)
    store.record_intent("j-owner", "m", NOW, LEASE, OWNER)
    assert not store.give_up_creation("j-owner", NOW, "no", "another")
    assert not store.note_create_call("j-owner", NOW, "another", LEASE)
    assert store.note_create_call("j-owner", NOW, OWNER, LEASE)
    assert not store.claim_creation("j-owner", NOW, LEASE, "poll")  # its lease runs
    assert store.claim_creation("j-owner", NOW + LEASE, LEASE, "poll")
    assert not store.record_waiting("j-owner", NOW + LEASE, NOW + 2 * LEASE, "429", OWNER)  # lost it
    assert store.record_waiting("j-owner", NOW + LEASE, NOW + 2 * LEASE, "429", "poll")
    assert store.record_submitted("j-owner", "b-owner", iso(NOW), iso(NOW), NOW)
    # with its batch recorded, no creation step holds any more, and progress may be stored
    assert not store.note_create_call("j-owner", NOW, "poll", LEASE)
    assert not store.claim_creation("j-owner", NOW + 9 * LEASE, LEASE, "poll")
    assert store.update_progress("j-owner", "in_progress", {"processing": 1}, NOW)
    assert store.claim_ended("j-owner", NOW, LEASE)
    assert not store.update_progress("j-owner", "ended", {"processing": 0}, NOW)  # ending
