"""DocumentStore.put_newest: a document version's result object never replaces a newer
version's, even when the newer one is written between the look and the write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import boto3
import pytest
from moto import mock_aws

from batchdrop.adapters.s3_bucket import DocumentStore, WriteContended
from batchdrop.domain.manifest import ManifestEntry
from batchdrop.domain.result_line import ResultLine
from batchdrop.domain.results import ResultObject, Superseded, error_object, result_object

BUCKET = "documents"
OLDER, NEWER = "0055AED6DCD90281E5", "0055AED6DCD90281F0"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def _entry(sequencer: str | None, version: str, source: str = "inbox/default/report.txt") -> ManifestEntry:
    name = source.removeprefix("inbox/default/")
    return ManifestEntry(
        custom_id=f"doc-{version}",
        source_key=source,
        version_id=version,
        etag="e",
        profile="default",
        error_key=f"results/default/{name}.error.json",
        result_key=f"results/default/{name}.md",
        model="claude-haiku-4-5",
        sequencer=sequencer,
    )


def _answer(job: str, entry: ManifestEntry, text: str) -> ResultObject:
    line = {
        "custom_id": entry.custom_id,
        "result": {
            "type": "succeeded",
            "message": {
                "model": "claude-haiku-4-5",
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
            },
        },
    }
    return result_object(job, entry, ResultLine.of(line))


def _body(s3: Any, key: str) -> str:
    return str(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode())


def test_a_new_key_is_written(s3: Any) -> None:
    store = DocumentStore(s3, BUCKET)
    assert store.put_newest(_answer("job-1", _entry(OLDER, "v1"), "one")) is None
    assert _body(s3, "results/default/report.txt.md") == "one"


def test_a_newer_version_replaces_an_older_one(s3: Any) -> None:
    store = DocumentStore(s3, BUCKET)
    store.put_newest(_answer("job-1", _entry(OLDER, "v1"), "one"))
    assert store.put_newest(_answer("job-2", _entry(NEWER, "v2"), "two")) is None
    assert _body(s3, "results/default/report.txt.md") == "two"


def test_an_older_version_does_not_replace_a_newer_one(s3: Any) -> None:
    store = DocumentStore(s3, BUCKET)
    store.put_newest(_answer("job-2", _entry(NEWER, "v2"), "two"))
    held = store.put_newest(_answer("job-1", _entry(OLDER, "v1"), "one"))
    assert held == Superseded(
        key="results/default/report.txt.md", version_id="v2", sequencer=NEWER, job_id="job-2"
    )
    assert _body(s3, "results/default/report.txt.md") == "two"


def test_the_same_version_is_written_again(s3: Any) -> None:
    # A completion resumed after a crash writes what it wrote before: same key, same content.
    store = DocumentStore(s3, BUCKET)
    store.put_newest(_answer("job-1", _entry(OLDER, "v1"), "one"))
    assert store.put_newest(_answer("job-1", _entry(OLDER, "v1"), "one")) is None


def test_without_a_sequencer_the_write_is_unconditional(s3: Any) -> None:
    store = DocumentStore(s3, BUCKET)
    store.put_newest(_answer("job-2", _entry(NEWER, "v2"), "two"))
    assert store.put_newest(_answer("job-1", _entry(None, "v1"), "old manifest")) is None
    assert _body(s3, "results/default/report.txt.md") == "old manifest"


def test_an_object_of_another_source_is_not_compared(s3: Any) -> None:
    # Sequencers of two keys do not compare: another source's object at the key is replaced.
    store = DocumentStore(s3, BUCKET)
    other = _answer("job-9", _entry(NEWER, "v9", source="inbox/default/other.txt"), "other")
    s3.put_object(Bucket=BUCKET, Key="results/default/report.txt.md", Body=b"other", Metadata=other.metadata)
    assert store.put_newest(_answer("job-1", _entry(OLDER, "v1"), "one")) is None
    assert _body(s3, "results/default/report.txt.md") == "one"


def test_an_older_versions_error_does_not_join_a_newer_versions_answer(s3: Any) -> None:
    store = DocumentStore(s3, BUCKET)
    store.put_newest(_answer("job-2", _entry(NEWER, "v2"), "two"))
    older = _entry(OLDER, "v1")
    error = error_object("job-1", older, result_type="expired", reason="expired")
    held = store.put_newest(error, sibling=older.result_key)
    assert held is not None and held.key == "results/default/report.txt.md"
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="results/default/report.txt.error")


class _NewerWrittenMeanwhile:
    """An S3 client on which, just after the first look at the key, another Complete writes the
    newer version's answer: the race between HEAD and PUT."""

    def __init__(self, s3: Any, newer: ResultObject) -> None:
        self._s3 = s3
        self._newer = newer
        self.raced = False

    def head_object(self, **kwargs: Any) -> Any:
        head = self._s3.head_object(**kwargs)
        if not self.raced:
            self.raced = True
            DocumentStore(self._s3, BUCKET).put_result(self._newer)
        return head

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def test_a_newer_answer_written_between_the_look_and_the_write_is_kept(s3: Any) -> None:
    # Given the key holds an older answer, and a newer version's answer lands while we look
    store = DocumentStore(s3, BUCKET)
    store.put_newest(_answer("job-0", _entry("0055AED6DCD90281A0", "v0"), "zero"))
    racing = _NewerWrittenMeanwhile(s3, _answer("job-2", _entry(NEWER, "v2"), "two"))

    # When an in-between version writes (its If-Match names the ETag it saw, now gone)
    held = DocumentStore(cast(Any, racing), BUCKET).put_newest(_answer("job-1", _entry(OLDER, "v1"), "one"))

    # Then the conditional write failed, the key was looked at again, and the newer answer stays
    assert racing.raced
    assert held is not None and held.job_id == "job-2"
    assert _body(s3, "results/default/report.txt.md") == "two"


class _AlwaysContended:
    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def put_object(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "ConditionalRequestConflict", "Message": "busy"}}, "PutObject")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def test_a_write_that_keeps_losing_gives_up_with_an_error(s3: Any) -> None:
    store = DocumentStore(cast(Any, _AlwaysContended(s3)), BUCKET)
    with pytest.raises(WriteContended):
        store.put_newest(_answer("job-1", _entry(OLDER, "v1"), "one"))


def test_metadata_of_the_longest_key_fits_s3s_2_kb(s3: Any) -> None:
    # A 1,024-byte key of 2-byte characters (6 once quoted), a long version id: quoted and capped.
    name = "é" * 340 + ".txt"
    source = "inbox/default/" + name[: (1024 - 14) // 2]
    entry = _entry(NEWER, "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY" * 30, source=source)
    obj = _answer("20261125T090000Z-0a1b2c3d-a2", entry, "answer")
    size = sum(len(k.encode()) + len(v.encode()) for k, v in obj.metadata.items())
    assert size < 2048
    assert all(v.isascii() and v.isprintable() for v in obj.metadata.values())
    DocumentStore(s3, BUCKET).put_newest(obj)
    head = s3.head_object(Bucket=BUCKET, Key=obj.key)
    assert head["Metadata"] == obj.metadata
