"""documents_table: one row per document, with its request's own tokens and cost."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batchdrop.domain.documents_table import COLUMNS, RowFacts, document_row, job_day, row_line
from batchdrop.domain.keys import rows_part_key, table_key
from batchdrop.domain.manifest import REJECTED, ManifestEntry
from batchdrop.domain.pricing import PriceTable, TokenUsage
from batchdrop.domain.result_line import ResultLine

JOB = "20261125T090000Z-0a1b2c3d"
BATCH = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"

# The bundled table: what a row costs must be PriceTable.cost of that request's own usage.
PRICES = PriceTable.bundled()
MODEL = "claude-haiku-4-5"


def _entry(**changes: Any) -> ManifestEntry:
    fields: dict[str, Any] = {
        "custom_id": "doc-000001-0123456789abcdef",
        "source_key": "inbox/extract/receipts/cafe.jpg",
        "version_id": "v1",
        "etag": '"e1"',
        "profile": "extract",
        "error_key": "results/extract/receipts/cafe.jpg.error.json",
        "result_key": "results/extract/receipts/cafe.jpg.json",
        "model": MODEL,
        "attempt": 2,
        "content_sha256": "ab" * 32,
        "settings_hash": "cd" * 8,
        "schema_key": f"jobs/{JOB}/schemas/extract.json",
    }
    fields.update(changes)
    return ManifestEntry(**fields)


def _succeeded(usage: dict[str, Any], model: str = MODEL) -> dict[str, Any]:
    return {
        "custom_id": "doc-000001-0123456789abcdef",
        "result": {
            "type": "succeeded",
            "message": {"model": model, "content": [], "stop_reason": "end_turn", "usage": usage},
        },
    }


USAGE = {
    "input_tokens": 1000,
    "cache_creation_input_tokens": 300,
    "cache_read_input_tokens": 4000,
    "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
    "output_tokens": 500,
    "output_tokens_details": {"thinking_tokens": 320},
}


def test_an_answer_row_has_every_column_the_tokens_by_kind_and_the_cost_of_its_request() -> None:
    row = document_row(
        JOB,
        BATCH,
        _entry(),
        RowFacts(
            "succeeded",
            ResultLine.of(_succeeded(USAGE)),
            result_key="results/extract/receipts/cafe.jpg.json",
            extracted={"total": 7.5},
        ),
        PRICES,
    )
    assert tuple(row) == COLUMNS
    cost = PRICES.cost(MODEL, TokenUsage.from_api(USAGE))
    assert cost is not None and cost.batch < cost.standard
    assert row == {
        "job_id": JOB,
        "source_key": "inbox/extract/receipts/cafe.jpg",
        "item": None,
        "version_id": "v1",
        "etag": '"e1"',
        "content_sha256": "ab" * 32,
        "profile": "extract",
        "settings_hash": "cd" * 8,
        "model": MODEL,
        "batch_id": BATCH,
        "custom_id": "doc-000001-0123456789abcdef",
        "attempt": 2,
        "outcome": "succeeded",
        "error_type": None,
        "stop_reason": "end_turn",
        "input_tokens": 1000,
        "output_tokens": 500,
        "thinking_tokens": 320,
        "cache_write_5m_tokens": 100,
        "cache_write_1h_tokens": 200,
        "cache_read_tokens": 4000,
        "cost_batch_usd": round(cost.batch, 9),
        "cost_standard_usd": round(cost.standard, 9),
        "result_key": "results/extract/receipts/cafe.jpg.json",
        "retried_in": None,
        "extracted": '{"total":7.5}',
    }


def test_a_model_with_no_known_price_has_no_cost_not_a_zero() -> None:
    row = document_row(
        JOB,
        BATCH,
        _entry(model="claude-future-9"),
        RowFacts("succeeded", ResultLine.of(_succeeded(USAGE, "claude-future-9"))),
        PRICES,
    )
    assert (row["cost_batch_usd"], row["cost_standard_usd"]) == (None, None)
    assert row["model"] == "claude-future-9" and row["input_tokens"] == 1000


def test_an_unbilled_request_costs_zero() -> None:
    line = {
        "custom_id": "c",
        "result": {
            "type": "errored",
            "error": {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
        },
    }
    row = document_row(
        JOB, BATCH, _entry(), RowFacts("retried", ResultLine.of(line), retried_in=f"{JOB}-a3"), PRICES
    )
    assert (row["cost_batch_usd"], row["cost_standard_usd"], row["input_tokens"]) == (0.0, 0.0, 0)
    assert (row["outcome"], row["error_type"], row["retried_in"]) == (
        "retried",
        "overloaded_error",
        f"{JOB}-a3",
    )
    assert row["stop_reason"] is None and row["model"] == MODEL


def test_an_invalid_answer_asked_again_is_billed_and_says_why() -> None:
    row = document_row(
        JOB,
        BATCH,
        _entry(),
        RowFacts(
            "retried", ResultLine.of(_succeeded(USAGE)), error_type="invalid_output", retried_in=f"{JOB}-a3"
        ),
        PRICES,
    )
    cost = PRICES.cost(MODEL, TokenUsage.from_api(USAGE))
    assert cost is not None
    assert row["error_type"] == "invalid_output" and row["cost_standard_usd"] == round(cost.standard, 9)
    assert row["extracted"] is None and row["result_key"] is None


@pytest.mark.parametrize("result_type", ["expired", "canceled"])
def test_expired_and_canceled_requests_name_that_as_their_error(result_type: str) -> None:
    row = document_row(
        JOB,
        BATCH,
        _entry(),
        RowFacts(result_type, ResultLine.of({"custom_id": "c", "result": {"type": result_type}})),
        PRICES,
    )
    assert row["error_type"] == result_type and row["cost_batch_usd"] == 0.0


def test_a_document_rejected_at_submit_was_in_no_batch() -> None:
    entry = _entry(status=REJECTED, result_key=None, reason="empty document", model=None)
    row = document_row(JOB, BATCH, entry, RowFacts("rejected", result_key=entry.error_key), PRICES)
    assert (row["batch_id"], row["outcome"], row["result_key"]) == (None, "rejected", entry.error_key)
    assert row["model"] is None and row["input_tokens"] == 0


def test_a_request_of_a_list_names_its_item() -> None:
    row = document_row(JOB, BATCH, _entry(item="q-7"), RowFacts("missing"), PRICES)
    assert row["item"] == "q-7"


def test_a_row_is_one_line_of_json() -> None:
    row = document_row(
        JOB, BATCH, _entry(source_key="inbox/extract/a\nb — café.txt"), RowFacts("missing"), PRICES
    )
    line = row_line(row)
    assert "\n" not in line and json.loads(line) == row and "café" in line


def test_keys() -> None:
    assert table_key("2026-11-25", JOB) == f"tables/documents/day=2026-11-25/{JOB}.jsonl"
    assert rows_part_key(JOB, 3) == f"jobs/{JOB}/documents-parts/000003.jsonl"


@pytest.mark.parametrize(
    ("created_at", "job_id", "day"),
    [
        ("2026-11-25T23:59:59Z", JOB, "2026-11-25"),
        (None, "20261130T000001Z-a5c0bdc5-a2", "2026-11-30"),
        ("", "20261130T000001Z-a5c0bdc5", "2026-11-30"),
    ],
)
def test_the_day_of_a_job_is_when_it_was_created(created_at: str | None, job_id: str, day: str) -> None:
    assert job_day(created_at, job_id) == day


def test_a_job_with_no_date_is_refused() -> None:
    with pytest.raises(ValueError, match="no creation date"):
        job_day(None, "manual-job")
