"""Bedrock's minimum job size against fakes (usecases.submit.minimum, usecases.poll.release): a
set below the minimum is held, never sent; a later window of its model takes it over (one job,
one create, the held job merged into it); its wait over, Poll answers it on demand or gives each
document an error that explains the minimum, as its profile says; and nothing is lost or sent
twice on the way (a redelivery, a hold released while a window takes it over)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from batchdrop.domain.keys import manifest_key
from batchdrop.domain.lifecycle import JobState
from batchdrop.domain.manifest import ManifestEntry, load_manifest
from batchdrop.ports.batches import Backends
from batchdrop.ports.jobs import HoldChanged
from batchdrop.usecases.poll import PollPolicy, poll_open_jobs
from batchdrop.usecases.submit import SubmitRules, submit_window
from batchdrop.usecases.submit.minimum import SizeRules, size_bedrock
from batchdrop.usecases.submit.values import BatchLimits, PendingRequest
from tests.fakes import FakeBatches, FakeBus, FakeClock
from tests.unit.usecases import submitting
from tests.unit.usecases.test_backends import HAIKU, FakeBedrock

WAIT = timedelta(hours=6)
SIZES = SizeRules(min_records=3, max_records=1000, wait=WAIT)


def profile(below: str = "error", model: str = HAIKU) -> bytes:
    return f"backend: bedrock\nbedrock_model: {model}\nbelow_minimum: {below}\n".encode()


class World:
    """Submit's fakes, a Bedrock backend and an on-demand one, and Poll over the same store."""

    def __init__(self, below: str = "error") -> None:
        self.submit = submitting.World()
        self.submit.profile_files = {"profiles/memo.yaml": profile(below)}
        self.bedrock = FakeBedrock(self.submit.clock)
        self.on_demand = FakeBatches(self.submit.clock)
        self.backends = Backends(
            {
                "anthropic": lambda: self.submit.batches,
                "bedrock": lambda: self.bedrock,
                "bedrock-on-demand": lambda: self.on_demand,
            }
        )
        self.bus = FakeBus()
        self.count = 0

    @property
    def jobs(self) -> Any:
        return self.submit.jobs

    def window(self, documents: int, sizes: SizeRules = SIZES, refs: list[Any] | None = None) -> Any:
        if refs is None:
            refs = []
            for _ in range(documents):
                self.count += 1
                refs.append(self.submit.put(f"inbox/memo/{self.count}.txt", f"Memo {self.count}."))
        ports = replace(self.submit.ports(), backends=self.backends)
        self.last_refs = refs
        return submit_window(submitting.ListNotices(refs), ports, SubmitRules(sizes=sizes)).submit

    def tick(self) -> Any:
        policy = PollPolicy(bedrock_min_records=SIZES.min_records)
        return poll_open_jobs(
            self.jobs, self.backends, self.bus, self.submit.clock, policy, store=self.submit.bucket
        )

    def state(self, job_id: str) -> JobState:
        return JobState(self.jobs.items[job_id]["status"])

    def manifest(self, job_id: str) -> list[str]:
        return [
            e.source_key for e in load_manifest(self.submit.bucket.text(manifest_key(job_id)).splitlines())
        ]


def test_a_set_below_the_minimum_is_held_and_nothing_is_sent() -> None:
    world = World()
    outcome = world.window(2)
    (job,) = outcome.jobs
    assert (job.creation, job.batch_id, outcome.submitted) == ("held", None, 0)
    assert "fewer than Bedrock's minimum of 3" in str(job.reason)
    item = world.jobs.items[job.job_id]
    assert world.state(job.job_id) == JobState.HELD and item["below_minimum"] == "error"
    assert item["hold_key"] == f"bedrock|{HAIKU}|memo" and item["held_until"] > item["created_at"]
    assert world.bedrock.created == [] and world.submit.batches.created == []
    assert world.manifest(job.job_id) == ["inbox/memo/1.txt", "inbox/memo/2.txt"]


def test_a_later_window_takes_the_held_job_over_one_job_one_create() -> None:
    world = World()
    (held,) = world.window(2).jobs
    world.submit.clock.advance(seconds=60)
    outcome = world.window(1)
    (job,) = outcome.jobs
    assert job.creation == "created" and job.requests == 3 and outcome.submitted == 3
    assert world.state(held.job_id) == JobState.MERGED
    assert world.jobs.items[held.job_id]["merged_into"] == job.job_id
    assert world.jobs.items[job.job_id]["merged"] == [held.job_id]
    (sent,) = world.bedrock.requests.values()
    assert len({r["custom_id"] for r in sent}) == 3
    assert sorted(world.manifest(job.job_id)) == [f"inbox/memo/{n}.txt" for n in (1, 2, 3)]


def test_a_redelivered_held_document_is_a_duplicate_after_the_merge() -> None:
    world = World()
    world.window(2)
    first_refs = list(world.last_refs)
    world.window(1)
    outcome = world.window(0, refs=first_refs)
    assert outcome.jobs == [] and outcome.duplicates == 2
    assert len(world.bedrock.created) == 1


