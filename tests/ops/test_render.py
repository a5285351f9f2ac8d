"""The operator views rendered from typed job records and the bucket's JSON: no AWS, no moto."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from batchdrop.domain.job import JobRecord
from batchdrop.domain.job_summary import JobSummary
from batchdrop.domain.manifest import ManifestEntry
from batchdrop.domain.pricing import PriceTable
from batchdrop.domain.result_line import ResultLine
from batchdrop.domain.summary import Summary
from batchdrop.domain.times import iso
from batchdrop_ops.reading import Manifest
from batchdrop_ops.render.cost import cost_per_model, job_cost_by_profile, render_cost
from batchdrop_ops.render.documents import render_documents
from batchdrop_ops.render.job import render_job
from batchdrop_ops.render.progress import progress_text, request_progress, status_text
from batchdrop_ops.render.status import render_status, status_row
from batchdrop_ops.render.summary import prices_text, summary_lines
from batchdrop_ops.render.text import cost_text, money, progress_bar, table
from batchdrop_ops.times import humanise_age, parse_since

NOW = datetime(2026, 11, 25, 15, 36, 16, tzinfo=UTC)


def _job(job_id: str = "20261125T150000Z-0a0a0a0a", **attributes: Any) -> JobRecord:
    """A job record as the jobs store returns it (plain attributes, as JobStore reads them)."""
    item = {
        "job_id": job_id,
        "status": "submitted",
        "manifest_key": f"jobs/{job_id}/manifest.jsonl",
        "created_at": iso(NOW - timedelta(minutes=3)),
        **attributes,
    }
    return JobRecord.from_attributes(item)


def _cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def _fields(out: str) -> dict[str, str]:
    return {cells[0]: cells[1] for cells in map(_cells, out.splitlines()) if len(cells) == 2}


def test_formatting() -> None:
    now = datetime(2026, 11, 25, 15, 36, 16, tzinfo=UTC)
    ages = (timedelta(seconds=5), timedelta(minutes=3, seconds=59), timedelta(hours=2), timedelta(days=9))
    assert [humanise_age(iso(now - age), now) for age in ages] == ["5s", "3m", "2h", "9d"]
    assert progress_bar(7, 12, width=12) == "[#######.....] 7/12"
    assert progress_bar(0, 0) == "[....................] 0/0"
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("90m", now) == now - timedelta(minutes=90)
    assert parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2026-11-01T12:00:00+01:00", now) == datetime(2026, 11, 1, 11, tzinfo=UTC)
    assert [money(v) for v in (0, 0.000189, 0.01, 1234.5)] == [
        "$0.0000",
        "$0.000189",
        "$0.0100",
        "$1,234.5000",
    ]
    assert cost_text(0.0, complete=False) == "unknown"
    assert cost_text(0.5, complete=False) == "$0.5000 + unknown"
    assert cost_text(None, complete=True) == "-"


_NO_COST = {"batch": 0.0, "standard": 0.0, "savings": 0.0, "complete": True}


def test_summary_lines_name_the_prices_date_thinking_and_approximate_or_unverified_costs() -> None:
    # Given a summary resumed from a checkpoint written before costs were kept per request (a
    # tiered model: approximate), with an unverified price and thinking tokens
    old_state = {
        "counts": {"succeeded": 1},
        "usage": [["default", "claude-haiku-5-5", {"input_tokens": 200_000, "output_tokens": 10}]],
        "stop_reasons": {"end_turn": 1},
        "documents_by_profile": {"default": 2},
        "errors": [],
    }
    summary = JobSummary.from_state("job-1", None, PriceTable.bundled(), old_state)
    usage = {"input_tokens": 10, "output_tokens": 400, "output_tokens_details": {"thinking_tokens": 300}}
    message = {"model": "claude-fable-5-2", "usage": usage, "stop_reason": "end_turn", "content": []}
    entry = ManifestEntry(
        custom_id="doc-2",
        source_key="inbox/default/b.txt",
        version_id=None,
        etag="e",
        profile="default",
        error_key="results/default/b.txt.error.json",
        result_key="results/default/b.txt.md",
        model="claude-fable-5-2",
    )
    summary.record_result(
        entry, ResultLine.of({"custom_id": "doc-2", "result": {"type": "succeeded", "message": message}})
    )

    lines = summary_lines(summary.summarise(), "jobs/job-1/summary.json")

    fields = _fields("\n".join(lines))
    assert (
        fields["tokens"]
        == "input 200,010, output 410 (300 thinking), cache write 5m 0, cache write 1h 0, cache read 0"
    )
    assert fields["prices"] == "prices.json checked 2026-11-30"
    assert (
        "  approximate for: claude-haiku-5-5 (tokens counted before costs were kept per request, "
        in "\n".join(lines)
    )
    assert "  unverified price for: claude-fable-5-2 (prices.json)" in lines

    # a summary written before prices.json had a date
    old = {"job_id": "old", "documents": 0, "counts": {}, "cost": _NO_COST}
    fields = _fields("\n".join(summary_lines(Summary.from_json(old), "jobs/old/summary.json")))
    assert fields["prices"] == "date not recorded (a summary from before prices.json had one)"


def test_table_aligns_columns_two_spaces_apart() -> None:
    assert table(("A", "BB"), [("long", "x"), ("s", "yy")], indent="  ") == [
        "  A     BB",
        "  long  x",
        "  s     yy",
    ]


def test_progress_of_a_running_an_ended_and_a_completed_job() -> None:
    running = _job(requests=4, request_counts={"processing": 2, "succeeded": 1, "errored": 1})
    assert request_progress(running) == (2, 4)
    assert progress_text(running) == "2/4 (1 succeeded, 1 errored)"
    # once the batch has ended, the last poll's counts may predate it: all are done
    ended = _job(status="ended", requests=4, request_counts={"processing": 4})
    assert request_progress(ended) == (4, 4) and progress_text(ended) == "4/4 (batch ended)"
    completed = _job(status="completed", result_counts={"succeeded": 2, "errored": 1, "rejected": 0})
    assert progress_text(completed) == "2/3 succeeded (1 errored)"
    assert progress_text(_job(status="abandoned")) == "-"
    # below Bedrock's minimum job size: held, nothing sent; then taken over by a later job
    held = _job(status="held", requests=2, held_until="2026-12-02T18:00:00Z")
    assert progress_text(held) == "0/2 (held until 2026-12-02T18:00:00Z)"
    assert progress_text(_job(status="merged", merged_into="j2")) == "merged into j2"
    # no requests recorded: the counts' sum is the total
    assert request_progress(_job(request_counts={"processing": 3})) == (0, 3)


def test_status_text_says_a_cancel_was_requested_until_the_job_is_final() -> None:
    asked = iso(NOW)
    assert status_text(_job(cancel_requested_at=asked)) == "submitted (cancel requested)"
    assert status_text(_job(status="completed", cancel_requested_at=asked)) == "completed"


def test_status_rows_show_cost_only_of_completed_jobs_and_never_a_zero_for_an_unknown_price() -> None:
    completed = _job(
        "20261125T140000Z-0b0b0b0b",
        status="completed",
        profiles=["default", "extract"],
        result_counts={"succeeded": 2},
        cost_batch=1.25,
        cost_standard=2.5,
        cost_complete=False,
        attempt=2,
        created_at=iso(NOW - timedelta(minutes=96)),
    )
    assert status_row(completed, NOW) == (
        "20261125T140000Z-0b0b0b0b",
        "default,extract",
        "completed",
        "2/2 succeeded",
        "1h",
        "$1.2500 + unknown",
        "$2.5000 + unknown",
        "2",
    )
    running = _job(profiles=["default"], requests=1)
    assert status_row(running, NOW)[4:] == ("3m", "-", "-", "1")

    text = render_status([running], [running, completed], NOW - timedelta(days=7), NOW, bars=True)
    lines = text.splitlines()
    assert lines[0] == "Open jobs: 1"
    assert f"{running.job_id}  [....................] 0/1" in lines
    assert "Other jobs created since 2026-11-18T15:36:16Z: 1" in lines
    assert lines[-1].startswith(completed.job_id)  # the open job is not listed twice


def test_job_view_of_a_completed_job_without_a_summary_shows_the_recorded_cost() -> None:
    job = _job(
        status="completed",
        profiles=["default"],
        batch_id="msgbatch_1",
        documents=2,
        requests=1,
        rejected=1,
        result_counts={"succeeded": 1, "rejected": 1},
        cost_batch=0.5,
        cost_standard=1,
        completed_at=iso(NOW),
        polled_at=iso(NOW),  # not shown once the job is final
        estimate_batch=0.75,
        estimate_complete=False,
    )
    entries = [
        {"source_key": "inbox/a.txt", "profile": "default", "model": "m", "status": "submitted"},
        {"source_key": "inbox/b.txt", "profile": "default", "status": "rejected"},
    ]
    manifest = Manifest(entries=entries, total=3, found=True)
    manifest.by_profile["default"] = 3
    results = ["answer: results/default/a.txt.md", "error: results/default/b.txt.error.json (rejected)"]

    text = render_job(job, manifest, results, None, NOW, "documents")

    fields = _fields(text)
    assert fields["documents"] == "2 (1 request, 1 rejected)"
    assert fields["results"] == "1/2 succeeded (1 rejected)"
    assert fields["cost"] == "$0.5000 at batch price, $1.0000 at standard price"
    assert fields["estimate"] == "$0.7500 + unknown at batch price (before submitting; output at max_tokens)"
    assert "progress last moved" not in fields and "progress" not in fields
    assert f"Documents ({job.manifest_key}): 3 (default 3)" in text
    assert f"  ... and 1 more (all in s3://documents/{job.manifest_key})" in text
    assert "Summary" not in text


def test_job_view_of_a_running_job_and_of_a_job_without_manifest() -> None:
    job = _job(batch_id="msgbatch_2", processing_status="in_progress", requests=2, polled_at=iso(NOW))
    text = render_job(job, Manifest(), [], None, NOW, "documents")
    fields = _fields(text)
    assert fields["progress"] == "[....................] 0/2"
    assert fields["batch status"] == "in_progress"
    assert fields["progress last moved"] == iso(NOW)
    assert "documents" not in fields  # no documents recorded (an older version's job)
    assert f"Documents: no manifest at s3://documents/{job.manifest_key}" in text


def test_cost_per_profile_and_in_total() -> None:
    priced = _job(
        "20261124T000000Z-01010101",
        status="completed",
        profiles=["extract"],
        cost_batch=1.5,
        cost_standard=3,
        prices_checked="2026-11-30",
    )
    by_profile = _job(
        "20261124T000000Z-02020202",
        status="completed",
        profiles=["default", "extract"],
        cost_batch=1,
        cost_standard=2,
        cost_by_profile={
            "default": {"batch": 1.0, "standard": 2.0, "savings": 1.0, "complete": True},
            "extract": {"batch": 0, "standard": 0, "savings": 0, "complete": True},
        },
    )
    # a job recorded before costs were kept per profile counts whole under its one profile
    assert job_cost_by_profile(priced) == {
        "extract": {"batch": 1.5, "standard": 3.0, "savings": None, "complete": True}
    }

    text = render_cost([priced, by_profile], NOW - timedelta(days=30))

    lines = text.splitlines()
    assert lines[0] == "Completed jobs since 2026-10-26T15:36:16Z: 2"
    assert [_cells(line) for line in lines[2:6]] == [
        ["PROFILE", "JOBS", "BATCH PRICE", "STANDARD PRICE", "SAVINGS"],
        ["default", "1", "$1.0000", "$2.0000", "$1.0000"],
        ["extract", "2", "$1.5000", "$3.0000", "$1.5000"],
        ["total", "2", "$2.5000", "$5.0000", "$2.5000"],
    ]
    assert "Each job is priced per request when it completes, with prices.json checked 2026-11-30." in lines
    assert lines[-1] == "Saved $2.5000 by batching: 50% of the standard price."

    # no cost recorded: unknown, never free
    unpriced = _job("20261124T000000Z-03030303", status="completed", profiles=["extract"])
    lines = render_cost([priced, unpriced], NOW - timedelta(days=30)).splitlines()
    assert _cells(lines[4]) == ["total", "2", "$1.5000 + unknown", "$3.0000 + unknown", "$1.5000 + unknown"]
    assert lines[-1] == f"  {unpriced.job_id} (no cost recorded)"
    assert render_cost([], NOW) == "Completed jobs since 2026-11-25T15:36:16Z: 0"
    assert prices_text([None, ""]) is None


def _row(source: str, model: str | None, cost: float | None, **fields: Any) -> dict[str, Any]:
    return {
        "source_key": source,
        "profile": "default",
        "model": model,
        "attempt": 1,
        "outcome": "succeeded",
        "input_tokens": 100 if model else 0,
        "output_tokens": 20 if model else 0,
        "cost_batch_usd": cost,
        "cost_standard_usd": None if cost is None else cost * 2,
        "result_key": f"results/default/{source}.md",
        **fields,
    }


def test_documents_table_rows_extracted_answers_and_cost_per_model() -> None:
    rows = [
        _row("inbox/b.txt", "claude-b", 0.002, extracted='{"total": 7.5}'),
        _row("inbox/a.txt", "claude-a", None),  # no known price
        _row("inbox/c.txt", None, None, outcome="rejected", result_key=None, retried_in="job-2"),
        _row("inbox/d.txt", "claude-b", 0.001, outcome="errored", error_type="overloaded_error"),
    ]

    text = render_documents("job-1", rows)

    lines = text.splitlines()
    assert lines[0] == "Job job-1: 4 documents"
    table_rows = {cells[0]: cells[1:] for cells in map(_cells, lines[2:7])}
    assert table_rows["inbox/a.txt"][-3:] == ["unknown", "unknown", "results/default/inbox/a.txt.md"]
    assert table_rows["inbox/c.txt"][-1] == "-> job-2"
    assert table_rows["inbox/d.txt"][3] == "errored (overloaded_error)"
    assert '    inbox/b.txt: {"total": 7.5}' in lines
    per_model = {cells[0]: cells[1:] for cells in map(_cells, cost_per_model(rows)[1:])}
    assert per_model["claude-a"] == ["1", "unknown", "unknown", "unknown"]
    assert per_model["claude-b"] == ["2", "$0.003", "$0.006", "$0.003"]
    assert per_model["all models"] == ["3", "$0.003 + unknown", "$0.006 + unknown", "$0.003 + unknown"]
    assert cost_per_model([_row("inbox/x.txt", None, None)]) == []
