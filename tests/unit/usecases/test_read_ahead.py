"""ReadAhead: documents read concurrently ahead of their in-order handling."""

from __future__ import annotations

import threading
import time

import pytest

from batchdrop.ports.bucket import DocumentGone, StoredDocument
from batchdrop.usecases.submit.read_ahead import ReadAhead


class Reads:
    """A read function that records what was read and how many reads overlapped."""

    def __init__(self, delay: float = 0.0, missing: frozenset[str] = frozenset()) -> None:
        self.delay = delay
        self.missing = missing
        self.keys: list[str] = []
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    def __call__(self, key: str, version_id: str | None) -> StoredDocument:
        with self._lock:
            self.keys.append(key)
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        time.sleep(self.delay)
        with self._lock:
            self.active -= 1
        if key in self.missing:
            raise DocumentGone(key)
        return StoredDocument(key, key.encode(), version_id, "etag", "text/plain", {})


def _docs(n: int) -> list[tuple[str, str | None]]:
    return [(f"inbox/default/{i}.txt", None) for i in range(n)]


def test_documents_come_back_in_order_read_concurrently() -> None:
    reads = Reads(delay=0.02)
    ahead = ReadAhead(reads, concurrency=8)
    ahead.plan(_docs(40))
    try:
        bodies = [ahead.get(key, version).body for key, version in _docs(40)]
    finally:
        ahead.close()
    assert bodies == [key.encode() for key, _ in _docs(40)]
    assert sorted(reads.keys) == sorted(key for key, _ in _docs(40))  # each read once
    assert 1 < reads.most_active <= 8


def test_no_more_than_twice_the_concurrency_is_read_ahead() -> None:
    reads = Reads()
    ahead = ReadAhead(reads, concurrency=4)
    ahead.plan(_docs(100))
    time.sleep(0.1)
    assert len(reads.keys) == 8
    ahead.get(*_docs(100)[0])
    time.sleep(0.1)
    assert len(reads.keys) == 9
    ahead.close()


def test_a_failed_read_raises_for_that_document_alone() -> None:
    reads = Reads(missing=frozenset({"inbox/default/1.txt"}))
    ahead = ReadAhead(reads, concurrency=4)
    docs = _docs(3)
    ahead.plan(docs)
    assert ahead.get(*docs[0]).body == b"inbox/default/0.txt"
    with pytest.raises(DocumentGone):
        ahead.get(*docs[1])
    assert ahead.get(*docs[2]).body == b"inbox/default/2.txt"
    ahead.close()


def test_documents_never_asked_for_do_not_stall_the_rest() -> None:
    # The first 20 planned documents are skipped (rejected before reading): the reads ahead
    # move on to the ones asked for instead of waiting for those to be taken.
    reads = Reads()
    ahead = ReadAhead(reads, concurrency=2)
    docs = _docs(40)
    ahead.plan(docs)
    for key, version in docs[20:]:
        assert ahead.get(key, version).key == key
    ahead.close()
    assert len(reads.keys) <= 4 + 20  # the four read ahead at first, then only what was asked for


def test_unplanned_and_sequential_reads_go_straight_to_the_store() -> None:
    reads = Reads()
    sequential = ReadAhead(reads, concurrency=1)
    sequential.plan(_docs(3))
    assert reads.keys == []  # nothing read ahead without concurrency
    assert sequential.get("inbox/default/9.txt", "v1").version_id == "v1"
    assert reads.keys == ["inbox/default/9.txt"]
    sequential.close()
