"""Ports: the small interfaces the use cases are written against. Adapters implement them for
AWS and the Anthropic API; the unit tests implement them in memory (tests/fakes.py)."""

from batchdrop.ports.batches import Backends, BackendUnavailable, BatchBackend, BatchInfo, ModelsApi
from batchdrop.ports.bucket import Bucket
from batchdrop.ports.jobs import ClaimingJobs, Claims, JobsStore
from batchdrop.ports.messages import EventBus, Notifier
from batchdrop.ports.runtime import Clock, CrashHook, no_crash

__all__ = [
    "BackendUnavailable",
    "Backends",
    "BatchBackend",
    "BatchInfo",
    "Bucket",
    "ClaimingJobs",
    "Claims",
    "Clock",
    "CrashHook",
    "EventBus",
    "JobsStore",
    "ModelsApi",
    "Notifier",
    "no_crash",
]
