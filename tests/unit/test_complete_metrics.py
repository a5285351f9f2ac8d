"""wiring.complete.report: Complete's metrics, read from the typed Summary (names, dimensions
and values as the dashboards and alarms know them)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from batchdrop.domain.job_summary import JobSummary
from batchdrop.domain.manifest import ManifestEntry
from batchdrop.domain.pricing import PriceTable
from batchdrop.domain.result_line import ResultLine
from batchdrop.observability import metrics
from batchdrop.wiring.complete import report

JOB = "20261125T090000Z-0a1b2c3d"


@pytest.fixture(autouse=True)
def _namespace(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(metrics, "namespace", "batchdrop-test")
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def _entry(n: int) -> ManifestEntry:
    return ManifestEntry(
        custom_id=f"doc-{n}",
        source_key=f"inbox/default/{n}.txt",
        version_id=None,
        etag="e",
        profile="default",
        error_key=f"results/default/{n}.txt.error.json",
        result_key=f"results/default/{n}.txt.md",
        model="claude-haiku-5-5",
    )


def test_a_completed_job_reports_its_documents_and_its_usage_by_profile_and_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tally = JobSummary(job_id=JOB, batch_id="msgbatch_01", prices=PriceTable.bundled())
    usage = {"input_tokens": 1000, "output_tokens": 50, "cache_read_input_tokens": 7}
    message = {"model": "claude-haiku-5-5", "usage": usage, "stop_reason": "end_turn", "content": []}
    tally.record_result(
        _entry(0), ResultLine.of({"custom_id": "doc-0", "result": {"type": "succeeded", "message": message}})
    )
    tally.record_result(_entry(1), ResultLine.of({"custom_id": "doc-1", "result": {"type": "expired"}}))
    tally.record_retry(_entry(2), ResultLine.of({"custom_id": "doc-2", "result": {"type": "expired"}}))
    summary = tally.summarise(status="completed", summary_key=f"jobs/{JOB}/summary.json")

    answer = report(summary)

    assert answer["status"] == "completed" and answer["counts"]["succeeded"] == 1
    assert set(answer) == {
        "job_id", "status", "counts", "attempt", "retried_in", "previous_attempt", "summary_key",
        "results_archived",
    }  # fmt: skip
    values = {name: metric["Value"] for name, metric in metrics.metric_set.items()}
    assert values == {
        "DocumentsSucceeded": [1.0],
        "DocumentsRetried": [1.0],
        "DocumentsSuperseded": [0.0],
        "DocumentsFailed": [1.0],
    }
    (emf,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert emf["profile"] == "default" and emf["model"] == "claude-haiku-5-5"
    assert [emf[name] for name in ("InputTokens", "OutputTokens", "CacheReadTokens", "CacheWriteTokens")] == [
        [1000.0],
        [50.0],
        [7.0],
        [0.0],
    ]
    (batch,), (standard,), (savings,) = emf["CostBatchUSD"], emf["CostStandardUSD"], emf["SavingsUSD"]
    assert batch == pytest.approx(standard / 2) and savings == pytest.approx(standard - batch)


@pytest.mark.parametrize(
    ("status", "metric"),
    [
        ("duplicate", "DuplicateDeliveries"),
        ("busy", "DuplicateDeliveries"),
        ("wrong_batch", "BatchesDisowned"),
        ("handed_over", "HandOvers"),
    ],
)
def test_a_completion_that_did_not_complete_counts_what_happened(status: str, metric: str) -> None:
    outcome = {"job_id": JOB, "status": status}
    assert report(outcome) == outcome
    assert {name: m["Value"] for name, m in metrics.metric_set.items()} == {metric: [1.0]}
