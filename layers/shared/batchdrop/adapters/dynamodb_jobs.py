"""The jobs table's job records, moved between states only by conditional writes.

Every move is domain.lifecycle's: its condition is built from the move's source states and it
sets the move's target (``_move``); a write that keeps the state checks the lifecycle's guard
for it (``_guarded``). No state is named here. Open jobs carry ``open_flag`` and so appear in
the sparse ``open-jobs`` index; a poll is one Query of that index. The claims on document
versions and batches share the table (adapters.dynamodb_claims): a JobStore offers both.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from batchdrop.adapters.dynamodb_claims import BATCH_PREFIX, CLAIM_PREFIX, ClaimStore
from batchdrop.adapters.dynamodb_holds import HoldWrites
from batchdrop.adapters.dynamodb_reads import OPEN, OPEN_INDEX, JobReads
from batchdrop.adapters.dynamodb_table import expires_ttl
from batchdrop.domain.job import JobRecord
from batchdrop.domain.lifecycle import BY_ACTION
from batchdrop.domain.summary import Summary
from batchdrop.domain.times import iso, iso_ms

# A scan over the whole table tells job items from claims by the claims' key prefixes.
__all__ = ["BATCH_PREFIX", "CLAIM_PREFIX", "OPEN", "OPEN_INDEX", "JobRecord", "JobStore"]

# A creation step's condition beside the state: the job still waits for its batch, and the
# writer still holds its creation.
_HELD_BY_OWNER = "attribute_not_exists(batch_id) AND creation_owner = :owner"


class JobStore(JobReads, ClaimStore, HoldWrites):
    """The JobsStore port (and, through ClaimStore, the Claims port) over the jobs table: the
    reads in JobReads, the moves here."""

    def record_intent(
        self,
        job_id: str,
        manifest_key: str,
        now: datetime,
        lease: timedelta,
        owner: str | None = None,
        **attributes: Any,
    ) -> None:
        """Write the job before the batch is created, so a crash leaves a trace to reconcile.

        The job is open from here on, and its creation is leased to the writer (``owner``, a
        token of its own) for ``lease``: after that Poll takes the creation over (finds the
        batch, or creates it), and the writer may no longer call create (note_create_call).
        """
        transition = BY_ACTION["record_intent"]
        assert not transition.source  # the job's first state: it must not exist yet
        if owner is not None:
            attributes["creation_owner"] = owner
        self._table.put_item(
            Item={
                "job_id": job_id,
                "status": transition.target.value,
                "manifest_key": manifest_key,
                "created_at": iso(now),
                "updated_at": iso(now),
                "creation_lease_until": iso(now + lease),
                "open_flag": OPEN,
                "expires_ttl": expires_ttl(now),
                **attributes,
            },
            ConditionExpression="attribute_not_exists(job_id)",
        )

    def claim_creation(self, job_id: str, now: datetime, lease: timedelta, owner: str) -> bool:
        """Take over creating the batch of a job still ``submitting`` whose creation lease ran
        out (its writer died, or it waits for queue capacity): one taker wins, as ``owner``."""
        return self._guarded(
            "claim_creation",
            job_id,
            "SET creation_lease_until = :until, creation_owner = :owner, updated_at = :now",
            {":now": iso(now), ":until": iso(now + lease), ":owner": owner},
            also=(
                "attribute_not_exists(batch_id) AND "
                "(attribute_not_exists(creation_lease_until) OR creation_lease_until <= :now)"
            ),
        )

    def note_create_call(self, job_id: str, now: datetime, owner: str, lease: timedelta) -> bool:
        """Before calling create: record the call (only a batch made near one of these moments
        can be the job's, see batch_creation.find) and renew the creation lease, if ``owner``
        still holds it. False when another took the creation over: then create must not be
        called, since the new owner creates (or finds) the batch itself."""
        return self._guarded(
            "note_create_call",
            job_id,
            (
                "SET create_calls = list_append(if_not_exists(create_calls, :none), :now), "
                "creation_lease_until = :until, updated_at = :at"
            ),
            {
                ":none": [],
                ":now": [iso_ms(now)],
                ":at": iso(now),
                ":until": iso(now + lease),
                ":owner": owner,
            },
            also=_HELD_BY_OWNER,
        )

    def settle_create_call(self, job_id: str, called: datetime) -> None:
        """The create called at ``called`` was answered: it made no batch (429, 4xx). Listing
        need never look for its batch again (see batch_creation.find)."""
        self._table.update_item(
            Key={"job_id": job_id},
            UpdateExpression="SET settled_calls = list_append(if_not_exists(settled_calls, :none), :at)",
            ConditionExpression="attribute_exists(job_id)",
            ExpressionAttributeValues={":none": [], ":at": [iso_ms(called)]},
        )

    def record_waiting(self, job_id: str, now: datetime, until: datetime, reason: str, owner: str) -> bool:
        """The API refused to create the batch for now (429: the batch queue is full): the job
        waits, its creation leased to nobody until ``until``, when Poll tries again."""
        return self._guarded(
            "record_waiting",
            job_id,
            (
                "SET waiting_since = if_not_exists(waiting_since, :now), creation_lease_until = :until, "
                "last_refusal = :reason, create_refusals = if_not_exists(create_refusals, :zero) + :one, "
                "updated_at = :now"
            ),
            {
                ":now": iso(now),
                ":until": iso(until),
                ":reason": reason[:1000],
                ":zero": 0,
                ":one": 1,
                ":owner": owner,
            },
            also=_HELD_BY_OWNER,
        )

    def give_up_creation(self, job_id: str, now: datetime, reason: str, owner: str) -> bool:
        """No batch will be made for this job (the queue stayed full too long, or the API refused
        the batch for good). It goes on as if its batch had ended with nothing in it: Poll
        announces it and Complete gives every document its ``.error.json`` with ``reason``."""
        return self._move(
            "give_up_creation",
            job_id,
            "SET end_reason = :reason, updated_at = :now REMOVE creation_lease_until",
            {":reason": reason[:2000], ":now": iso(now), ":owner": owner},
            also=_HELD_BY_OWNER,
        )

    def abandon(self, job_id: str, now: datetime, reason: str) -> bool:
        """A job whose batch was never created: it leaves the open index, its claims can be taken."""
        return self._move(
            "abandon",
            job_id,
            "SET abandoned_reason = :r, updated_at = :now REMOVE open_flag",
            {":r": reason, ":now": iso(now)},
        )

    def record_submitted(
        self,
        job_id: str,
        batch_id: str,
        batch_expires_at: str,
        created_at: str,
        now: datetime,
        adopted: bool = False,
    ) -> bool:
        """The job's batch exists. ``adopted``: found by listing the batches, not from the
        answer to its create (Complete then checks the results belong to the job's manifest)."""
        return self._move(
            "record_submitted",
            job_id,
            (
                "SET batch_id = :b, batch_expires_at = :e, open_flag = :open, "
                "open_since = :c, processing_status = :ps, updated_at = :now, adopted = :adopted "
                "REMOVE creation_lease_until"
            ),
            {
                ":b": batch_id,
                ":e": batch_expires_at,
                ":open": OPEN,
                ":c": created_at,
                ":ps": "in_progress",
                ":now": iso(now),
                ":adopted": adopted,
            },
        )

    def update_progress(
        self, job_id: str, processing_status: str, request_counts: dict[str, int], now: datetime
    ) -> bool:
        """Store a running batch's progress; ``polled_at`` is when it was last seen to move.
        Poll calls this only when the progress differs from the record's (poll.progress_changed),
        so a tick over batches that did not move writes nothing."""
        return self._guarded(
            "update_progress",
            job_id,
            "SET processing_status = :ps, request_counts = :rc, polled_at = :now, updated_at = :now",
            {":ps": processing_status, ":rc": request_counts, ":now": iso(now)},
            also="",
        )

    def claim_ended(self, job_id: str, now: datetime, lease: timedelta) -> bool:
        """Take the right to announce "Batch Ended". One poller wins; a stale claim is retaken."""
        return self._move(
            "claim_ended",
            job_id,
            "SET ending_claimed_at = :now, updated_at = :now",
            {":now": iso(now), ":stale": iso(now - lease)},
            retake="ending_claimed_at < :stale",
        )

    def release_ended(self, job_id: str, now: datetime) -> bool:
        """Give back the right to announce "Batch Ended" (the announcement was not sent)."""
        return self._move(
            "release_ended", job_id, "SET updated_at = :now REMOVE ending_claimed_at", {":now": iso(now)}
        )

    def claim_redrive(self, job_id: str, now: datetime, every: timedelta) -> bool:
        """Take the right to announce "Batch Ended" again for a job nobody completed."""
        return self._guarded(
            "claim_redrive",
            job_id,
            "SET redriven_at = :now",
            {":now": iso(now), ":stale": iso(now - every)},
            also="updated_at < :stale AND (attribute_not_exists(redriven_at) OR redriven_at < :stale)",
        )

    def mark_ended(self, job_id: str, now: datetime) -> bool:
        """The event is out. The job stays in the open index until it is completed, so that a
        job nobody collects is still seen (and alarmed on)."""
        return self._move("mark_ended", job_id, "SET ended_at = :now, updated_at = :now", {":now": iso(now)})

    def claim_completion(self, job_id: str, now: datetime, lease: timedelta) -> bool:
        """Take the job for completion; a second delivery of "Batch Ended" gets False."""
        return self._move(
            "claim_completion",
            job_id,
            "SET completing_claimed_at = :now, updated_at = :now",
            {":now": iso(now), ":stale": iso(now - lease)},
            retake="completing_claimed_at < :stale",
        )

    def mark_cancel_requested(self, job_id: str, now: datetime) -> bool:
        """In any state: a job whose batch ended already is told apart by the caller (cancel)."""
        return self._conditional_update(
            job_id,
            UpdateExpression=(
                "SET cancel_requested_at = if_not_exists(cancel_requested_at, :now), updated_at = :now"
            ),
            ConditionExpression="attribute_exists(job_id)",
            ExpressionAttributeValues={":now": iso(now)},
        )

    def disown_batch(self, job_id: str, batch_id: str, now: datetime) -> bool:
        """An adopted batch turned out to be another's (its results name none of the job's
        requests): the job goes back to ``submitting`` without it, never to adopt it again, and
        its creation lease ends now so that Poll finds or creates the job's own batch."""
        disowned = self._move(
            "disown_batch",
            job_id,
            (
                "SET creation_lease_until = :now, updated_at = :now, "
                "disowned_batches = list_append(if_not_exists(disowned_batches, :none), :b) "
                "REMOVE batch_id, batch_expires_at, adopted, completing_claimed_at, ending_claimed_at, "
                "ended_at, waiting_since, create_refusals"
            ),
            {":now": iso(now), ":none": [], ":b": [batch_id], ":id": batch_id},
            also="batch_id = :id",
        )
        if disowned:
            self._release_batch(batch_id, job_id)
        return disowned

    def release_completion(self, job_id: str, now: datetime) -> bool:
        """Give the job back (its checkpoint saved) for the next Complete to take."""
        return self._move(
            "release_completion",
            job_id,
            "SET updated_at = :now REMOVE completing_claimed_at",
            {":now": iso(now)},
        )

    def mark_completed(self, job_id: str, now: datetime, summary: Summary) -> bool:
        """Completed, with what the operator commands show of it: counts, cost, tokens, and the
        cost of this job and every stage of its workflow before it."""
        cost, total = summary.cost, (summary.workflow.total_cost if summary.workflow else summary.cost)
        return self._move(
            "mark_completed",
            job_id,
            (
                "SET completed_at = :now, updated_at = :now, result_counts = :counts, "
                "cost_batch = :cb, cost_standard = :cs, cost_complete = :cc, cost_by_profile = :cp, "
                "tokens = :tk, summary_key = :sk, workflow_cost_batch = :wb, workflow_cost_standard = :ws, "
                "workflow_cost_complete = :wc REMOVE open_flag"
            ),
            {
                ":now": iso(now),
                ":counts": dict(summary.counts),
                ":cb": Decimal(str(cost.batch)),
                ":cs": Decimal(str(cost.standard)),
                ":cc": cost.complete,
                ":cp": {
                    profile: {k: Decimal(str(v)) if isinstance(v, float) else v for k, v in costs.items()}
                    for profile, costs in summary.cost_by_profile.items()
                },
                ":tk": summary.tokens.as_dict(),
                ":wb": Decimal(str(total.money.batch)),
                ":ws": Decimal(str(total.money.standard)),
                ":wc": total.complete,
                ":sk": summary.summary_key,
            },
        )
