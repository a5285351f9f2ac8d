"""Poll: watch the open jobs' batches and announce each ended batch exactly once.

Every job not yet completed is in the open index, so one Query per tick sees all of them
(tick): running batches get their progress stored when it moved, a tick over unchanged
batches writing nothing (watch); ended ones are announced once, and re-announced when nobody
completed them (announce); a job still ``submitting`` whose creation lease ran out (its writer
died around creating the batch, or it waits for the batch queue to drain) has its batch found
or created here (reconcile); jobs past their batch's expiry or ended but not collected for too
long are counted for the alarms (policy.PollReport).
"""

from batchdrop.usecases.poll.policy import ENDING_LEASE, SUBMIT_GRACE, PollPolicy, PollReport
from batchdrop.usecases.poll.tick import RETRIEVE_CONCURRENCY, poll_open_jobs
from batchdrop.usecases.poll.watch import progress_changed

__all__ = [
    "ENDING_LEASE",
    "RETRIEVE_CONCURRENCY",
    "SUBMIT_GRACE",
    "PollPolicy",
    "PollReport",
    "poll_open_jobs",
    "progress_changed",
]
