"""What the operator commands read, over in-memory fakes of the jobs store and the bucket: the
order of jobs, a job's manifest, summary and documents table, and where each document's result
is (cheap first: the summary, the follow-up's manifest; head_object last)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batchdrop.domain.job import JobRecord
from batchdrop_ops.commands import job_frame, status_frame
from batchdrop_ops.errors import ReportError
from batchdrop_ops.reading import HEAD_LIMIT, LIST_LIMIT, Manifest, StackReader, read_summary
from tests.fakes import FakeBucket, FakeJobs, iso, summary_of

NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class ScanningJobs(FakeJobs):
    """FakeJobs with the operator's two scans (JobStore.created_since and completed_since)."""

    def _all(self) -> Iterator[JobRecord]:
        for job_id in self.items:
            record = self.get(job_id)
            assert record is not None
            yield record

    def created_since(self, since: datetime) -> Iterator[JobRecord]:
        return (j for j in self._all() if j.created_at >= iso(since))

    def completed_since(self, since: datetime) -> Iterator[JobRecord]:
        return (j for j in self._all() if j.status == "completed" and (j.completed_at or "") >= iso(since))


class S3LikeBucket(FakeBucket):
    """FakeBucket whose missing objects fail as S3's do (NoSuchKey), and which counts HEADs."""

    heads = 0

    def read_lines(self, key: str) -> Iterator[str]:
        if key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "gone"}}, "GetObject")
        yield from super().read_lines(key)

    def exists(self, key: str) -> bool:
        self.heads += 1
        return super().exists(key)


def _put(jobs: FakeJobs, job_id: str, age: timedelta, **attributes: Any) -> None:
    jobs.items[job_id] = {
        "job_id": job_id,
        "status": "submitted",
        "manifest_key": f"jobs/{job_id}/manifest.jsonl",
        "created_at": iso(NOW - age),
        **attributes,
    }


def _lines(*entries: dict[str, Any]) -> str:
    return "".join(json.dumps(entry) + "\n" for entry in entries)


def _entry(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "custom_id": f"doc-{n}",
        "source_key": f"inbox/default/{n}.txt",
        "profile": "default",
        "status": "submitted",
        "result_key": f"results/default/{n}.txt.md",
        "error_key": f"results/default/{n}.txt.error.json",
        **fields,
    }


@pytest.fixture
def jobs() -> ScanningJobs:
    return ScanningJobs()


@pytest.fixture
def bucket() -> S3LikeBucket:
    return S3LikeBucket()


@pytest.fixture
def reader(jobs: ScanningJobs, bucket: S3LikeBucket) -> StackReader:
    return StackReader(jobs, bucket, "jobs-table")


def test_jobs_recent_newest_first_completed_oldest_first(jobs: ScanningJobs, reader: StackReader) -> None:
    _put(jobs, "old", timedelta(days=3), status="completed", completed_at=iso(NOW - timedelta(days=2)))
    _put(jobs, "new", timedelta(hours=1), status="completed", completed_at=iso(NOW - timedelta(days=3)))
    _put(jobs, "open", timedelta(hours=2), open_flag="OPEN")
    _put(jobs, "ancient", timedelta(days=30))

    assert [j.job_id for j in reader.created_since(NOW - timedelta(days=7))] == ["new", "open", "old"]
    assert [j.job_id for j in reader.completed_since(NOW - timedelta(days=7))] == ["new", "old"]
    assert [j.job_id for j in reader.open_jobs()] == ["open"]

    text, more = status_frame(reader, NOW - timedelta(days=7))
    assert more and text.splitlines()[0] == "Open jobs: 1"
    firsts = [line.split()[0] for line in text.splitlines() if line]
    assert firsts == ["Open", "JOB", "open", "Other", "JOB", "new", "old"]  # open ones listed once


def test_an_unknown_job_is_one_line_naming_the_table(reader: StackReader) -> None:
    with pytest.raises(ReportError, match=r"^no job nope in the jobs table jobs-table$"):
        reader.job("nope")


def test_missing_objects_read_as_none_and_empty_ones_as_nothing(
    reader: StackReader, bucket: S3LikeBucket
) -> None:
    assert reader.jsonl("jobs/x/manifest.jsonl") is None
    assert reader.documents("x") is None
    bucket.put("jobs/x/documents.jsonl", "")
    assert reader.documents("x") == []
    bucket.put("jobs/x/documents.jsonl", _lines({"a": 1}) + "\n" + _lines({"a": 2}))
    assert reader.documents("x") == [{"a": 1}, {"a": 2}]
    assert read_summary(bucket, "jobs/x/summary.json") is None
    bucket.put("jobs/x/summary.json", json.dumps(summary_of(retried_in="x-a2").to_json()))
    assert read_summary(bucket, "jobs/x/summary.json") == summary_of(retried_in="x-a2")
    # a file that is not a summary is said to be one, never shown as an empty summary
    bucket.put("jobs/y/summary.json", json.dumps({"job_id": "y"}))
    with pytest.raises(
        ReportError, match=r"^jobs/y/summary.json is not a summary batchdrop wrote \(KeyError"
    ):
        read_summary(bucket, "jobs/y/summary.json")


