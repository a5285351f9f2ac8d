"""manifest: entries as JSON lines, job ids and the job's keys."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from batchdrop.domain.keys import manifest_key, results_key, summary_key
from batchdrop.domain.manifest import (
    REJECTED,
    SUBMITTED,
    ManifestEntry,
    dump_manifest,
    follow_up_job_id,
    load_manifest,
    new_job_id,
)

JOB_ID_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")

SUBMITTED_ENTRY = ManifestEntry(
    custom_id="doc-000001-0123456789abcdef",
    source_key="inbox/default/été/日本語 notes, v2 🎉.md",
    version_id=None,
    etag="d41d8cd98f00b204e9800998ecf8427e",
    profile="default",
    error_key="results/default/été/日本語 notes, v2 🎉.md.error.json",
    result_key="results/default/été/日本語 notes, v2 🎉.md.md",
    model="claude-haiku-4-5",
)
REJECTED_ENTRY = ManifestEntry(
    custom_id="doc-000002-fedcba9876543210",
    source_key="inbox/default/scan.pdf",
    version_id="3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
    etag="abc",
    profile="default",
    error_key="results/default/scan.pdf.error.json",
    attempt=2,
    status=REJECTED,
    reason="unsupported file type '.pdf'",
)


@pytest.mark.parametrize("entry", [SUBMITTED_ENTRY, REJECTED_ENTRY], ids=["submitted", "rejected"])
def test_entry_json_round_trip(entry: ManifestEntry) -> None:
    line = entry.to_json()
    assert "\n" not in line
    assert ManifestEntry.from_json(line) == entry


def test_entry_json_keeps_unicode_readable_and_none_as_null() -> None:
    line = SUBMITTED_ENTRY.to_json()
    assert "été/日本語 notes, v2 🎉.md" in line
    data = json.loads(line)
    assert data["version_id"] is None
    assert data["reason"] is None
    assert data["attempt"] == 1
    assert data["status"] == SUBMITTED


def test_entry_defaults() -> None:
    entry = ManifestEntry(
        custom_id="c", source_key="inbox/a.txt", version_id=None, etag="", profile="default", error_key="e"
    )
    assert entry.result_key is None
    assert entry.model is None
    assert entry.attempt == 1
    assert entry.status == "submitted"
    assert entry.reason is None


def test_dump_and_load_manifest_round_trip() -> None:
    data = dump_manifest([SUBMITTED_ENTRY, REJECTED_ENTRY])
    text = data.decode("utf-8")
    assert text.endswith("\n")
    assert text.count("\n") == 2
    assert list(load_manifest(text.splitlines(keepends=True))) == [SUBMITTED_ENTRY, REJECTED_ENTRY]


def test_dump_empty_manifest() -> None:
    assert dump_manifest([]) == b""
    assert list(load_manifest([])) == []


def test_load_manifest_skips_blank_lines() -> None:
    lines = ["\n", SUBMITTED_ENTRY.to_json() + "\n", "", "   \n", "\t", REJECTED_ENTRY.to_json(), "\r\n"]
    assert list(load_manifest(lines)) == [SUBMITTED_ENTRY, REJECTED_ENTRY]


def test_new_job_id_format() -> None:
    job_id = new_job_id(datetime(2026, 11, 25, 15, 23, 1, tzinfo=UTC))
    assert JOB_ID_RE.match(job_id)
    assert job_id.startswith("20261125T152301Z-")


def test_new_job_id_is_unique_and_sorts_by_time() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    ids = {new_job_id(now) for _ in range(500)}
    assert len(ids) == 500
    assert all(JOB_ID_RE.match(i) for i in ids)
    later = new_job_id(datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC))
    assert max(ids) < later


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (manifest_key, "jobs/20261125T090000Z-0a1b2c3d/manifest.jsonl"),
        (results_key, "jobs/20261125T090000Z-0a1b2c3d/results.jsonl"),
        (summary_key, "jobs/20261125T090000Z-0a1b2c3d/summary.json"),
    ],
)
def test_job_keys(function: Callable[[str], str], expected: str) -> None:
    assert function("20261125T090000Z-0a1b2c3d") == expected


@pytest.mark.parametrize(
    ("job_id", "attempt", "expected"),
    [
        ("20261125T182614Z-3f9a1c2b", 2, "20261125T182614Z-3f9a1c2b-a2"),
        # a random part that begins with "a" is not an attempt suffix
        ("20261125T182614Z-a5c0bdc5", 2, "20261125T182614Z-a5c0bdc5-a2"),
        ("20261125T182614Z-a5c0bdc5-a2", 3, "20261125T182614Z-a5c0bdc5-a3"),
        ("20261125T182614Z-3f9a1c2b-a9", 10, "20261125T182614Z-3f9a1c2b-a10"),
    ],
)
def test_follow_up_job_id_keeps_the_first_jobs_id(job_id: str, attempt: int, expected: str) -> None:
    assert follow_up_job_id(job_id, attempt) == expected


def test_sequencer_is_written_only_when_known() -> None:
    assert "sequencer" not in json.loads(SUBMITTED_ENTRY.to_json())
    entry = ManifestEntry.from_json(SUBMITTED_ENTRY.to_json())
    assert entry.sequencer is None
    with_sequencer = replace(SUBMITTED_ENTRY, sequencer="0055AED6DCD90281E5")
    line = with_sequencer.to_json()
    assert json.loads(line)["sequencer"] == "0055AED6DCD90281E5"
    assert ManifestEntry.from_json(line) == with_sequencer


def test_a_manifest_written_before_sequencers_loads() -> None:
    old = (
        '{"custom_id":"c","source_key":"inbox/a.txt","version_id":null,"etag":"","profile":"default",'
        '"error_key":"results/default/a.txt.error.json","result_key":"results/default/a.txt.md"}'
    )
    (entry,) = load_manifest([old])
    assert entry.sequencer is None and entry.result_key == "results/default/a.txt.md"
