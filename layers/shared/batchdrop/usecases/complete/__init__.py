"""Complete: write every document's answer (or error), the job's summary, and tell people.

- orchestrator: ``complete_job``, the steps in order (claim, collect, table, resubmit, summary,
  notification, completed);
- collect: the batch's results streamed, each line parsed once, each document's object written;
- checkpoint: how far a completion got (Checkpoint), the rows in parts, the documents table;
- workflow: the next stage's documents, the cost of the stages before, the estimate compared;
- resubmit: the follow-up job of what is asked again (through usecases.batch_creation);
- writer: the parallel result writes; context: the ports and limits a completion runs with.
"""

from batchdrop.usecases.complete.context import COMPLETING_LEASE, CompletionContext, JobNotEnded, WrongBatch
from batchdrop.usecases.complete.orchestrator import complete_job, run_completion
from batchdrop.usecases.complete.resubmit import resubmit

__all__ = [
    "COMPLETING_LEASE",
    "CompletionContext",
    "JobNotEnded",
    "WrongBatch",
    "complete_job",
    "resubmit",
    "run_completion",
]
