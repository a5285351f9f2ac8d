"""Document claims in the jobs table: many per TransactWriteItems, one winner per version."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from batchdrop.adapters.dynamodb_claims import CLAIM_PREFIX, TRANSACTION_ITEMS
from batchdrop.adapters.dynamodb_jobs import JobStore
from tests.integration.harness import Stack

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _claims(names: list[str]) -> list[tuple[str, str]]:
    return [(f"id-{name}", f"inbox/default/{name}.txt") for name in names]


def _calls(table: Any) -> Counter[str]:
    """Counts DynamoDB operations made through the table's client from now on."""
    counts: Counter[str] = Counter()
    table.meta.client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: counts.update([model.name])
    )
    return counts


def test_claims_go_a_hundred_per_transaction(stack: Stack) -> None:
    table = stack.table
    calls = _calls(table)
    names = [f"doc{i}" for i in range(2 * TRANSACTION_ITEMS + 50)]

    holders = JobStore(table).claim_documents(_claims(names), "job-1", NOW)

    assert holders == [None] * len(names)
    assert calls == Counter({"TransactWriteItems": 3})
    item = table.get_item(Key={"job_id": CLAIM_PREFIX + "id-doc249"})["Item"]
    assert item["claimed_by"] == "job-1" and item["source_key"] == "inbox/default/doc249.txt"


def test_a_transaction_with_a_held_claim_claims_the_rest_one_by_one(stack: Stack) -> None:
    jobs = JobStore(stack.table)
    jobs.claim_documents(_claims(["a", "c"]), "job-1", NOW)

    holders = jobs.claim_documents(_claims(["a", "b", "c", "d"]), "job-2", NOW)

    assert holders == ["job-1", None, "job-1", None]
    assert jobs.claim_document("id-b", "job-3", "inbox/default/b.txt", NOW) == "job-2"
    assert jobs.claim_document("id-d", "job-3", "inbox/default/d.txt", NOW) == "job-2"


def test_no_claims_make_no_call(stack: Stack) -> None:
    table = stack.table
    calls = _calls(table)
    assert JobStore(table).claim_documents([], "job-1", NOW) == []
    assert not calls


def test_a_document_twice_in_one_call_is_claimed_once(stack: Stack) -> None:
    # A transaction may not write one item twice: the repeat is the same job's duplicate.
    holders = JobStore(stack.table).claim_documents(_claims(["a", "b", "a"]), "job-1", NOW)
    assert holders == [None, None, "job-1"]
