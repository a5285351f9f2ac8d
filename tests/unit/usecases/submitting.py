"""What the Submit use-case tests share: a world of fakes (tests/fakes.py), notifications of the
documents put into its bucket, and one window submitted through submit_window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from batchdrop.domain.documents import S3ObjectRef
from batchdrop.domain.models import ModelFacts
from batchdrop.domain.profiles import ProfileCatalog
from batchdrop.ports.batches import ModelsApi
from batchdrop.ports.runtime import CrashHook, no_crash
from batchdrop.settings import DefaultProfileSettings
from batchdrop.usecases.submit import SubmitPorts, SubmitRules, WindowOutcome, submit_window
from tests.fakes import FakeBatches, FakeBucket, FakeClock, FakeJobs, FakeNotifier
from tests.unit.test_models import api_model

MODEL = "claude-haiku-4-5"
DEFAULTS = DefaultProfileSettings(model=MODEL, max_tokens=1024, instruction="Summarise.", system_prompt="")


class ListNotices:
    """The Notices port over a list of object references: each handed over in order; one whose
    ``take`` raises is reported as failed (as the SQS adapter reports its record)."""

    def __init__(self, refs: list[S3ObjectRef]) -> None:
        self.refs = refs
        self.failed: list[S3ObjectRef] = []

    def planned(self) -> list[S3ObjectRef]:
        return list(self.refs)

    def each(self, take: Callable[[S3ObjectRef], None]) -> dict[str, Any]:
        for ref in self.refs:
            try:
                take(ref)
            except Exception:
                self.failed.append(ref)
        return {"batchItemFailures": [{"itemIdentifier": ref.key} for ref in self.failed]}


@dataclass
class World:
    """The ports of one Submit, in memory."""

    clock: FakeClock = field(default_factory=FakeClock)
    bucket: FakeBucket = field(default_factory=FakeBucket)
    jobs: FakeJobs = field(default_factory=FakeJobs)
    notifier: FakeNotifier = field(default_factory=FakeNotifier)
    profile_files: dict[str, bytes] = field(default_factory=dict)
    models: ModelsApi | None = None
    canceled: list[str] = field(default_factory=list)
    batches: FakeBatches = field(init=False)

    def __post_init__(self) -> None:
        self.batches = FakeBatches(self.clock, [ModelFacts.from_api(api_model(MODEL, line="haiku"))])

    def put(self, key: str, body: bytes | str = "A short document.", **metadata: str) -> S3ObjectRef:
        """Put a document into the bucket; the notification S3 would send for it."""
        version = self.bucket.put(key, body, **metadata)
        size = len(body.encode() if isinstance(body, str) else body)
        return S3ObjectRef(
            self.bucket.bucket, key, version, f"etag-{key}", size, f"{len(self.bucket.objects):04X}"
        )

    def ports(self) -> SubmitPorts:
        def cancel(job_id: str) -> str:
            self.canceled.append(job_id)
            return "canceling"

        return SubmitPorts(
            store=self.bucket,
            jobs=self.jobs,
            batches=self.batches,
            now=self.clock,
            load_profiles=lambda: ProfileCatalog.from_files(DEFAULTS, self.profile_files),
            notifier=self.notifier,
            models=self.models,
            cancel=cancel,
        )

    def submit(
        self, refs: list[S3ObjectRef], rules: SubmitRules | None = None, crash: CrashHook = no_crash
    ) -> WindowOutcome:
        return submit_window(ListNotices(refs), self.ports(), rules or SubmitRules(), crash=crash)

    def job_ids(self) -> list[str]:
        return sorted(self.jobs.items)


def retired(model_id: str) -> ModelFacts:
    return replace(ModelFacts.from_api(api_model(model_id, line="haiku")), lifecycle="retired")
