"""Claims in the jobs table: which job holds a document version, and which job a batch is.

A document version is submitted by one job only (exactly-once submission): the job claims it
first, with a conditional put, and a second job finds the holder. A batch belongs to one job:
its claim is how an adopted batch (found by listing) is known not to be another job's.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from batchdrop.adapters.dynamodb_table import TableWrites, expires_ttl, lost_race
from batchdrop.domain.times import iso, parse_time

# Items that record which job holds a document version share the table; their key starts so.
CLAIM_PREFIX = "doc#"
BATCH_PREFIX = "batch#"
# DynamoDB's limit on the writes of one TransactWriteItems call.
TRANSACTION_ITEMS = 100


class ClaimStore(TableWrites):
    """The Claims port (ports.jobs.Claims) over the jobs table."""

    def claim_document(self, identity: str, job_id: str, source_key: str, now: datetime) -> str | None:
        """Claim a document version for a job. None when claimed now, else the holder's job id."""
        try:
            self._table.put_item(
                Item=self._claim_item(identity, job_id, source_key, now),
                ConditionExpression="attribute_not_exists(job_id)",
            )
        except ClientError as exc:
            if not lost_race(exc):
                raise
            item = self._get_item(CLAIM_PREFIX + identity)
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
            "expires_ttl": expires_ttl(now),
        }

    def claim_age(self, identity: str, now: datetime) -> timedelta | None:
        item = self._get_item(CLAIM_PREFIX + identity)
        return now - parse_time(str(item["claimed_at"])) if item else None

    def take_over_claim(self, identity: str, from_job: str, to_job: str, now: datetime) -> bool:
        """Move a claim from a job that will never submit it; only one taker wins."""
        return self._conditional_update(
            CLAIM_PREFIX + identity,
            UpdateExpression="SET claimed_by = :to, claimed_at = :now",
            ConditionExpression="claimed_by = :from",
            ExpressionAttributeValues={":to": to_job, ":from": from_job, ":now": iso(now)},
        )

    def claim_batch(self, batch_id: str, job_id: str, now: datetime, force: bool = False) -> bool:
        """Record which job a batch belongs to; False when another job already has it. Claiming
        again for the job that holds it is True: a retry after a failure between this claim and
        ``record_submitted`` must be able to finish recording its own batch. ``force`` takes the
        batch whoever holds it (the answer to this job's own create named it)."""
        item: dict[str, Any] = {
            "job_id": BATCH_PREFIX + batch_id,
            "claimed_by": job_id,
            "claimed_at": iso(now),
            "expires_ttl": expires_ttl(now),
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
            if lost_race(exc):
                return False
            raise
        return True

    def batch_holder(self, batch_id: str) -> str | None:
        """The job that claimed a batch, or None."""
        item = self._get_item(BATCH_PREFIX + batch_id)
        return str(item["claimed_by"]) if item else None

    def _release_batch(self, batch_id: str, job_id: str) -> None:
        """Drop a batch's claim if ``job_id`` holds it (the job disowned the batch)."""
        try:
            self._table.delete_item(
                Key={"job_id": BATCH_PREFIX + batch_id},
                ConditionExpression="claimed_by = :job",
                ExpressionAttributeValues={":job": job_id},
            )
        except ClientError as exc:
            if not lost_race(exc):
                raise
