"""A job's lifecycle as a state machine: its states, the moves between them, and who makes each.

The jobs store (adapters.dynamodb_jobs) makes every move as one conditional write whose
condition is the move's ``source`` states, so two writers racing for one move cannot both win.
``TRANSITIONS`` is the whole of it: a move not listed here is a bug.

    (new) --record_intent--> submitting --record_submitted--> submitted --claim_ended--> ending
    submitting --give_up_creation--> submitted (no batch; its documents end with errors)
    submitting --abandon--> abandoned
    ending --release_ended--> submitted;  ending --mark_ended--> ended
    ending | ended --claim_completion--> completing --mark_completed--> completed
    completing --release_completion--> ended (handed over);  --disown_batch--> submitting
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


OPEN_STATES = frozenset(set(JobState) - {JobState.COMPLETED, JobState.ABANDONED})
FINAL_STATES = frozenset({JobState.COMPLETED, JobState.ABANDONED})


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
)
BY_ACTION = {t.action: t for t in TRANSITIONS}


def allowed(source: JobState | None, target: JobState) -> bool:
    """Whether some move takes a job from ``source`` (None: no job yet) to ``target``."""
    return any(
        t.target == target and (source in t.source if source is not None else not t.source)
        for t in TRANSITIONS
    )


def moves_from(source: JobState) -> list[Transition]:
    return [t for t in TRANSITIONS if source in t.source]
