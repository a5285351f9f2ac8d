"""Poll announces an ended batch on the bus once: one tick of two racing wins the claim; an
announcement that could not be sent gives its claim back; a poller that dies after sending
leaves the job to be announced again only once its claim is stale (at least once, a duplicate
only after such a death). A job nobody completed is announced again (a redrive)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from batchdrop.domain.lifecycle import ENDED, ENDING, SUBMITTED, JobState
from batchdrop.ports.messages import BATCH_ENDED, EventNotDelivered
from batchdrop.usecases.poll import PollPolicy
from tests.fakes import CrashAt
from tests.unit.usecases.poll_kit import LEASE, POLICY, World, then


def test_a_tick_with_no_open_job_reads_once_and_does_nothing_else() -> None:
    world = World()
    report = world.tick()
    assert world.jobs.calls == [("open_jobs", "")]
    assert world.clients_made == 0  # the batch API's client (the SDK) is never made
    assert world.bus.events == [] and world.bucket.writes == []
    assert report.as_dict() == {
        "open_jobs": 0,
        "ended": [],
        "in_progress": 0,
        "progress_written": 0,
        "adopted": [],
        "abandoned": [],
        "overdue": 0,
        "uncollected": 0,
        "redriven": [],
        "created": [],
        "waiting": [],
        "gave_up": [],
        "held": [],
        "released": [],
    }


def test_two_racing_ticks_announce_an_ended_batch_once() -> None:
    # Given a running job whose batch has ended
    world = World()
    world.api.end(world.running("j1"))
    reports = []
    # When a second tick runs while the first holds the claim, before it sends the event
    first = world.tick(crash=then(lambda: reports.append(world.tick()), at="poll:after-claim-ended"))
    # Then the second found the claim held and sent nothing; the first announced and marked it
    assert world.announcements() == [(BATCH_ENDED, "j1")]
    assert (first.ended, reports[0].ended) == (["j1"], [])
    assert world.jobs.state("j1") is JobState.ENDED
    assert [action for action, job in world.jobs.moves if job == "j1"][-2:] == ["claim_ended", "mark_ended"]


def test_an_event_that_was_not_sent_gives_its_claim_back() -> None:
    world = World()
    world.api.end(world.running("j1"))
    world.bus.fail_next.append(EventNotDelivered("Batch Ended: throttled"))
    # When the bus refuses the event, the tick fails (the alarm sees it) with the claim given back
    with pytest.raises(EventNotDelivered):
        world.tick()
    assert world.jobs.state("j1") == SUBMITTED
    assert world.jobs.moves[-2:] == [("claim_ended", "j1"), ("release_ended", "j1")]
    assert world.bus.events == []
    # Then the next tick announces it at once (no lease to wait out)
    assert world.tick().ended == ["j1"]
    assert world.announcements() == [(BATCH_ENDED, "j1")]


def test_a_crash_after_the_event_is_announced_again_only_once_the_claim_is_stale() -> None:
    # Given a poller that died after sending "Batch Ended" and before marking the job ended
    world = World()
    world.api.end(world.running("j1"))
    with pytest.raises(CrashAt.Crashed):
        world.tick(crash=CrashAt("poll:after-emit"))
    assert world.announcements() == [(BATCH_ENDED, "j1")] and world.jobs.state("j1") == ENDING
    # When the next tick comes within the ending lease: nothing is sent again
    world.clock.advance(minutes=1)
    assert world.tick().ended == []
    assert len(world.bus.events) == 1 and world.jobs.state("j1") == ENDING
    # Then once the claim is stale a tick retakes it: a second event, and the job is marked ended
    world.clock.advance(seconds=POLICY.ending_lease.total_seconds())
    assert world.tick().ended == ["j1"]
    assert world.announcements() == [(BATCH_ENDED, "j1"), (BATCH_ENDED, "j1")]
    assert world.jobs.state("j1") == ENDED
    assert [a for a, _ in world.jobs.moves].count("mark_ended") == 1


def test_a_crash_after_the_event_sends_nothing_more_once_complete_took_the_job() -> None:
    world = World()
    world.api.end(world.running("j1"))
    with pytest.raises(CrashAt.Crashed):
        world.tick(crash=CrashAt("poll:after-emit"))
    # Complete got the event and claimed the job (from ending): the poller's claim is moot
    assert world.jobs.claim_completion("j1", world.clock(), LEASE)
    world.clock.advance(minutes=10)
    report = world.tick()
    assert (report.ended, report.redriven) == ([], [])
    assert len(world.bus.events) == 1 and world.jobs.state("j1") == JobState.COMPLETING


def test_a_job_nobody_completed_is_announced_again_once_per_redrive_interval() -> None:
    world = World()
    batch_id = world.ended("j1")
    world.clock.advance(seconds=POLICY.redrive_after.total_seconds() - 60)
    assert world.tick().redriven == []  # not yet
    world.clock.advance(minutes=2)
    assert world.tick().redriven == ["j1"]
    assert world.bus.events == [(BATCH_ENDED, {"job_id": "j1", "batch_id": batch_id, "redrive": True})]
    world.clock.advance(minutes=1)
    assert world.tick().redriven == []  # redriven a minute ago
    world.clock.advance(seconds=POLICY.redrive_after.total_seconds())
    assert world.tick().redriven == ["j1"]
    assert len(world.bus.events) == 2


def test_a_job_no_batch_was_made_for_is_announced_with_its_reason() -> None:
    world = World()
    world.submitting("j1")
    assert world.jobs.give_up_creation("j1", world.clock(), "the batch queue stayed full", "submit")
    report = world.tick()
    assert report.ended == ["j1"] and world.clients_made == 0
    assert world.bus.events == [
        (BATCH_ENDED, {"job_id": "j1", "batch_id": None, "end_reason": "the batch queue stayed full"})
    ]


def test_an_uncollected_job_is_counted_and_an_overdue_one_too() -> None:
    world = World()
    world.ended("ended-long-ago")
    world.running("running-past-expiry")
    world.clock.advance(hours=25)  # past the 24 h expiry and the 24 h uncollected threshold
    report = world.tick()
    assert (report.uncollected, report.overdue, report.in_progress) == (1, 1, 1)
    world.ended("ended-just-now")
    assert world.tick().uncollected == 1  # the fresh one is not, yet
    world.clock.advance(seconds=1)
    assert world.tick(PollPolicy(uncollected_after=timedelta(0))).uncollected == 2
