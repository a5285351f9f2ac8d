"""Result objects written in parallel, each document confirmed in order once its writes returned."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from batchdrop.observability import logger

T = TypeVar("T")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class ParallelWriter:
    """Runs each document's writes with bounded concurrency and bounded memory, and says which
    were confirmed.

    A document's writes (its result object, and in a workflow its next-stage document) are one
    task. Its ``confirm`` runs in the caller's thread, in the order the tasks were submitted, and
    only once the task has returned: that is when a document may be called done and counted. A
    task that raised leaves its document unconfirmed (done by a later run); the first failure
    stops new submissions and is raised by ``check``.
    """

    def __init__(self, concurrency: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="result-writer")
        self._limit = concurrency * 4
        self._pending: deque[tuple[int, Future[Any], Callable[[Any], None]]] = deque()
        self._positions: set[int] = set()
        self.failures: list[Exception] = []

    def submit(self, position: int, task: Callable[[], T], confirm: Callable[[T], None]) -> None:
        self.check()
        while len(self._pending) >= self._limit:
            self._settle_oldest()
            self.check()
        self._positions.add(position)
        self._pending.append((position, self._pool.submit(task), confirm))

    def pending(self, position: int) -> bool:
        """Whether a task of this position was submitted and is not settled yet."""
        return position in self._positions

    def _settle_oldest(self) -> None:
        position, future, confirm = self._pending.popleft()
        self._positions.discard(position)
        try:
            value = future.result()
        except Exception as exc:  # that document stays undone; the others still settle
            logger.warning("a result write failed", extra={"position": position, "error": repr(exc)})
            self.failures.append(exc)
            return
        confirm(value)

    def drain(self) -> None:
        """Wait for every task submitted; confirm those that succeeded (failures are kept)."""
        while self._pending:
            self._settle_oldest()

    def check(self) -> None:
        if self.failures:
            raise self.failures[0]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
