"""Held jobs in the jobs table: a Bedrock job below the minimum job size is recorded ``held``;
a later job takes its documents (``merge_held``, in one transaction with that job's own record,
so that no document is in two live jobs nor in none), or Poll releases it when its wait is over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from batchdrop.adapters.dynamodb_reads import OPEN
from batchdrop.adapters.dynamodb_table import TableWrites, expires_ttl, move_condition
from batchdrop.domain.lifecycle import BY_ACTION
from batchdrop.domain.times import iso
from batchdrop.ports.jobs import HoldChanged

# DynamoDB's limit on the writes of one TransactWriteItems call: the new job and its held ones.
MAX_MERGED = 99


class HoldWrites(TableWrites):
    """The held-job moves of the JobsStore port."""

    def record_job(
        self,
        job_id: str,
        manifest_key: str,
        now: datetime,
        lease: timedelta,
        owner: str,
        held_until: datetime | None,
        merges: Sequence[str],
        **attributes: Any,
    ) -> None:
        """Record a job (``submitting``, or ``held`` until ``held_until``) and, in the same
        transaction, move each job of ``merges`` from ``held`` to ``merged`` into it. Raises
        HoldChanged when one of them is no longer held (released or merged meanwhile): then
        nothing was written."""
        if len(merges) > MAX_MERGED:
            raise ValueError(f"at most {MAX_MERGED} held jobs merge into one job, not {len(merges)}")
        transition = BY_ACTION["record_held" if held_until is not None else "record_intent"]
        item: dict[str, Any] = {
            "job_id": job_id,
            "status": transition.target.value,
            "manifest_key": manifest_key,
            "created_at": iso(now),
            "updated_at": iso(now),
            "creation_lease_until": iso(now + lease),
            "creation_owner": owner,
            "open_flag": OPEN,
            "expires_ttl": expires_ttl(now),
            **({"held_until": iso(held_until)} if held_until is not None else {}),
            **({"merged": list(merges)} if merges else {}),
            **attributes,
        }
        if not merges:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(job_id)")
            return
        condition, states = move_condition(BY_ACTION["merge_held"])
        name = self._table.name
        items: list[dict[str, Any]] = [
            {"Put": {"TableName": name, "Item": item, "ConditionExpression": "attribute_not_exists(job_id)"}}
        ]
        for held in merges:
            items.append(
                {
                    "Update": {
                        "TableName": name,
                        "Key": {"job_id": held},
                        "UpdateExpression": "SET #s = :target, merged_into = :into, updated_at = :now "
                        "REMOVE open_flag",
                        "ConditionExpression": condition,
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {
                            **states,
                            ":target": BY_ACTION["merge_held"].target.value,
                            ":into": job_id,
                            ":now": iso(now),
                        },
                    }
                }
            )
        try:
            self._table.meta.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            raise HoldChanged(
                f"a held job of {', '.join(merges)} was released or merged meanwhile: nothing written"
            ) from exc

    def release_hold(
        self, job_id: str, now: datetime, lease: timedelta, owner: str, backend: str | None = None
    ) -> bool:
        """Its wait over, a held job goes on to its creation (``submitting``), leased to
        ``owner``; on ``backend`` when given (answered on demand). One releaser wins, and a
        merge that raced it loses."""
        return self._move(
            "release_hold",
            job_id,
            "SET creation_owner = :owner, creation_lease_until = :until, updated_at = :now, "
            "released_at = :now" + (", backend = :backend" if backend else ""),
            {
                ":owner": owner,
                ":until": iso(now + lease),
                ":now": iso(now),
                **({":backend": backend} if backend else {}),
            },
            also="held_until <= :now",
        )
