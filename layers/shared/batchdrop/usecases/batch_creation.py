"""Creating a job's batch: the one routine that Submit, a follow-up (retry) job and Poll share.

The API takes no idempotency key, so a create whose answer is lost (a dropped connection, a
timeout, a 5xx that a gateway sent after the API acted) may or may not have made a batch.
The rules, in order:

1. The job is recorded (``submitting``, with its manifest and its requests in S3) before any
   create, and its creation is leased to one owner (a token): only the lease's holder calls
   create, renewing the lease first; a writer that lost it calls nothing.
2. Each create call is recorded (``create_calls``) before it is made. Before a create that may
   repeat an earlier one, find out: list the batches, and adopt one of the job's size made
   within ``create_span`` of one of those calls that no other job has claimed.
3. A 429 (the organisation's batch queue is full) made no batch: the call is settled (never
   looked for), the job waits with backoff, and Poll tries again when the wait is over; after
   ``queue_wait_max`` it gives up, and every document gets an ``.error.json`` that names the
   reason. Nothing is dead-lettered meanwhile.
4. A refusal that will not change (400, 413...) is settled too, and gives up at once.
5. A lost answer (5xx, 408, 409, dropped connection, timeout) is settled by listing; with no
   batch listed, nothing is created again before ``create_span`` after the call. When listing
   fails, Poll settles it once the lease runs out.

An adopted batch is checked when its results are read: their custom_ids must be the manifest's
(Complete). The residual risk is named in the README (Guarantees).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from batchdrop.domain.times import parse_time
from batchdrop.observability import logger
from batchdrop.ports.batches import BatchBackend, BatchInfo, BatchMayExist, BatchRefused, BatchRejected
from batchdrop.ports.jobs import ClaimingJobs
from batchdrop.ports.runtime import Clock, CrashHook, no_crash

CreationStore = ClaimingJobs


# The longest a create call may take before its answer counts as lost: the batch backend's
# client gives up by then (adapters.anthropic_backend.SDK_TIMEOUT_SECONDS; a test holds them equal).
CREATE_TIMEOUT = timedelta(seconds=120)
# A batch is taken for a job's only if it was created this close to one of the job's own
# create calls: the clocks of AWS and the API may differ by up to CLOCK_SKEW, and a create
# takes at most the SDK's timeout to be made.
CLOCK_SKEW = timedelta(minutes=1)
CREATE_SPAN = CREATE_TIMEOUT + CLOCK_SKEW


@dataclass(frozen=True)
class CreationPolicy:
    """How creating a batch copes with a full queue and with answers lost on the way."""

    # How long a writer holds a job's creation before Poll may take it over: longer than any
    # Submit or Complete invocation may run (15 minutes), as deployed.
    lease: timedelta = timedelta(minutes=20)
    # Documents wait this long for the batch queue to drain before they get an .error.json.
    queue_wait_max: timedelta = timedelta(hours=24)
    # Waits between tries while the queue is full: doubling from the first up to the last.
    first_backoff: timedelta = timedelta(minutes=1)
    max_backoff: timedelta = timedelta(minutes=30)
    # Creates tried in one call after 429s that asked for a short wait.
    attempts: int = 3
    # How long after a create call a batch it made may take to be listed (tests shorten it):
    # no batch is created again for the job before then.
    create_span: timedelta = CREATE_SPAN
    # A 429 asking for at most this long is waited out in place; a longer one ends the call.
    wait_in_place_seconds: float = 10.0


@dataclass(frozen=True)
class Created:
    batch: BatchInfo
    adopted: bool  # found by listing, not from the answer to a create


@dataclass(frozen=True)
class Waiting:
    until: datetime
    reason: str


@dataclass(frozen=True)
class Uncertain:
    """The creation's outcome could not be settled now; Poll settles it after the lease."""

    reason: str


@dataclass(frozen=True)
class GaveUp:
    reason: str