def test_the_manifest_lists_the_first_entries_and_counts_them_all(
    jobs: ScanningJobs, reader: StackReader, bucket: S3LikeBucket
) -> None:
    _put(jobs, "big", timedelta(hours=1))
    entries = [_entry(n, profile="extract" if n % 2 else "default") for n in range(LIST_LIMIT + 10)]
    bucket.put("jobs/big/manifest.jsonl", _lines(*entries))

    manifest = reader.manifest(reader.job("big"))

    assert manifest.found and manifest.total == LIST_LIMIT + 10
    assert len(manifest.entries) == LIST_LIMIT
    assert manifest.by_profile == {"default": 30, "extract": 30}
    assert not reader.manifest(
        JobRecord.from_attributes(
            {**jobs.items["big"], "job_id": "other", "manifest_key": "jobs/other/manifest.jsonl"}
        )
    ).found


def test_results_come_from_the_summary_and_the_follow_up_before_any_head(
    jobs: ScanningJobs, reader: StackReader, bucket: S3LikeBucket
) -> None:
    _put(jobs, "done", timedelta(hours=1), status="completed")
    manifest = Manifest(entries=[_entry(1), _entry(2), _entry(3)], total=3, found=True)
    summary = summary_of(
        errors=[{"error_key": "results/default/2.txt.error.json", "type": "overloaded_error"}],
        retried_in="done-a2",
    )
    bucket.put("jobs/done-a2/manifest.jsonl", _lines(_entry(3)))

    results = reader.document_results(reader.job("done"), manifest, summary)

    assert results == [
        "answer: results/default/1.txt.md",
        "error: results/default/2.txt.error.json (overloaded_error)",
        "retried in done-a2",
    ]
    assert bucket.heads == 0


def test_results_are_looked_up_when_the_summary_cannot_tell_at_most_head_limit(
    jobs: ScanningJobs, reader: StackReader, bucket: S3LikeBucket
) -> None:
    _put(jobs, "done", timedelta(hours=1), status="completed")
    entries = [_entry(n) for n in range(HEAD_LIMIT + 2)]
    bucket.put("results/default/0.txt.md", "answer")
    bucket.put("results/default/1.txt.error.json", "{}")
    manifest = Manifest(entries=entries, total=len(entries), found=True)

    results = reader.document_results(reader.job("done"), manifest, summary_of(errors_truncated=True))

    assert results[:3] == [
        "answer: results/default/0.txt.md",
        "error: results/default/1.txt.error.json",
        "neither answer nor error found",
    ]
    assert results[-2:] == ["not checked", "not checked"]


def test_documents_of_a_job_not_completed_are_pending_or_not_sent(
    jobs: ScanningJobs, reader: StackReader
) -> None:
    _put(jobs, "running", timedelta(hours=1))
    _put(jobs, "gone", timedelta(hours=1), status="abandoned")
    manifest = Manifest(entries=[_entry(1), _entry(2, status="rejected")], total=2, found=True)

    assert reader.document_results(reader.job("running"), manifest, None) == [
        "pending",
        "error: results/default/2.txt.error.json (rejected)",
    ]
    assert reader.document_results(reader.job("gone"), manifest, None)[0] == "not sent (job abandoned)"


def test_job_frame_reads_the_manifest_once_per_watch_and_the_summary_once_completed(
    jobs: ScanningJobs, reader: StackReader, bucket: S3LikeBucket
) -> None:
    _put(jobs, "job", timedelta(minutes=5), requests=1)
    bucket.put("jobs/job/manifest.jsonl", _lines(_entry(1)))
    cache: dict[str, Manifest] = {}

    text, more = job_frame(reader, "job", cache)
    assert more and "Summary" not in text
    bucket.objects.pop("jobs/job/manifest.jsonl")  # read once: the cached one is used
    jobs.items["job"].update(status="completed", result_counts={"succeeded": 1})
    cost = {"batch": 0.5, "standard": 1.0, "savings": 0.5, "complete": True}
    bucket.put("jobs/job/summary.json", json.dumps(summary_of(job_id="job", cost=cost).to_json()))

    text, more = job_frame(reader, "job", cache)

    assert not more
    assert "Documents (jobs/job/manifest.jsonl): 1 (default 1)" in text
    assert "Summary (jobs/job/summary.json)" in text
