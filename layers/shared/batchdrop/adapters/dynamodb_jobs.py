"""The jobs table: one item per job, moved between states only by conditional writes.

The states and the moves between them are domain.lifecycle's; each move here is one
conditional write. Open jobs carry ``open_flag`` and so appear in the sparse ``open-jobs``
index; a poll is one Query of that index.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import ClientError

from batchdrop.domain.job import JobRecord
from batchdrop.domain.lifecycle import JobState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

OPEN_INDEX = "open-jobs"
OPEN = "OPEN"
SUBMITTING, SUBMITTED, ENDING, ENDED, COMPLETING, COMPLETED, ABANDONED = (
    JobState.SUBMITTING.value,
    JobState.SUBMITTED.value,
    JobState.ENDING.value,
    JobState.ENDED.value,
    JobState.COMPLETING.value,
    JobState.COMPLETED.value,
    JobState.ABANDONED.value,
)
# Items that record which job holds a document version share the table; their key starts so.
CLAIM_PREFIX = "doc#"
BATCH_PREFIX = "batch#"
# A creation step's condition: the job still waits for its batch, and the writer still holds it.
_HELD_BY_OWNER = "#s = :submitting AND attribute_not_exists(batch_id) AND creation_owner = :owner"
# DynamoDB's limit on the writes of one TransactWriteItems call.
TRANSACTION_ITEMS = 100
# Job records are kept this long after creation (DynamoDB TTL); results stay in S3.
RETENTION = timedelta(days=400)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_ms(moment: datetime) -> str:
    """To the millisecond: create calls of one job may be less than a second apart."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _record(item: dict[str, Any]) -> JobRecord:
    return JobRecord.from_attributes(item)


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; callers want ints."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class JobStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    def _conditional_update(self, job_id: str, **kwargs: Any) -> bool:
        """An update that may lose a race; False when its condition did not hold."""
        try:
            self._table.update_item(Key={"job_id": job_id}, **kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, job_id: str) -> JobRecord | None:
        item = self._table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        return _record(_plain(item)) if item else None

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
        if owner is not None:
            attributes["creation_owner"] = owner
        self._table.put_item(
            Item={
                "job_id": job_id,
                "status": SUBMITTING,
                "manifest_key": manifest_key,
                "created_at": iso(now),
                "updated_at": iso(now),
                "creation_lease_until": iso(now + lease),
                "open_flag": OPEN,
                "expires_ttl": int((now + RETENTION).timestamp()),
                **attributes,
            },
            ConditionExpression="attribute_not_exists(job_id)",
        )

    def claim_creation(self, job_id: str, now: datetime, lease: timedelta, owner: str) -> bool:
        """Take over creating the batch of a job still ``submitting`` whose creation lease ran
        out (its writer died, or it waits for queue capacity): one taker wins, as ``owner``."""
        return self._conditional_update(
            job_id,
            UpdateExpression="SET creation_lease_until = :until, creation_owner = :owner, updated_at = :now",
            ConditionExpression=(
                "#s = :submitting AND attribute_not_exists(batch_id) AND "
                "(attribute_not_exists(creation_lease_until) OR creation_lease_until <= :now)"
            ),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":submitting": SUBMITTING,
                ":now": iso(now),
                ":until": iso(now + lease),
                ":owner": owner,
            },
        )

    def note_create_call(self, job_id: str, now: datetime, owner: str, lease: timedelta) -> bool:
        """Before calling create: record the call (only a batch made near one of these moments
        can be the job's, see batch_creation.find) and renew the creation lease, if ``owner``
        still holds it. False when another took the creation over: then create must not be
        called, since the new owner creates (or finds) the batch itself."""
        return self._conditional_update(
            job_id,
            UpdateExpression=(
                "SET create_calls = list_append(if_not_exists(create_calls, :none), :now), "
                "creation_lease_until = :until, updated_at = :at"
            ),
            ConditionExpression=_HELD_BY_OWNER,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":none": [],
                ":now": [iso_ms(now)],
                ":at": iso(now),
                ":until": iso(now + lease),
                ":submitting": SUBMITTING,
                ":owner": owner,
            },
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
        return self._conditional_update(
            job_id,
            UpdateExpression=(
                "SET waiting_since = if_not_exists(waiting_since, :now), creation_lease_until = :until, "
                "last_refusal = :reason, create_refusals = if_not_exists(create_refusals, :zero) + :one, "
                "updated_at = :now"
            ),
            ConditionExpression=_HELD_BY_OWNER,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":submitting": SUBMITTING,
                ":now": iso(now),
                ":until": iso(until),
                ":reason": reason[:1000],
                ":zero": 0,
                ":one": 1,
                ":owner": owner,
            },
        )

    def give_up_creation(self, job_id: str, now: datetime, reason: str, owner: str) -> bool:
        """No batch will be made for this job (the queue stayed full too long, or the API refused
        the batch for good). It goes on as if its batch had ended with nothing in it: Poll
        announces it and Complete gives every document its ``.error.json`` with ``reason``."""
        return self._conditional_update(
            job_id,
            UpdateExpression=(
                "SET #s = :submitted, end_reason = :reason, updated_at = :now REMOVE creation_lease_until"
            ),
            ConditionExpression=_HELD_BY_OWNER,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":submitted": SUBMITTED,
                ":submitting": SUBMITTING,
                ":reason": reason[:2000],
                ":now": iso(now),
                ":owner": owner,
            },
        )

    # --- which job holds a document version (exactly-once submission) -------------------------

    def claim_document(self, identity: str, job_id: str, source_key: str, now: datetime) -> str | None:
        """Claim a document version for a job. None when claimed now, else the holder's job id."""
        try:
            self._table.put_item(
                Item=self._claim_item(identity, job_id, source_key, now),
                ConditionExpression="attribute_not_exists(job_id)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            item = self._table.get_item(Key={"job_id": CLAIM_PREFIX + identity}, ConsistentRead=True).get(
                "Item"
            )
            return str(item["claimed_by"]) if item else ""
        return None

    def claim_documents(self, claims: list[tuple[str, str]], job_id: str, now: datetime) -> list[str | None]:
        """``claim_document`` for many ``(identity, source_key)``, a transaction per 100.

        One call per hundred documents instead of one each: the claims cost a fraction of
        reading the documents. A transaction is all or nothing, so when one is cancelled
        (a claim already held, a conflict with another writer) its claims are made one by one.
        An identity repeated in ``claims`` is claimed once; its repeats are held by ``job_id``.
        Returns, per claim in order, None when claimed now, else the holder's job id.
        """
        first: dict[str, int] = {}
        for index, (identity, _) in enumerate(claims):
            first.setdefault(identity, index)
        unique = [claims[index] for index in first.values()]
        claimed: dict[str, str | None] = {}
        client = self._table.meta.client
        for start in range(0, len(unique), TRANSACTION_ITEMS):
            chunk = unique[start : start + TRANSACTION_ITEMS]
            items = [
                {
                    "Put": {
                        "TableName": self._table.name,
                        # The resource's client turns Python values into DynamoDB's typed ones.
                        "Item": self._claim_item(identity, job_id, key, now),
                        "ConditionExpression": "attribute_not_exists(job_id)",
                    }
                }
                for identity, key in chunk
            ]
            try:
                client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                for identity, key in chunk:
                    claimed[identity] = self.claim_document(identity, job_id, key, now)
            else:
                claimed.update(dict.fromkeys((identity for identity, _ in chunk), None))
        return [
            claimed[identity] if first[identity] == index else job_id
            for index, (identity, _) in enumerate(claims)
        ]

    @staticmethod
    def _claim_item(identity: str, job_id: str, source_key: str, now: datetime) -> dict[str, Any]:
        return {
            "job_id": CLAIM_PREFIX + identity,
            "claimed_by": job_id,
            "source_key": source_key[:1024],
            "claimed_at": iso(now),
            "expires_ttl": int((now + RETENTION).timestamp()),
        }

    def claim_age(self, identity: str, now: datetime) -> timedelta | None:
        item = self._table.get_item(Key={"job_id": CLAIM_PREFIX + identity}, ConsistentRead=True).get("Item")
        if not item:
            return None
        return now - datetime.fromisoformat(str(item["claimed_at"]).replace("Z", "+00:00"))

    def claim_batch(self, batch_id: str, job_id: str, now: datetime, force: bool = False) -> bool:
        """Record which job a batch belongs to; False when another job already has it. Claiming
        again for the job that holds it is True: a retry after a failure between this claim and
        ``record_submitted`` must be able to finish recording its own batch. ``force`` takes the
        batch whoever holds it (the answer to this job's own create named it)."""
        item: dict[str, Any] = {
            "job_id": BATCH_PREFIX + batch_id,
            "claimed_by": job_id,
            "claimed_at": iso(now),
            "expires_ttl": int((now + RETENTION).timestamp()),
        }
        if force:
            self._table.put_item(Item=item)
            return True
        try:
            self._table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(job_id) OR claimed_by = :job",
                ExpressionAttributeValues={":job": job_id},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def batch_holder(self, batch_id: str) -> str | None:
        """The job that claimed a batch, or None."""
        item = self._table.get_item(Key={"job_id": BATCH_PREFIX + batch_id}, ConsistentRead=True).get("Item")
        return str(item["claimed_by"]) if item else None

    def take_over_claim(self, identity: str, from_job: str, to_job: str, now: datetime) -> bool:
        """Move a claim from a job that will never submit it; only one taker wins."""
        return self._conditional_update(
            CLAIM_PREFIX + identity,
            UpdateExpression="SET claimed_by = :to, claimed_at = :now",
            ConditionExpression="claimed_by = :from",
            ExpressionAttributeValues={":to": to_job, ":from": from_job, ":now": iso(now)},
        )

    def abandon(self, job_id: str, now: datetime, reason: str) -> bool:
        """A job whose batch was never created: it leaves the open index, its claims can be taken."""
        return self._conditional_update(
            job_id,
            UpdateExpression="SET #s = :abandoned, abandoned_reason = :r, updated_at = :now REMOVE open_flag",
            ConditionExpression="#s = :submitting",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":abandoned": ABANDONED,
                ":submitting": SUBMITTING,
                ":r": reason,
                ":now": iso(now),
            },
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
        return self._conditional_update(
            job_id,
            UpdateExpression=(
                "SET #s = :submitted, batch_id = :b, batch_expires_at = :e, open_flag = :open, "
                "open_since = :c, processing_status = :ps, updated_at = :now, adopted = :adopted "
                "REMOVE creation_lease_until"
            ),
            ConditionExpression="#s = :submitting",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":submitted": SUBMITTED,
                ":submitting": SUBMITTING,
                ":b": batch_id,
                ":e": batch_expires_at,
                ":open": OPEN,
                ":c": created_at,
                ":ps": "in_progress",
                ":now": iso(now),
                ":adopted": adopted,
            },
        )

    def open_jobs(self) -> Iterator[JobRecord]:
        """Jobs still open, oldest first: one Query of the sparse index, paged."""
        kwargs: dict[str, Any] = {
            "IndexName": OPEN_INDEX,
            "KeyConditionExpression": Key("open_flag").eq(OPEN),
        }
        while True:
            page = self._table.query(**kwargs)
            for item in page.get("Items", []):
                yield _record(_plain(item))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def update_progress(
        self, job_id: str, processing_status: str, request_counts: dict[str, int], now: datetime
    ) -> bool:
        """Store a running batch's progress; ``polled_at`` is when it was last seen to move.
        Poll calls this only when the progress differs from the record's (poll.progress_changed),
        so a tick over batches that did not move writes nothing."""
        return self._conditional_update(
            job_id,
            UpdateExpression=(
                "SET processing_status = :ps, request_counts = :rc, polled_at = :now, updated_at = :now"
            ),
            ConditionExpression="#s = :submitted",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":ps": processing_status,
                ":rc": request_counts,
                ":now": iso(now),
                ":submitted": SUBMITTED,
            },
        )

    def claim_ended(self, job_id: str, now: datetime, lease: timedelta) -> bool:
        """Take the right to announce "Batch Ended". One poller wins; a stale claim is retaken."""
        return self._conditional_update(
            job_id,
            UpdateExpression="SET #s = :ending, ending_claimed_at = :now, updated_at = :now",
            ConditionExpression="#s = :submitted OR (#s = :ending AND ending_claimed_at < :stale)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":ending": ENDING,
                ":submitted": SUBMITTED,
                ":now": iso(now),
                ":stale": iso(now - lease),
            },
        )

    def release_ended(self, job_id: str, now: datetime) -> bool:
        """Give back the right to announce "Batch Ended" (the announcement was not sent)."""
        return self._conditional_update(
            job_id,
            UpdateExpression="SET #s = :submitted, updated_at = :now REMOVE ending_claimed_at",
            ConditionExpression="#s = :ending",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":submitted": SUBMITTED, ":ending": ENDING, ":now": iso(now)},
        )

    def claim_redrive(self, job_id: str, now: datetime, every: timedelta) -> bool:
        """Take the right to announce "Batch Ended" again for a job nobody completed."""
        return self._conditional_update(
            job_id,
            UpdateExpression="SET redriven_at = :now",
            ConditionExpression=(
                "#s IN (:ended, :completing) AND updated_at < :stale "
                "AND (attribute_not_exists(redriven_at) OR redriven_at < :stale)"
            ),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":ended": ENDED,
                ":completing": COMPLETING,
                ":now": iso(now),
                ":stale": iso(now - every),
            },
        )

    def mark_ended(self, job_id: str, now: datetime) -> bool:
        """The event is out. The job stays in the open index until it is completed, so that a
        job nobody collects is still seen (and alarmed on)."""
        return self._conditional_update(
            job_id,
            UpdateExpression="SET #s = :ended, ended_at = :now, updated_at = :now",
            ConditionExpression="#s = :ending",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":ended": ENDED, ":ending": ENDING, ":now": iso(now)},
        )

    def claim_completion(self, job_id: str, now: datetime, lease: timedelta) -> bool:
        """Take the job for completion; a second delivery of "Batch Ended" gets False."""
        return self._conditional_update(
            job_id,
            UpdateExpression="SET #s = :completing, completing_claimed_at = :now, updated_at = :now",
            ConditionExpression=(
                "#s IN (:ending, :ended) OR (#s = :completing AND completing_claimed_at < :stale)"
            ),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":completing": COMPLETING,
                ":ending": ENDING,
                ":ended": ENDED,
                ":now": iso(now),
                ":stale": iso(now - lease),
            },
        )

    def mark_cancel_requested(self, job_id: str, now: datetime) -> bool:
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
        disowned = self._conditional_update(
            job_id,
            UpdateExpression=(
                "SET #s = :submitting, creation_lease_until = :now, updated_at = :now, "
                "disowned_batches = list_append(if_not_exists(disowned_batches, :none), :b) "
                "REMOVE batch_id, batch_expires_at, adopted, completing_claimed_at, ending_claimed_at, "
                "ended_at, waiting_since, create_refusals"
            ),
            ConditionExpression="#s = :completing AND batch_id = :id",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":submitting": SUBMITTING,
                ":completing": COMPLETING,
                ":now": iso(now),
                ":none": [],
                ":b": [batch_id],
                ":id": batch_id,
            },
        )
        if disowned:
            try:
                self._table.delete_item(
                    Key={"job_id": BATCH_PREFIX + batch_id},
                    ConditionExpression="claimed_by = :job",
                    ExpressionAttributeValues={":job": job_id},
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        return disowned

    def release_completion(self, job_id: str, now: datetime) -> bool:
        """Give the job back (its checkpoint saved) for the next Complete to take."""
        return self._conditional_update(
            job_id,
            UpdateExpression="SET #s = :ended, updated_at = :now REMOVE completing_claimed_at",
            ConditionExpression="#s = :completing",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":ended": ENDED, ":completing": COMPLETING, ":now": iso(now)},
        )

    def mark_completed(self, job_id: str, now: datetime, summary: dict[str, Any]) -> bool:
        cost = summary["cost"]
        return self._conditional_update(
            job_id,
            UpdateExpression=(
                "SET #s = :completed, completed_at = :now, updated_at = :now, result_counts = :counts, "
                "cost_batch = :cb, cost_standard = :cs, cost_complete = :cc, cost_by_profile = :cp, "
                "tokens = :tk, summary_key = :sk, workflow_cost_batch = :wb, workflow_cost_standard = :ws, "
                "workflow_cost_complete = :wc REMOVE open_flag"
            ),
            ConditionExpression="#s = :completing",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":completed": COMPLETED,
                ":completing": COMPLETING,
                ":now": iso(now),
                ":counts": summary["counts"],
                ":cb": Decimal(str(cost["batch"])),
                ":cs": Decimal(str(cost["standard"])),
                ":cc": bool(cost["complete"]),
                ":cp": {
                    profile: {k: Decimal(str(v)) if isinstance(v, float) else v for k, v in costs.items()}
                    for profile, costs in summary.get("cost_by_profile", {}).items()
                },
                ":tk": summary["tokens"],
                # The cost of this job and every stage of its workflow before it.
                ":wb": Decimal(str((summary.get("workflow") or {}).get("total_cost", cost)["batch"])),
                ":ws": Decimal(str((summary.get("workflow") or {}).get("total_cost", cost)["standard"])),
                ":wc": bool((summary.get("workflow") or {}).get("total_cost", cost)["complete"]),
                ":sk": summary["summary_key"],
            },
        )

    # --- reading jobs for an operator (batchdrop_ops: status, cost) ----------------------------

    def created_since(self, since: datetime) -> Iterator[JobRecord]:
        """Jobs created at or after ``since``, in no order. A Scan: it reads the whole table (the
        claims of document versions and batches too) and is billed for all it reads, so it is for
        an operator now and then, never for a hot path."""
        return self._scan_jobs(Attr("created_at").gte(iso(since)))

    def completed_since(self, since: datetime) -> Iterator[JobRecord]:
        """Jobs completed at or after ``since``, in no order. A Scan, as ``created_since``."""
        return self._scan_jobs(Attr("status").eq(COMPLETED) & Attr("completed_at").gte(iso(since)))

    def _scan_jobs(self, condition: ConditionBase) -> Iterator[JobRecord]:
        kwargs: dict[str, Any] = {"FilterExpression": condition}
        while True:
            page = self._table.scan(**kwargs)
            for item in page.get("Items", []):
                if "status" in item and not str(item["job_id"]).startswith((CLAIM_PREFIX, BATCH_PREFIX)):
                    yield _record(_plain(item))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
