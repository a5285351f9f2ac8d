"""What a completion runs with: the ports, the prices, the clock and its limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from batchdrop.domain.pricing import PriceTable
from batchdrop.ports import (
    Backends,
    BatchBackend,
    Bucket,
    ClaimingJobs,
    Clock,
    CrashHook,
    EventBus,
    Notifier,
    no_crash,
)
from batchdrop.ports.batches import BEDROCK_ON_DEMAND

if TYPE_CHECKING:
    from batchdrop.usecases.batch_creation import CreationPolicy

# A Complete invocation that holds a job longer than this without finishing is presumed dead.
COMPLETING_LEASE = timedelta(minutes=20)


def _default_creation() -> CreationPolicy:
    # batch_creation (and the adapters it names) loads when a follow-up job is first made.
    from batchdrop.usecases.batch_creation import CreationPolicy

    return CreationPolicy()


class WrongBatch(RuntimeError):
    """An adopted batch's results name none of the job's documents: it was another's."""


class JobNotEnded(RuntimeError):
    """A "Batch Ended" for a job that is not (or no longer) waiting to be completed."""


@dataclass(frozen=True)
class CompletionContext:
    jobs: ClaimingJobs
    store: Bucket
    batches: BatchBackend
    notifier: Notifier
    events: EventBus
    prices: PriceTable
    now: Clock
    write_concurrency: int = 16
    crash: CrashHook = no_crash  # the local stack and the tests inject one; deployed, nothing
    lease: timedelta = COMPLETING_LEASE
    # Attempts a request gets in all (the first and the follow-ups) before it gets an error.
    max_attempts: int = 3
    # Seconds this invocation has left (Lambda's context); None: no limit.
    remaining: Callable[[], float] | None = None
    # How a follow-up job's batch is created (leases, waiting for queue capacity).
    creation: CreationPolicy = field(default_factory=_default_creation)
    # The backends by name (None: ``batches`` alone, the Claude API's): a job is completed, and
    # its follow-up created, on the backend it records.
    backends: Backends | None = None

    def on_backend(self, backend: str) -> CompletionContext:
        """The context whose ``batches`` is the job's backend. Raises BackendUnavailable."""
        if self.backends is None:
            return self
        batches = self.backends.for_backend(backend)
        if backend == BEDROCK_ON_DEMAND:  # answered by InvokeModel: billed at the on-demand price
            return replace(self, batches=batches, prices=self.prices.on_demand())
        return replace(self, batches=batches)
