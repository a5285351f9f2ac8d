"""A job whose batch ended, in the in-memory fakes (tests/fakes.py), for Complete's unit tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from batchdrop.domain.keys import documents_key, job_schema_key, manifest_key, requests_key
from batchdrop.domain.manifest import ManifestEntry, dump_manifest
from batchdrop.domain.pricing import PriceTable
from batchdrop.ports import CrashHook, no_crash
from batchdrop.usecases.complete import CompletionContext
from tests.fakes import FakeBatches, FakeBucket, FakeBus, FakeClock, FakeJobs, FakeNotifier, iso

JOB = "20261201T120000Z-0a1b2c3d"
MODEL = "claude-haiku-5-5"
PRICES = PriceTable.bundled()


class ResultBatches(FakeBatches):
    """FakeBatches whose results are what the Anthropic adapter streams: each line as sent and
    parsed, ``{"custom_id", "result"}`` (FakeBatches.results gives (custom_id, result) pairs)."""

    def results(self, batch_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for custom_id, result in self.outcomes[batch_id].items():
            line = {"custom_id": custom_id, "result": result}
            yield json.dumps(line), line


def custom_id(n: int) -> str:
    return f"doc-{n:06d}-0123456789abcdef"


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    jobs: FakeJobs = field(default_factory=FakeJobs)
    bucket: FakeBucket = field(default_factory=FakeBucket)
    notifier: FakeNotifier = field(default_factory=FakeNotifier)
    bus: FakeBus = field(default_factory=FakeBus)
    batches: ResultBatches = field(init=False)

    def __post_init__(self) -> None:
        self.batches = ResultBatches(self.clock)

    def ended_job(
        self,
        documents: int,
        outcomes: dict[str, dict[str, Any]] | None = None,
        *,
        job_id: str = JOB,
        schema: dict[str, Any] | None = None,
        adopted: bool = False,
        batch_of: list[str] | None = None,
    ) -> str:
        """A job of ``documents`` documents whose batch ended with ``outcomes`` (by custom_id;
        others succeed). ``schema``: a structured profile's; ``batch_of``: the batch holds these
        custom_ids instead (another job's batch, adopted by mistake)."""
        profile = "extract" if schema else "default"
        suffix = ".json" if schema else ".md"
        entries = [
            ManifestEntry(
                custom_id=custom_id(n),
                source_key=f"inbox/{profile}/{n}.txt",
                version_id=f"v{n}",
                etag=f"etag-{n}",
                profile=profile,
                error_key=f"results/{profile}/{n}.txt.error.json",
                result_key=f"results/{profile}/{n}.txt{suffix}",
                model=MODEL,
                schema_key=job_schema_key(job_id, profile) if schema else None,
            )
            for n in range(documents)
        ]
        requests = [
            {
                "custom_id": e.custom_id,
                "params": {
                    "model": MODEL,
                    "max_tokens": 1024,
                    "messages": [{"role": "user", "content": f"document {n}"}],
                },
            }
            for n, e in enumerate(entries)
        ]
        if schema:
            self.bucket.put(job_schema_key(job_id, profile), json.dumps(schema), "application/json")
        self.bucket.put(manifest_key(job_id), dump_manifest(entries), "application/x-ndjson")
        self.bucket.put(
            requests_key(job_id), "".join(json.dumps(r) + "\n" for r in requests), "application/x-ndjson"
        )
        now = self.clock()
        self.jobs.record_intent(
            job_id, manifest_key(job_id), now, timedelta(minutes=5), "owner", documents=documents
        )
        batched = requests if batch_of is None else [{"custom_id": c, "params": {}} for c in batch_of]
        info = self.batches.create(batched)
        self.jobs.record_submitted(job_id, info.id, info.expires_at, info.created_at, now, adopted=adopted)
        self.batches.end(info.id, outcomes)
        assert self.jobs.claim_ended(job_id, now, timedelta(minutes=5))
        assert self.jobs.mark_ended(job_id, now)
        self.bucket.writes.clear()
        return job_id

    def ctx(self, crash: CrashHook = no_crash, **changes: Any) -> CompletionContext:
        return CompletionContext(
            jobs=self.jobs,
            store=self.bucket,
            batches=self.batches,
            notifier=self.notifier,
            events=self.bus,
            prices=PRICES,
            now=self.clock,
            crash=crash,
            **changes,
        )

    def rows(self, job_id: str = JOB) -> list[dict[str, Any]]:
        """The job's documents table."""
        return [json.loads(line) for line in self.bucket.text(documents_key(job_id)).splitlines()]

    def row(self, request: str, job_id: str = JOB) -> dict[str, Any]:
        """The row of one request (by custom_id)."""
        (found,) = [row for row in self.rows(job_id) if row["custom_id"] == request]
        return found

    def result_keys(self, prefix: str = "results/") -> list[str]:
        return self.bucket.keys(prefix)

    def written(self, key: str) -> int:
        """How many times ``key`` was written."""
        return self.bucket.writes.count(key)

    def now_iso(self) -> str:
        return iso(self.clock())
