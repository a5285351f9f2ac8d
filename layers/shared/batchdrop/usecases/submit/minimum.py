"""Bedrock's job sizes: a model invocation job holds at least ``min_records`` records (Bedrock
refuses a smaller one) and at most ``max_records``.

A window's requests to one Bedrock model, with those of the jobs held for that model, become:

- when they reach the minimum, jobs of about equal size within the maximum (so that splitting
  never leaves a remainder below the minimum), which take the held jobs over (merge_held);
- else one held job per profile, which takes over that profile's held jobs and keeps the
  earliest wait's end: a document never waits longer than ``wait`` from its first window.

A held job is recorded like any (its manifest, requests and claims are written) but no batch
is made: Poll releases it when its wait is over (usecases.poll.release), and its profile's
``below_minimum`` decides then. The moves (record_held, merge_held, release_hold) are in
domain.lifecycle; a job and the held jobs it takes over are written in one transaction.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from batchdrop.domain.job import JobRecord
from batchdrop.domain.keys import requests_key
from batchdrop.domain.lifecycle import JobState
from batchdrop.domain.manifest import REJECTED, ManifestEntry, load_manifest
from batchdrop.domain.times import iso, parse_time
from batchdrop.ports.bucket import Bucket
from batchdrop.ports.jobs import JobsStore
from batchdrop.usecases.submit.values import BatchLimits, PendingRequest, split_into_batches


@dataclass(frozen=True)
class SizeRules:
    """Bedrock's per-model quotas (BEDROCK_MIN_RECORDS, BEDROCK_MAX_RECORDS) and how long a set
    below the minimum waits for more (BEDROCK_MIN_WAIT_MINUTES)."""

    min_records: int = 100
    max_records: int = 50_000
    wait: timedelta = timedelta(hours=24)


@dataclass
class PlannedJob:
    """One job a window makes: its requests; when held, until when and for what."""

    requests: list[PendingRequest]
    held_until: datetime | None = None
    below_minimum: str | None = None  # a held job's profile's: on_demand or error
    merges: tuple[str, ...] = ()  # the held jobs it takes over
    # The rejected entries of the held jobs it takes over, by held job: its summary counts them.
    carried: dict[str, list[ManifestEntry]] = field(default_factory=dict)

    @property
    def carried_entries(self) -> list[ManifestEntry]:
        return [entry for job_id in self.merges for entry in self.carried.get(job_id, [])]

    @property
    def held(self) -> bool:
        return self.held_until is not None

    @property
    def hold_key(self) -> str | None:
        return self.requests[0].hold_key if self.held and self.requests else None


@dataclass(frozen=True)
class HeldJob:
    """A held job as a window reads it back: its requests (claimed by it) and rejected entries."""

    record: JobRecord
    requests: list[PendingRequest]
    rejected: list[ManifestEntry]


def held_jobs(jobs: JobsStore, store: Bucket, model: str) -> list[HeldJob]:
    """The jobs held for one Bedrock model, oldest first, with their requests read back."""
    prefix = f"bedrock|{model}|"
    held = []
    for job in jobs.open_jobs():
        if job.status != JobState.HELD or not (job.hold_key or "").startswith(prefix):
            continue
        held.append(read_held(store, job))
    return held


def read_held(store: Bucket, job: JobRecord) -> HeldJob:
    entries = {e.custom_id: e for e in load_manifest(store.read_lines(job.manifest_key))}
    requests = []
    for line in store.read_lines(requests_key(job.job_id)):
        if not line.strip():
            continue
        request = json.loads(line)
        entry = entries.pop(request["custom_id"])
        requests.append(
            PendingRequest(
                entry,
                request,
                line.strip(),
                backend="bedrock",
                below_minimum=job.below_minimum or "error",
                held_by=job.job_id,
            )
        )
    rejected = [e for e in entries.values() if e.status == REJECTED]
    return HeldJob(job, requests, rejected)


def size_bedrock(
    new: list[PendingRequest],
    held: list[HeldJob],
    rules: SizeRules,
    limits: BatchLimits,
    now: datetime,
) -> list[PlannedJob]:
    """The jobs of one Bedrock model's requests: the window's (``new``) and the held jobs'."""
    new = _unique_ids(new, [p for h in held for p in h.requests])
    budgets = {p.entry.profile: p.budget for p in new}
    earlier = [replace(p, budget=budgets.get(p.entry.profile)) for h in held for p in h.requests]
    total = earlier + new
    if len(total) >= rules.min_records:
        return _sized(total, held, rules, limits)
    return _held_by_profile(total, held, rules, now)


