"""Submit's claims against fakes: each document version is sent by one job only; a claim held
by a job that will never send it (abandoned, or never recorded long after) is taken over."""

from __future__ import annotations

from datetime import timedelta

from batchdrop.domain.manifest import ManifestEntry
from batchdrop.ports.batches import BatchRejected
from batchdrop.usecases.batch_creation import CreationPolicy
from batchdrop.usecases.submit import SubmitRules
from batchdrop.usecases.submit.claims import document_identity
from tests.unit.usecases.submitting import World

LEASE = timedelta(minutes=20)
RULES = SubmitRules(creation=CreationPolicy(lease=LEASE))


def _identity(world: World, key: str, version_id: str | None) -> str:
    entry = ManifestEntry(
        custom_id="x", source_key=key, version_id=version_id, etag="", profile="default", error_key=""
    )
    return document_identity(world.bucket.bucket, entry)


def test_a_duplicate_notification_in_a_later_window_claims_nothing_and_sends_nothing() -> None:
    world = World()
    ref = world.put("inbox/default/a.txt")
    first = world.submit([ref], RULES).submit
    writes = list(world.bucket.writes)

    again = world.submit([ref], RULES).submit

    assert len(world.batches.created) == 1
    assert again.submitted == 0 and again.duplicates == 1 and again.ignored == 1 and again.jobs == []
    (job_id,) = world.job_ids()
    assert job_id == first.jobs[0].job_id
    # The second window wrote nothing: no error, no manifest, no requests.
    assert world.bucket.writes == writes


def test_a_new_version_of_a_document_is_a_new_claim() -> None:
    world = World()
    world.submit([world.put("inbox/default/a.txt", "First.")], RULES)

    outcome = world.submit([world.put("inbox/default/a.txt", "Second.")], RULES).submit

    assert outcome.submitted == 1 and outcome.duplicates == 0
    assert len(world.batches.created) == 2


def test_a_version_held_by_an_abandoned_job_is_taken_over() -> None:
    world = World()
    ref = world.put("inbox/default/a.txt")
    identity = _identity(world, ref.key, ref.version_id)
    world.jobs.claim_document(identity, "old-job", ref.key, world.clock())
    world.jobs.record_intent("old-job", "jobs/old-job/manifest.jsonl", world.clock(), LEASE, "owner")
    assert world.jobs.abandon("old-job", world.clock(), "its requests were never written")

    outcome = world.submit([ref], RULES).submit

    (job,) = outcome.jobs
    assert outcome.submitted == 1 and outcome.duplicates == 0
    assert world.jobs.document_claims[identity]["claimed_by"] == job.job_id
    assert job.batch_id in world.batches.created


def test_a_version_whose_holder_gave_up_creating_is_not_sent_twice() -> None:
    # Given a job whose batch was refused for good: it is submitted (its documents end with errors)
    world = World()
    ref = world.put("inbox/default/a.txt")
    world.batches.fail_create.append(BatchRejected("413: too large"))
    first = world.submit([ref], RULES).submit
    assert first.jobs[0].creation == "gave_up"

    # When the same version is notified again, then it stays that job's: nothing is sent
    again = world.submit([ref], RULES).submit

    assert again.duplicates == 1 and world.batches.created == []


def test_a_claim_never_recorded_is_taken_over_only_after_the_lease() -> None:
    world = World()
    ref = world.put("inbox/default/a.txt")
    identity = _identity(world, ref.key, ref.version_id)
    world.jobs.claim_document(identity, "died-before-intent", ref.key, world.clock())

    world.clock.advance(minutes=19)
    within = world.submit([ref], RULES).submit
    assert within.duplicates == 1 and world.batches.created == []

    world.clock.advance(minutes=2)
    after = world.submit([ref], RULES).submit
    assert after.duplicates == 0 and after.submitted == 1
    assert world.jobs.document_claims[identity]["claimed_by"] == after.jobs[0].job_id


def test_the_lines_of_a_request_list_are_claimed_one_by_one() -> None:
    world = World()
    ref = world.put(
        "inbox/default/q.jsonl", '{"id": "q1", "prompt": "One?"}\n{"id": "q2", "prompt": "Two?"}\n'
    )

    world.submit([ref], RULES)

    assert len(world.jobs.document_claims) == 2
