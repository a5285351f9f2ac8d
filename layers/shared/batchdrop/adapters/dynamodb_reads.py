"""Reading the jobs table's job records: one job (consistently), the open jobs (one Query of the
sparse ``open-jobs`` index), and, for an operator, the jobs created or completed since a moment
(a Scan). Every item is parsed once, into a typed JobRecord."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from batchdrop.adapters.dynamodb_claims import BATCH_PREFIX, CLAIM_PREFIX
from batchdrop.adapters.dynamodb_table import TableWrites, plain
from batchdrop.domain.job import JobRecord
from batchdrop.domain.lifecycle import COMPLETED
from batchdrop.domain.times import iso

OPEN_INDEX = "open-jobs"
OPEN = "OPEN"  # an open job's open_flag: only open jobs are in the index


def _record(item: dict[str, Any]) -> JobRecord:
    """The one parse of a job item: DynamoDB's numbers made plain, then typed."""
    return JobRecord.from_attributes(plain(item))


class JobReads(TableWrites):
    """The reads of the JobsStore port, and the operator's scans."""

    def get(self, job_id: str) -> JobRecord | None:
        item = self._get_item(job_id)
        return _record(item) if item else None

    def open_jobs(self) -> Iterator[JobRecord]:
        """Jobs still open, oldest first: one Query of the sparse index, paged."""
        kwargs: dict[str, Any] = {
            "IndexName": OPEN_INDEX,
            "KeyConditionExpression": Key("open_flag").eq(OPEN),
        }
        while True:
            page = self._table.query(**kwargs)
            for item in page.get("Items", []):
                yield _record(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # reading jobs for an operator (batchdrop_ops: status, cost; the demo)

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
                    yield _record(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
