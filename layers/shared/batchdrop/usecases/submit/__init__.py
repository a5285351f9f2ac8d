"""Submit: the documents of one ingest window become Message Batches jobs.

Normally one window is one batch. A window larger than a batch may be (100,000 requests or
256 MB of request body) is split into several batches, each its own job; nothing is dropped
and nothing is sent twice. Before anything is sent, each request goes through preflight: the
rules of the API version and its model's facts from the Models API.

The steps, by module: ``intake`` (read ahead, de-duplicate, convert, estimate), ``preflight``,
``budget`` (per-profile and per-stack cost limits), ``claims`` (each document version once),
``plan`` (jobs within batch limits, their files and intent, then usecases.batch_creation), and
``window`` (``submit_window``: the steps in order).
"""

from batchdrop.usecases.submit.values import BatchLimits, JobSubmitted, PendingRequest, SubmitOutcome
from batchdrop.usecases.submit.window import Notices, SubmitPorts, SubmitRules, WindowOutcome, submit_window

__all__ = [
    "BatchLimits",
    "JobSubmitted",
    "Notices",
    "PendingRequest",
    "SubmitOutcome",
    "SubmitPorts",
    "SubmitRules",
    "WindowOutcome",
    "submit_window",
]
