"""Poll writes a running job's progress only when its batch moved: a tick over batches that did
not change makes no write. The fakes of tests/fakes.py count what Poll does; no moto, no HTTP."""

from __future__ import annotations

from typing import Any

from batchdrop.domain.job import JobRecord
from batchdrop.domain.lifecycle import SUBMITTED
from batchdrop.domain.times import iso
from batchdrop.ports.batches import BatchInfo
from batchdrop.usecases.poll import progress_changed
from tests.fakes import T0
from tests.unit.usecases.poll_kit import World

COUNTS = {"processing": 3, "succeeded": 1, "errored": 0, "canceled": 0, "expired": 0}


def _batch(batch_id: str, status: str = "in_progress", **counts: int) -> BatchInfo:
    return BatchInfo(batch_id, status, {**COUNTS, **counts}, iso(T0), "2026-12-02T12:00:00Z", None)


def _running(n: int) -> tuple[World, list[str]]:
    world = World()
    batch_ids = [world.running(f"job-{i}") for i in range(n)]
    for batch_id in batch_ids:
        world.set_batch(batch_id, "in_progress", **COUNTS)
    world.jobs.calls.clear()
    return world, batch_ids


def _writes(world: World) -> list[tuple[str, str]]:
    """The jobs store calls that write (or try to): every call but the reads."""
    return [call for call in world.jobs.calls if call[0] not in ("open_jobs", "get")]


# --- the comparison ---------------------------------------------------------------------------


def _record(attributes: dict[str, Any]) -> JobRecord:
    return JobRecord.from_attributes(
        {"job_id": "j", "status": SUBMITTED, "manifest_key": "m", "created_at": iso(T0), **attributes}
    )


def test_progress_as_stored_is_unchanged() -> None:
    item = {"processing_status": "in_progress", "request_counts": dict(COUNTS)}
    assert not progress_changed(_record(item), _batch("b"))


def test_a_moved_count_is_a_change() -> None:
    item = {"processing_status": "in_progress", "request_counts": dict(COUNTS)}
    assert progress_changed(_record(item), _batch("b", processing=2, succeeded=2))


def test_a_new_processing_status_is_a_change() -> None:
    # a cancel was sent: the counts have not moved yet, the status has
    item = {"processing_status": "in_progress", "request_counts": dict(COUNTS)}
    assert progress_changed(_record(item), _batch("b", status="canceling"))


def test_a_record_without_counts_has_changed() -> None:
    # just recorded as submitted: status in_progress, no counts yet
    assert progress_changed(_record({"processing_status": "in_progress"}), _batch("b"))
    assert progress_changed(_record({}), _batch("b"))


def test_a_count_the_record_lacks_is_a_change() -> None:
    stored = {k: v for k, v in COUNTS.items() if k != "expired"}
    assert progress_changed(
        _record({"processing_status": "in_progress", "request_counts": stored}), _batch("b")
    )


# --- what a tick writes -----------------------------------------------------------------------


def test_a_tick_over_unchanged_batches_writes_nothing() -> None:
    # Given 5 running jobs whose progress the first tick stored
    world, _ = _running(5)
    first = world.tick()
    assert (first.in_progress, first.progress_written, len(_writes(world))) == (5, 5, 5)
    world.jobs.calls.clear()
    # When the next tick finds every batch as it was
    second = world.tick()
    # Then it retrieved them all, counts them as running, and wrote nothing
    assert world.api.retrieved == 10
    assert (second.open_jobs, second.in_progress, second.progress_written) == (5, 5, 0)
    assert _writes(world) == []


def test_only_the_batch_that_moved_is_written() -> None:
    world, batch_ids = _running(3)
    world.tick()
    world.jobs.calls.clear()
    world.set_batch(batch_ids[1], processing=1, succeeded=3)
    report = world.tick()
    assert _writes(world) == [("update_progress", "job-1")]
    assert report.progress_written == 1 and report.in_progress == 3
    assert world.jobs.items["job-1"]["request_counts"]["succeeded"] == 3


def test_an_ended_batch_is_announced_once_whatever_its_stored_progress() -> None:
    # Given a running job whose progress is stored, and whose batch then ends
    world, batch_ids = _running(1)
    world.tick()
    world.jobs.calls.clear()
    world.set_batch(batch_ids[0], status="ended", processing=0, succeeded=4)
    # When two ticks run
    first = world.tick()
    second = world.tick()
    # Then one "Batch Ended" went out, with the final counts, and no progress was written for it
    # (the second tick only asks whether the ended job needs announcing again: not yet)
    assert world.announcements() == [("Batch Ended", "job-0")]
    assert world.bus.events[0][1]["request_counts"]["succeeded"] == 4
    assert (first.ended, second.ended, second.redriven) == (["job-0"], [], [])
    assert _writes(world) == [("claim_ended", "job-0"), ("mark_ended", "job-0"), ("claim_redrive", "job-0")]
