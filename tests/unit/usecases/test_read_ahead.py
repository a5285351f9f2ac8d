"""ReadAhead: documents read concurrently ahead of their in-order handling."""

from __future__ import annotations

import threading

import pytest

from batchdrop.ports.bucket import DocumentGone, StoredDocument
from batchdrop.usecases.submit.read_ahead import ReadAhead

# Bounds a wait on the reader threads when ReadAhead is broken; a working one is far quicker.
DEADLINE = 60.0


class Reads:
    """A read function that records what was read and how many reads overlapped.

    With ``together``, each read waits (up to DEADLINE) until that many are in flight at once,
    so that the overlap is certain rather than likely; reads that can never overlap time out."""

    def __init__(self, together: int = 1, missing: frozenset[str] = frozenset()) -> None:
        self.together = together
        self.missing = missing
        self.keys: list[str] = []
        self.active = 0
        self.most_active = 0
        self._changed = threading.Condition()

    def __call__(self, key: str, version_id: str | None) -> StoredDocument:
        with self._changed:
            self.keys.append(key)
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            self._changed.notify_all()
            overlapped = self._changed.wait_for(lambda: self.most_active >= self.together, DEADLINE)
            self.active -= 1
        assert overlapped, f"never {self.together} reads at once"
        if key in self.missing:
            raise DocumentGone(key)
        return StoredDocument(key, key.encode(), version_id, "etag", "text/plain", {})

    def wait_for(self, count: int) -> list[str]:
        """The keys once ``count`` reads have started (fails after DEADLINE seconds)."""
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.keys) >= count, DEADLINE), self.keys
            return list(self.keys)


def _docs(n: int) -> list[tuple[str, str | None]]:
    return [(f"inbox/default/{i}.txt", None) for i in range(n)]


def test_documents_come_back_in_order_read_concurrently() -> None:
    reads = Reads(together=2)  # no read returns before a second one is in flight
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
    docs = _docs(100)
    ahead.plan(docs)
    # plan() hands the reads to the pool before it returns: once eight have run, that is all
    # of them (more are only handed over by get()); close() waits for any still running.
    assert sorted(reads.wait_for(8)) == sorted(key for key, _ in docs[:8])
    ahead.get(*docs[0])
    assert sorted(reads.wait_for(9)) == sorted(key for key, _ in docs[:9])
    ahead.close()
    assert sorted(reads.keys) == sorted(key for key, _ in docs[:9])


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
