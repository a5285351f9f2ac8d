"""The jobs table as both halves of the jobs store use it: one table, one way to read an item
back (plain numbers) and one way to make a write that may lose a race.

The table holds the job records (adapters.dynamodb_jobs) and the claims on document versions
and batches (adapters.dynamodb_claims), told apart by their key's prefix.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from batchdrop.domain.lifecycle import BY_ACTION, GUARD_BY_ACTION, Transition, is_retake

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

# Job records and claims are kept this long after creation (DynamoDB TTL); results stay in S3.
RETENTION = timedelta(days=400)
CONDITION_FAILED = "ConditionalCheckFailedException"


def expires_ttl(now: datetime) -> int:
    return int((now + RETENTION).timestamp())


def plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; callers want ints."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def lost_race(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == CONDITION_FAILED


def move_condition(transition: Transition, retake: str | None = None) -> tuple[str, dict[str, str]]:
    """A move's condition on ``#s`` (the status) and its values, from the lifecycle: the job is
    in one of the move's source states. From its own target (a retake) it must also meet
    ``retake`` (the claim it retakes is stale)."""
    fresh = sorted(s.value for s in transition.source if s != transition.target)
    values = {f":from_{state}": state for state in fresh}
    parts = [_one_of(list(values))] if fresh else []
    if is_retake(transition):
        if retake is None:
            raise ValueError(f"{transition.action} retakes {transition.target}: it needs a staleness test")
        values[f":from_{transition.target.value}"] = transition.target.value
        parts.append(f"(#s = :from_{transition.target.value} AND {retake})")
    return " OR ".join(parts), values


def guard_condition(action: str) -> tuple[str, dict[str, str]]:
    """A state-keeping write's condition on ``#s``, from the lifecycle's GUARDS."""
    states = sorted(s.value for s in GUARD_BY_ACTION[action].states)
    values = {f":in_{state}": state for state in states}
    return _one_of(list(values)), values


def _one_of(placeholders: list[str]) -> str:
    return f"#s = {placeholders[0]}" if len(placeholders) == 1 else f"#s IN ({', '.join(placeholders)})"


class TableWrites:
    """The table, a conditional write that says whether it held, and the lifecycle's moves
    and guarded writes made as such writes."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def _conditional_update(self, key: str, **kwargs: Any) -> bool:
        """An update that may lose a race; False when its condition did not hold."""
        try:
            self._table.update_item(Key={"job_id": key}, **kwargs)
        except ClientError as exc:
            if lost_race(exc):
                return False
            raise
        return True

    def _move(
        self,
        action: str,
        job_id: str,
        update: str,
        values: dict[str, Any],
        also: str | None = None,
        retake: str | None = None,
    ) -> bool:
        """Make ``action``'s move of the lifecycle: from one of its source states (``retake``:
        from its target, once the claim it retakes is stale) and ``also`` holding, set its
        target state with ``update`` (``SET ...`` and maybe ``REMOVE ...``)."""
        transition = BY_ACTION[action]
        condition, states = move_condition(transition, retake)
        if also:
            condition = f"({condition}) AND {also}"
        if not update.startswith("SET "):
            raise ValueError(f"{action}: the update must start with SET")
        return self._conditional_update(
            job_id,
            UpdateExpression=f"SET #s = :target, {update.removeprefix('SET ')}",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={**values, **states, ":target": transition.target.value},
        )

    def _guarded(self, action: str, job_id: str, update: str, values: dict[str, Any], also: str) -> bool:
        """A write that keeps the job's state, made only in the states the lifecycle's guard for
        ``action`` names and with ``also`` holding."""
        condition, states = guard_condition(action)
        return self._conditional_update(
            job_id,
            UpdateExpression=update,
            ConditionExpression=f"{condition} AND {also}" if also else condition,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={**values, **states},
        )

    def _get_item(self, key: str) -> dict[str, Any] | None:
        """An item read consistently (a claim or a move just made is seen), numbers plain."""
        item = self._table.get_item(Key={"job_id": key}, ConsistentRead=True).get("Item")
        return plain(item) if item else None
