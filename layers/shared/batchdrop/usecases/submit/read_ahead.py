"""ReadAhead: the documents of a window read before they are needed, a few at a time."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from batchdrop.ports.bucket import StoredDocument

DocumentVersion = tuple[str, str | None]  # (key, version id)


class ReadAhead:
    """Reads the documents of a window before they are needed, ``concurrency`` at a time.

    Documents are handled one by one, in order (conversion, ids and batch splitting depend on
    it), but S3's latency need not be paid one by one: the reads of the next few documents are
    in flight while one is converted. At most ``2 * concurrency`` bodies are read ahead. A read
    that fails raises from ``get``, for that document alone.
    """

    def __init__(self, read: Callable[[str, str | None], StoredDocument], concurrency: int) -> None:
        self._read = read
        self._pool = (
            ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="document-reader")
            if concurrency > 1
            else None
        )
        self._depth = 2 * concurrency
        self._planned: list[DocumentVersion] = []
        self._position: dict[DocumentVersion, int] = {}
        self._next = 0
        self._inflight: OrderedDict[DocumentVersion, Future[StoredDocument]] = OrderedDict()

    def plan(self, documents: Iterable[DocumentVersion]) -> None:
        """The documents that ``get`` will be asked for, in that order (repeats are read once)."""
        for doc in documents:
            if doc not in self._position:
                self._position[doc] = len(self._planned)
                self._planned.append(doc)
        self._fill()

    def get(self, key: str, version_id: str | None) -> StoredDocument:
        """The document, read ahead when it was planned. Planned documents before it that were
        not asked for (rejected before reading) are dropped."""
        wanted = (key, version_id)
        position = self._position.get(wanted)
        future = None
        if position is not None:
            while self._inflight and self._position[next(iter(self._inflight))] < position:
                self._inflight.popitem(last=False)[1].cancel()
            future = self._inflight.pop(wanted, None)
            self._next = max(self._next, position + 1)
        self._fill()
        return future.result() if future is not None else self._read(key, version_id)

    def _fill(self) -> None:
        if self._pool is None:
            return
        while len(self._inflight) < self._depth and self._next < len(self._planned):
            doc = self._planned[self._next]
            self._next += 1
            self._inflight[doc] = self._pool.submit(self._read, *doc)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