CreationOutcome = Created | Waiting | Uncertain | GaveUp


@dataclass
class JobToCreate:
    job_id: str
    requests: int  # how many requests its batch holds
    # The token under which this writer holds the job's creation lease (record_intent or
    # claim_creation): create is called only while it still holds it.
    owner: str = ""
    # When each create of the job's batch was called so far (recorded before the call).
    create_calls: list[datetime] = field(default_factory=list)
    waiting_since: datetime | None = None
    refusals: int = 0  # 429s so far
    # Batches once adopted for the job whose results proved to be another's: never again.
    disowned: frozenset[str] = frozenset()


def new_owner() -> str:
    """A token for one writer's hold on a job's creation."""
    return uuid.uuid4().hex


def requests_from_lines(lines: Iterator[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.strip()]


class BatchCreation:
    """Creates (or finds) the batch of one job and records it."""

    def __init__(
        self,
        jobs: CreationStore,
        batches: BatchBackend,
        now: Clock,
        policy: CreationPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        crash: CrashHook = no_crash,
    ) -> None:
        self.jobs = jobs
        self.crash = crash
        self.batches = batches
        self.now = now
        self.policy = policy or CreationPolicy()
        self.sleep = sleep

    def run(
        self, job: JobToCreate, requests: list[dict[str, Any]] | Callable[[], list[dict[str, Any]]]
    ) -> CreationOutcome:
        """Find or create the job's batch. When a create was called before (by a writer that
        died, or whose answer was lost), the batches are listed first. ``requests`` may be a
        function that reads them (Poll: from S3), called only when a create is needed."""
        if job.create_calls:
            try:
                found = self.find(job)
            except Exception as exc:
                return self._uncertain(job, f"could not list the batches to find the job's: {exc}")
            if found is not None:
                return self._recorded(job, found, adopted=True)
        body: list[dict[str, Any]] | None = None
        for attempt in range(1, self.policy.attempts + 1):
            if body is None:
                body = requests() if callable(requests) else requests
            called = self.now()
            if not self.jobs.note_create_call(job.job_id, called, job.owner, self.policy.lease):
                # The lease ran out (this writer was slow) and another took the creation over:
                # it finds this writer's batches by their create calls, or creates the batch.
                return self._uncertain(job, "the creation was taken over by another writer")
            job.create_calls.append(called)
            self.crash("create:before-call")
            try:
                # A Bedrock job is named and keyed by the batchdrop job (its create token).
                batch = self.batches.for_job(job.job_id).create(body)
            except BatchRefused as exc:
                self._settled(job, called)  # a 429 made no batch: no listing need look for it
                wait = exc.retry_after
                if (
                    attempt < self.policy.attempts
                    and wait is not None
                    and wait <= self.policy.wait_in_place_seconds
                ):
                    self.sleep(wait)
                    continue
                return self._wait(job, f"the API refused to create the batch for now (429): {exc}")
            except BatchRejected as exc:
                self._settled(job, called)
                return self._give_up(job, str(exc))
            except BatchMayExist as exc:
                logger.warning("the answer to a create was lost: finding out", extra={"job_id": job.job_id})
                try:
                    found = self.find(job)
                except Exception as list_error:
                    return self._uncertain(job, f"{exc}; and listing the batches failed: {list_error}")
                if found is not None:
                    return self._recorded(job, found, adopted=True)
                # Not listed yet is not proof of none: a batch this call made may still show up
                # until create_span after the call. Nothing is created again before then.
                return self._wait(
                    job,
                    f"no batch listed after a lost create answer ({exc}); listing again before a new create",
                    not_before=called + self.policy.create_span,
                )
            self.crash("create:after-call")
            return self._recorded(job, batch, adopted=False)
        raise AssertionError("unreachable")

    def find(self, job: JobToCreate) -> BatchInfo | None:
        """The batch one of the job's earlier creates made, claimed for it; None when none did.

        The API lists no requests, so a batch is recognised by its size and by being created
        within create_span after one of the job's create calls, among the batches no other job
        has claimed; the oldest such one is the job's.
        """
        if not job.create_calls:
            return None
        since = min(job.create_calls) - CLOCK_SKEW

        def near_a_call(batch: BatchInfo) -> bool:
            created = parse_time(batch.created_at)
            return any(
                call - CLOCK_SKEW <= created <= call + self.policy.create_span for call in job.create_calls
            )

        candidates = [
            batch
            for batch in self.batches.created_since(since)
            if batch.requests == job.requests and near_a_call(batch) and batch.id not in job.disowned
        ]
        for batch in sorted(candidates, key=lambda b: b.created_at):
            if self.jobs.claim_batch(batch.id, job.job_id, self.now()):
                return batch
        return None

    def _recorded(self, job: JobToCreate, batch: BatchInfo, adopted: bool) -> Created:
        now = self.now()
        if not adopted and not self.jobs.claim_batch(batch.id, job.job_id, now):
            # The answer to our own create names this batch: it is ours, whoever took it for
            # theirs in between (its results will not match that job's manifest).
            taken_by = self.jobs.batch_holder(batch.id)
            self.jobs.claim_batch(batch.id, job.job_id, now, force=True)
            logger.error(
                "a batch just created had been adopted by another job: claimed back",
                extra={"job_id": job.job_id, "batch_id": batch.id, "other_job": taken_by},
            )
        self.crash("create:after-batch-claim")
        if not self.jobs.record_submitted(
            job.job_id, batch.id, batch.expires_at, batch.created_at, now, adopted
        ):
            current = self.jobs.get(job.job_id)
            if current is None or current.batch_id != batch.id:
                # Its batch is claimed for it, so Poll's next look adopts it; say so loudly.
                logger.error(
                    "batch created but the job could not be marked submitted",
                    extra={"job_id": job.job_id, "batch_id": batch.id},
                )
        logger.info(
            "batch adopted" if adopted else "batch created",
            extra={"job_id": job.job_id, "batch_id": batch.id, "requests": job.requests},
        )
        return Created(batch, adopted)

    def _settled(self, job: JobToCreate, called: datetime) -> None:
        self.jobs.settle_create_call(job.job_id, called)
        job.create_calls.remove(called)

    def _wait(self, job: JobToCreate, reason: str, not_before: datetime | None = None) -> Waiting | GaveUp:
        now = self.now()
        since = job.waiting_since or now
        if now - since >= self.policy.queue_wait_max:
            waited = self.policy.queue_wait_max.total_seconds()
            span = f"{waited / 3600:g} hours" if waited >= 3600 else f"{waited:g} seconds"
            return self._give_up(
                job,
                f"not submitted: the API did not accept the batch for {span} "
                f"(BatchQueueMaxWaitHours); last answer: {reason}",
            )
        step = self.policy.first_backoff * (2 ** min(job.refusals, 16))
        until = now + min(step, self.policy.max_backoff)
        if not_before is not None:
            until = max(until, not_before)
        self.jobs.record_waiting(job.job_id, now, until, reason, job.owner)
        logger.warning(
            "batch not created: waiting for capacity",
            extra={"job_id": job.job_id, "until": until.isoformat(), "reason": reason},
        )
        return Waiting(until, reason)

    def _give_up(self, job: JobToCreate, reason: str) -> GaveUp:
        self.jobs.give_up_creation(job.job_id, self.now(), reason, job.owner)
        logger.error("no batch will be made for the job", extra={"job_id": job.job_id, "reason": reason})
        return GaveUp(reason)

    def _uncertain(self, job: JobToCreate, reason: str) -> Uncertain:
        logger.warning(
            "batch creation unsettled: Poll will find out", extra={"job_id": job.job_id, "reason": reason}
        )
        return Uncertain(reason)
