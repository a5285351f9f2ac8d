"""A job's lifecycle as a state machine: its states, the moves between them, and who makes each.

The jobs store (adapters.dynamodb_jobs) makes every move as one conditional write whose
condition is built from the move's ``source`` states and sets its ``target``, so two writers
racing for one move cannot both win. ``TRANSITIONS`` is the whole of it: a move not listed here
is a bug. A move whose target is among its sources retakes a stale claim (claim_ended,
claim_completion): from its target state it holds only once the claim is older than a lease.
``GUARDS`` are the writes that keep the state but may be made only in some (a lease, progress,
a redrive): their conditions come from here too.

    (new) --record_intent--> submitting --record_submitted--> submitted --claim_ended--> ending
    submitting --give_up_creation--> submitted (no batch; its documents end with errors)
    submitting --abandon--> abandoned
    ending --release_ended--> submitted;  ending --mark_ended--> ended
    ending | ended --claim_completion--> completing --mark_completed--> completed
    completing --release_completion--> ended (handed over);  --disown_batch--> submitting

Bedrock's minimum job size (usecases.submit.minimum): a job with fewer records is held, not sent.

    (new) --record_held--> held --release_hold--> submitting (its wait over: Poll)
    held --merge_held--> merged (a later job took its documents, in one transaction with that
    job's record; its claims are that job's: merged_into)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class JobState(StrEnum):
    SUBMITTING = "submitting"  # intent recorded, its batch not yet confirmed
    SUBMITTED = "submitted"  # its batch exists (or will never): open, polled
    ENDING = "ending"  # a poller claimed the right to announce "Batch Ended"
    ENDED = "ended"  # announced; waits for Complete
    COMPLETING = "completing"  # a Complete invocation holds it
    COMPLETED = "completed"  # results, summary and notification written
    ABANDONED = "abandoned"  # its batch was never created; its claims may be taken over
    HELD = "held"  # below Bedrock's minimum job size: waits for more documents of its profile
    MERGED = "merged"  # a held job whose documents a later job took over (merged_into)


# The states by name, for code that compares a record's status (a string) with them.
SUBMITTING, SUBMITTED, ENDING, ENDED, COMPLETING, COMPLETED, ABANDONED, HELD, MERGED = tuple(JobState)

FINAL_STATES = frozenset({JobState.COMPLETED, JobState.ABANDONED, JobState.MERGED})
OPEN_STATES = frozenset(set(JobState) - FINAL_STATES)


@dataclass(frozen=True)
class Transition:
    action: str  # the jobs store's method that makes the move
    source: frozenset[JobState]  # the states it may start from (the write's condition)
    target: JobState
    by: str  # who makes it


def _t(action: str, source: set[JobState], target: JobState, by: str) -> Transition:
    return Transition(action, frozenset(source), target, by)


S = JobState
TRANSITIONS: tuple[Transition, ...] = (
    _t("record_intent", set(), S.SUBMITTING, "Submit; Complete for a follow-up job"),
    _t("record_submitted", {S.SUBMITTING}, S.SUBMITTED, "batch creation (Submit, Poll, Complete)"),
    _t("give_up_creation", {S.SUBMITTING}, S.SUBMITTED, "batch creation, when no batch will be made"),
    _t("abandon", {S.SUBMITTING}, S.ABANDONED, "Poll, for a job whose requests were never written"),
    _t("claim_ended", {S.SUBMITTED, S.ENDING}, S.ENDING, "Poll (a stale ending claim is retaken)"),
    _t("release_ended", {S.ENDING}, S.SUBMITTED, "Poll, when the announcement was not sent"),
    _t("mark_ended", {S.ENDING}, S.ENDED, "Poll, once 'Batch Ended' is on the bus"),
    _t("claim_completion", {S.ENDING, S.ENDED, S.COMPLETING}, S.COMPLETING, "Complete"),
    _t("release_completion", {S.COMPLETING}, S.ENDED, "Complete, handing over to a new invocation"),
    _t("disown_batch", {S.COMPLETING}, S.SUBMITTING, "Complete, when an adopted batch is another's"),
    _t("mark_completed", {S.COMPLETING}, S.COMPLETED, "Complete"),
    _t("record_held", set(), S.HELD, "Submit, for a Bedrock job below the minimum job size"),
    _t("merge_held", {S.HELD}, S.MERGED, "Submit, when a later job takes the held job's documents"),
    _t("release_hold", {S.HELD}, S.SUBMITTING, "Poll, when the held job's wait is over"),
)
BY_ACTION = {t.action: t for t in TRANSITIONS}


@dataclass(frozen=True)
class Guard:
    action: str  # the jobs store's method that writes, leaving the state as it is
    states: frozenset[JobState]  # the states it may write in (the write's condition)
    by: str


GUARDS: tuple[Guard, ...] = (
    Guard("claim_creation", frozenset({S.SUBMITTING}), "Poll, taking over a creation whose lease ran out"),
    Guard("note_create_call", frozenset({S.SUBMITTING}), "batch creation, before each create call"),
    Guard("record_waiting", frozenset({S.SUBMITTING}), "batch creation, when the batch queue is full"),
    Guard("update_progress", frozenset({S.SUBMITTED}), "Poll, when a running batch moved"),
    Guard("claim_redrive", frozenset({S.ENDED, S.COMPLETING}), "Poll, for a job nobody completed"),
)
GUARD_BY_ACTION = {g.action: g for g in GUARDS}


def allowed(source: JobState | None, target: JobState) -> bool:
    """Whether some move takes a job from ``source`` (None: no job yet) to ``target``."""
    return any(
        t.target == target and (source in t.source if source is not None else not t.source)
        for t in TRANSITIONS
    )


def moves_from(source: JobState) -> list[Transition]:
    return [t for t in TRANSITIONS if source in t.source]


def is_retake(transition: Transition) -> bool:
    """A move that may start from its own target: it retakes a claim gone stale."""
    return transition.target in transition.source
