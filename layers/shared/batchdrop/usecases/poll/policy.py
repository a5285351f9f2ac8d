"""What a Poll tick may do (its policy), what it needs of the jobs store, and what it tells."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from batchdrop.ports.jobs import ClaimingJobs
from batchdrop.usecases.batch_creation import CREATE_SPAN, CreationPolicy

# A poller that claimed "Batch Ended" but died before sending it is replaced after this long.
ENDING_LEASE = timedelta(minutes=5)
# Submit runs at most 15 minutes: a job still `submitting` after this long lost its Submit.
SUBMIT_GRACE = timedelta(minutes=20)


PollJobs = ClaimingJobs


@dataclass
class PollReport:
    open_jobs: int = 0
    ended: list[str] = field(default_factory=list)
    in_progress: int = 0
    progress_written: int = 0  # running jobs whose progress moved, so was written
    adopted: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    overdue: int = 0
    uncollected: int = 0
    redriven: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # batches Poll created for stuck jobs
    waiting: list[str] = field(default_factory=list)  # jobs waiting for batch queue capacity
    gave_up: list[str] = field(default_factory=list)  # jobs no batch will be made for
    held: list[str] = field(default_factory=list)  # below Bedrock's minimum, still waiting for more
    released: list[str] = field(default_factory=list)  # held jobs whose wait ended this tick

    @property
    def reconciled(self) -> int:
        """Stuck jobs settled this tick: their batch adopted or created, or the job abandoned."""
        return len(self.adopted) + len(self.abandoned) + len(self.created)

    def as_dict(self) -> dict[str, object]:
        return {
            "open_jobs": self.open_jobs,
            "ended": self.ended,
            "in_progress": self.in_progress,
            "progress_written": self.progress_written,
            "adopted": self.adopted,
            "abandoned": self.abandoned,
            "overdue": self.overdue,
            "uncollected": self.uncollected,
            "redriven": self.redriven,
            "created": self.created,
            "waiting": self.waiting,
            "gave_up": self.gave_up,
            "held": self.held,
            "released": self.released,
        }


@dataclass(frozen=True)
class PollPolicy:
    submit_grace: timedelta = SUBMIT_GRACE
    uncollected_after: timedelta = timedelta(hours=24)
    # Longer than Complete's lease (20 min): a job still not completed by then is re-announced.
    redrive_after: timedelta = timedelta(minutes=30)
    # Documents wait this long for the batch queue to drain before they get an .error.json,
    # tried again after this long at first (doubling up to 30 minutes).
    queue_wait_max: timedelta = timedelta(hours=24)
    queue_retry_first: timedelta = timedelta(minutes=1)
    create_span: timedelta = CREATE_SPAN
    # A poller that claimed "Batch Ended" but died before sending it is replaced after this long.
    ending_lease: timedelta = ENDING_LEASE
    # Bedrock's minimum records per job (BEDROCK_MIN_RECORDS): a held job released below it is
    # answered on demand or gets errors, as its profile says.
    bedrock_min_records: int = 100

    def creation(self) -> CreationPolicy:
        return CreationPolicy(
            lease=self.submit_grace,
            queue_wait_max=self.queue_wait_max,
            first_backoff=self.queue_retry_first,
            create_span=self.create_span,
        )