def _sized(
    total: list[PendingRequest], held: list[HeldJob], rules: SizeRules, limits: BatchLimits
) -> list[PlannedJob]:
    """Jobs of about equal size, none above the maximum nor (by count) below the minimum. A held
    job is taken over by the first job that holds one of its requests."""
    count = math.ceil(len(total) / rules.max_records)
    size = math.ceil(len(total) / count)
    chunks = list(split_into_batches(total, replace(limits, max_requests=min(size, limits.max_requests))))
    by_id = {h.record.job_id: h for h in held}
    taken: set[str] = set()
    planned = []
    for chunk in chunks:
        merges = tuple(dict.fromkeys(p.held_by for p in chunk if p.held_by and p.held_by not in taken))
        taken.update(merges)
        carried = {job_id: by_id[job_id].rejected for job_id in merges}
        planned.append(PlannedJob(chunk, merges=merges, carried=carried))
    return planned


def _held_by_profile(
    total: list[PendingRequest], held: list[HeldJob], rules: SizeRules, now: datetime
) -> list[PlannedJob]:
    """Below the minimum: one held job per profile, until the earliest end of its waits."""
    by_profile: dict[str, list[PendingRequest]] = {}
    for pending in total:
        by_profile.setdefault(pending.hold_key, []).append(pending)
    planned = []
    for key, requests in by_profile.items():
        mine = [h for h in held if h.record.hold_key == key]
        ends = [parse_time(str(h.record.held_until)) for h in mine if h.record.held_until]
        planned.append(
            PlannedJob(
                requests,
                held_until=min([now + rules.wait, *ends]),
                below_minimum=requests[-1].below_minimum,  # the newest profile file's choice
                merges=tuple(h.record.job_id for h in mine),
                carried={h.record.job_id: h.rejected for h in mine},
            )
        )
    return planned


def _unique_ids(new: list[PendingRequest], earlier: list[PendingRequest]) -> list[PendingRequest]:
    """The window's requests with custom_ids none of the held ones has (each window numbers its
    documents from 1; a digest of key and version follows, so only two versions of one key
    without versioning can meet): a clash is renumbered past every id in use."""
    taken = {p.entry.custom_id for p in earlier}
    if not taken:
        return new
    result = []
    sequence = len(taken) + len(new)
    for pending in new:
        if pending.entry.custom_id in taken:
            digest = pending.entry.custom_id.rsplit("-", 1)[-1]
            while f"doc-{sequence:06d}-{digest}" in taken:
                sequence += 1
            new_id = f"doc-{sequence:06d}-{digest}"
            request = {**pending.request, "custom_id": new_id}
            pending = replace(
                pending,
                entry=replace(pending.entry, custom_id=new_id),
                request=request,
                line=json.dumps(request, ensure_ascii=False, separators=(",", ":")),
            )
        taken.add(pending.entry.custom_id)
        result.append(pending)
    return result


def hold_reason(job: PlannedJob, rules: SizeRules) -> str:
    until = job.held_until
    profile = job.requests[0].entry.profile if job.requests else "?"
    return (
        f"held: {len(job.requests)} of profile {profile!r}, fewer than Bedrock's minimum of "
        f"{rules.min_records} records per job; waiting for more until {iso(until) if until else '?'}"
    )
