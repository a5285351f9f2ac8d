"""One ingest window, start to end: intake, preflight, then the plan (budgets, claims, files,
intent, batch creation), then the cancel markers the window held."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from batchdrop.domain.convert import DocumentLimits
from batchdrop.domain.documents import S3ObjectRef
from batchdrop.domain.pricing import PriceTable
from batchdrop.domain.profiles import ProfileCatalog
from batchdrop.ports.batches import Backends, BatchBackend, ModelsApi
from batchdrop.ports.bucket import Bucket
from batchdrop.ports.messages import Notifier
from batchdrop.ports.runtime import Clock, CrashHook, no_crash
from batchdrop.usecases.batch_creation import CreationPolicy
from batchdrop.usecases.submit.claims import ClaimsStore
from batchdrop.usecases.submit.intake import Intake
from batchdrop.usecases.submit.minimum import SizeRules
from batchdrop.usecases.submit.plan import JobPlan
from batchdrop.usecases.submit.preflight import ModelCatalogue, preflight
from batchdrop.usecases.submit.values import BatchLimits, SubmitOutcome


class Notices(Protocol):
    """The objects an invocation was told about (adapters.events.Notifications)."""

    def planned(self) -> list[S3ObjectRef]:
        """Every object named, in order, so that their documents can be read ahead."""
        ...

    def each(self, take: Callable[[S3ObjectRef], None]) -> dict[str, Any]:
        """Give every object to ``take``; what the event source needs told of those that failed."""
        ...


@dataclass(frozen=True)
class SubmitPorts:
    """What a window is read from and written to."""

    store: Bucket
    jobs: ClaimsStore
    batches: BatchBackend  # the Claude API's (and its Models API, below)
    now: Clock
    load_profiles: Callable[[], ProfileCatalog]  # read once per window, on first need
    notifier: Notifier | None = None
    models: ModelsApi | None = None  # None: preflight checks the version rules only
    cancel: Callable[[str], str] | None = None  # a cancel marker's job: what happened, in a word
    # Every backend a profile may name, by name (None: the Claude API's ``batches`` alone).
    backends: Backends | None = None


@dataclass(frozen=True)
class SubmitRules:
    """The limits and policies a window is submitted under (the stack's parameters)."""

    document_limits: DocumentLimits = field(default_factory=DocumentLimits)
    batch_limits: BatchLimits = field(default_factory=BatchLimits)
    prices: PriceTable = field(default_factory=PriceTable.bundled)
    max_job_cost_usd: float | None = None  # the stack's budget for one job
    read_concurrency: int = 1  # S3 reads in flight at once
    creation: CreationPolicy = field(default_factory=CreationPolicy)
    sizes: SizeRules = field(default_factory=SizeRules)  # Bedrock's minimum and maximum job sizes


@dataclass(frozen=True)
class WindowOutcome:
    submit: SubmitOutcome
    records: dict[str, Any]  # the event source's partial-failure response
    canceled: dict[str, str]  # by job id, what each cancel marker did

    def response(self) -> dict[str, Any]:
        return {
            **self.records,
            **self.submit.as_dict(),
            **({"canceled": self.canceled} if self.canceled else {}),
        }


def submit_window(
    notices: Notices, ports: SubmitPorts, rules: SubmitRules, crash: CrashHook = no_crash
) -> WindowOutcome:
    """Read and convert every notified document (a failure fails its notification alone), then
    send everything collected, then act on the window's cancel markers."""
    intake = Intake(
        ports.store,
        ports.load_profiles,
        rules.document_limits,
        rules.batch_limits,
        rules.prices,
        read_concurrency=rules.read_concurrency,
    )
    try:
        intake.plan(notices.planned())
        records = notices.each(intake.add)
    finally:
        intake.close()
    # The batch backend's client answers for the Models API: each model is checked once.
    catalogue = ModelCatalogue(ports.models) if ports.models is not None else None
    kept, refused, status = preflight(intake.pending, catalogue)
    for entry, reason in refused:
        intake.reject(entry, reason)
    backends = ports.backends or Backends.of(ports.batches)
    reachable = []
    for request in kept:
        why = backends.unavailable(request.backend)
        if why is None:
            reachable.append(request)
        else:  # e.g. a Bedrock profile on a stack without its Bedrock role: refused, never lost
            intake.reject(request.entry, f"not submitted: {why}")
    plan = JobPlan(
        ports.store,
        ports.jobs,
        backends,
        ports.now,
        ports.notifier,
        rules.creation,
        rules.batch_limits,
        rules.max_job_cost_usd,
        crash,
        rules.sizes,
    )
    outcome = plan.submit(reachable, intake.rejected, intake.ignored, status)
    cancel = ports.cancel
    canceled = {job_id: cancel(job_id) for job_id in intake.cancel_requests} if cancel else {}
    return WindowOutcome(outcome, records, canceled)