def test_below_the_minimum_still_the_new_held_job_keeps_the_first_wait() -> None:
    world = World()
    (first,) = world.window(1).jobs
    until = world.jobs.items[first.job_id]["held_until"]
    world.submit.clock.advance(hours=1)
    (second,) = world.window(1).jobs
    assert second.creation == "held" and world.state(first.job_id) == JobState.MERGED
    assert world.jobs.items[second.job_id]["held_until"] == until  # never longer than WAIT in all
    assert sorted(world.manifest(second.job_id)) == ["inbox/memo/1.txt", "inbox/memo/2.txt"]


def test_before_its_wait_is_over_poll_only_counts_a_held_job() -> None:
    world = World()
    (job,) = world.window(2).jobs
    report = world.tick()
    assert report.held == [job.job_id] and report.released == []
    assert world.state(job.job_id) == JobState.HELD and world.bus.events == []


def test_its_wait_over_a_held_job_of_an_error_profile_gives_up_with_the_minimum_named() -> None:
    world = World("error")
    (job,) = world.window(2).jobs
    world.submit.clock.advance(seconds=WAIT.total_seconds())
    report = world.tick()
    assert report.released == [job.job_id] and report.gave_up == [job.job_id]
    item = world.jobs.items[job.job_id]
    assert world.state(job.job_id) == JobState.SUBMITTED and "batch_id" not in item
    assert "fewer than 3 records (BEDROCK_MIN_RECORDS)" in item["end_reason"]
    assert "below_minimum: on_demand" in item["end_reason"]
    assert world.bedrock.created == [] and world.on_demand.created == []
    world.tick()  # its end announced, as any job no batch was made for: Complete writes the errors
    assert [(kind, detail["job_id"]) for kind, detail in world.bus.events] == [("Batch Ended", job.job_id)]


def test_its_wait_over_a_held_job_of_an_on_demand_profile_is_answered_on_demand() -> None:
    world = World("on_demand")
    (job,) = world.window(2).jobs
    world.submit.clock.advance(seconds=WAIT.total_seconds() + 1)
    report = world.tick()
    assert report.released == [job.job_id] and report.created == [job.job_id]
    item = world.jobs.items[job.job_id]
    assert item["backend"] == "bedrock-on-demand" and item["batch_id"] in world.on_demand.batches
    (sent,) = world.on_demand.requests.values()
    assert len(sent) == 2 and world.bedrock.created == []


def test_a_held_job_released_while_a_window_takes_it_over_is_left_to_poll() -> None:
    # Given a held job, and a window whose record of the job taking it over finds it released
    world = World()
    (held,) = world.window(2).jobs
    record_job = world.jobs.record_job
    calls: list[tuple[str, ...]] = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        if not calls:  # Poll releases the held job between the window's plan and its record
            world.jobs.items[held.job_id]["status"] = JobState.SUBMITTING.value
        calls.append(args[6])
        return record_job(*args, **kwargs)

    world.jobs.record_job = racing
    (job,) = world.window(1).jobs
    # Then the window's job is recorded again without it: held itself, with its own document only
    assert calls == [(held.job_id,), ()]
    assert job.creation == "held" and world.manifest(job.job_id) == ["inbox/memo/3.txt"]
    assert world.state(held.job_id) == JobState.SUBMITTING


def test_hold_changed_is_raised_by_the_fake_as_by_the_adapter() -> None:
    world = World()
    (job,) = world.window(2).jobs
    world.jobs.items[job.job_id]["status"] = JobState.MERGED.value
    try:
        world.jobs.record_job("n", "m", world.submit.clock(), WAIT, "o", None, [job.job_id])
    except HoldChanged:
        assert "n" not in world.jobs.items
    else:
        raise AssertionError("HoldChanged not raised")


def _pending(n: int) -> list[PendingRequest]:
    requests = []
    for i in range(n):
        entry = ManifestEntry(f"doc-{i:06d}-{i:016x}", f"inbox/memo/{i}.txt", None, "e", "memo", "x")
        request = {"custom_id": entry.custom_id, "params": {"model": HAIKU, "max_tokens": 8}}
        requests.append(PendingRequest(entry, request, json.dumps(request), backend="bedrock"))
    return requests


def test_above_the_maximum_jobs_are_split_evenly_so_none_falls_below_the_minimum() -> None:
    pending = _pending(150)
    sizes = SizeRules(min_records=60, max_records=100, wait=WAIT)
    planned = size_bedrock(pending, [], sizes, BatchLimits(), FakeClock()())
    assert [len(p.requests) for p in planned] == [75, 75]
    assert not any(p.held for p in planned)
    ids = [r.entry.custom_id for p in planned for r in p.requests]
    assert len(set(ids)) == 150


def test_a_window_id_that_a_held_request_has_is_renumbered() -> None:
    world = World()
    (held,) = world.window(2).jobs
    # The same key again, a new version without S3 versioning: the same sequence and digest.
    world.submit.bucket.put("inbox/memo/1.txt", "Memo 1, edited.")
    ref = world.submit.put("inbox/memo/1.txt", "Memo 1, edited again.")
    world.window(0, refs=[ref])
    (job_id,) = [j for j, item in world.jobs.items.items() if item.get("merged") == [held.job_id]]
    (sent,) = world.bedrock.requests.values()
    ids = [r["custom_id"] for r in sent]
    assert len(ids) == len(set(ids)) == 3
    assert (
        json.loads(world.submit.bucket.text(f"jobs/{job_id}/requests.jsonl").splitlines()[-1])["custom_id"]
        in ids
    )
