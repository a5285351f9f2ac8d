"""Submit's intake against fakes: notified documents become pending requests, in order, each
version once; what cannot be sent becomes a rejection with its reason; markers and objects
outside the inbox start nothing."""

from __future__ import annotations

import hashlib

from batchdrop.domain.documents import S3ObjectRef
from batchdrop.domain.manifest import REJECTED
from batchdrop.domain.profiles import ProfileCatalog
from batchdrop.usecases.submit.intake import Intake
from batchdrop.usecases.submit.values import BatchLimits
from tests.unit.usecases.submitting import DEFAULTS, MODEL, World


def _intake(world: World, **options: object) -> Intake:
    return Intake(world.bucket, lambda: ProfileCatalog.from_files(DEFAULTS, world.profile_files), **options)  # type: ignore[arg-type]


def _take(intake: Intake, refs: list[S3ObjectRef]) -> None:
    intake.plan(refs)
    try:
        for ref in refs:
            intake.add(ref)
    finally:
        intake.close()


def test_documents_become_pending_requests_in_arrival_order() -> None:
    world = World()
    refs = [world.put("inbox/default/a.txt", "Alpha."), world.put("inbox/default/notes/b.md", "# Beta")]
    intake = _intake(world)

    _take(intake, refs)

    assert [p.entry.source_key for p in intake.pending] == ["inbox/default/a.txt", "inbox/default/notes/b.md"]
    first = intake.pending[0]
    assert first.entry.version_id == refs[0].version_id
    assert first.entry.model == MODEL
    assert first.entry.result_key == "results/default/a.txt.md"
    assert first.entry.content_sha256 == hashlib.sha256(b"Alpha.").hexdigest()
    assert first.request["custom_id"] == first.entry.custom_id
    assert first.request["params"]["model"] == MODEL
    assert first.entry.estimated_input_tokens and first.entry.estimated_cost
    assert len({p.entry.custom_id for p in intake.pending}) == 2
    assert intake.rejected == [] and intake.ignored == 0


def test_a_repeated_notification_of_one_version_is_ignored() -> None:
    world = World()
    ref = world.put("inbox/default/a.txt")
    intake = _intake(world)

    _take(intake, [ref, ref])

    assert len(intake.pending) == 1
    assert intake.ignored == 1


def test_objects_outside_the_inbox_or_bucket_are_ignored_and_cancel_markers_collected() -> None:
    world = World()
    result = world.put("results/default/a.txt.md")
    foreign = S3ObjectRef("another-bucket", "inbox/default/a.txt", "v1")
    marker = world.put("jobs/20261201T120000Z-abcdef12/cancel", "")
    intake = _intake(world)

    _take(intake, [result, foreign, marker])

    assert intake.pending == [] and intake.rejected == []
    assert intake.ignored == 2
    assert intake.cancel_requests == ["20261201T120000Z-abcdef12"]


def test_unusable_documents_are_rejected_with_a_reason() -> None:
    world = World()
    refs = [
        world.put("inbox/default/empty.txt", "  \n"),
        world.put("inbox/default/photo.bmp", "BM...."),
        world.put("inbox/typo/notes.txt", "hello"),
    ]
    gone = S3ObjectRef(world.bucket.bucket, "inbox/default/gone.txt", "v404")
    intake = _intake(world)

    _take(intake, [*refs, gone])

    reasons = {e.source_key: e.reason or "" for e in intake.rejected}
    assert all(e.status == REJECTED for e in intake.rejected)
    assert reasons["inbox/default/empty.txt"] == "the document is empty"
    assert "unsupported file type '.bmp'" in reasons["inbox/default/photo.bmp"]
    assert "typo" in reasons["inbox/typo/notes.txt"]
    assert reasons["inbox/default/gone.txt"] == "the document was deleted before it could be read"
    assert intake.rejected[0].error_key == "results/default/empty.txt.error.json"
    assert intake.pending == []


def test_a_request_larger_than_a_whole_batch_is_rejected() -> None:
    world = World()
    ref = world.put("inbox/default/long.txt", "word " * 400)
    intake = _intake(world, batch_limits=BatchLimits(max_bytes=1000))

    _take(intake, [ref])

    (entry,) = intake.rejected
    assert "more than a whole batch may hold" in (entry.reason or "")
    assert intake.pending == []


def test_a_request_list_becomes_one_request_per_line_and_a_rejection_per_bad_line() -> None:
    world = World()
    lines = [
        '{"id": "q1", "prompt": "One?"}',
        '{"id": "q2", "prompt": "Two?"}',
        "not json",
    ]
    ref = world.put("inbox/default/questions.jsonl", "\n".join(lines) + "\n")
    intake = _intake(world)

    _take(intake, [ref])

    assert [p.entry.item for p in intake.pending] == ["q1", "q2"]
    assert {p.entry.kind for p in intake.pending} == {"request-list"}
    assert [p.entry.result_key for p in intake.pending] == [
        "results/default/questions.jsonl/q1.md",
        "results/default/questions.jsonl/q2.md",
    ]
    (bad,) = intake.rejected
    assert bad.source_key == "inbox/default/questions.jsonl" and bad.reason


def test_a_read_that_fails_fails_its_notification_alone() -> None:
    world = World()
    refs = [world.put("inbox/default/a.txt"), world.put("inbox/default/b.txt")]
    real = world.bucket.get_document

    def flaky(key: str, version_id: str | None = None, **limits: object) -> object:
        if key.endswith("a.txt"):
            raise ConnectionError("S3 read timed out")
        return real(key, version_id, **limits)  # type: ignore[arg-type]

    world.bucket.get_document = flaky  # type: ignore[method-assign,assignment]

    outcome = world.submit(refs)

    assert outcome.records == {"batchItemFailures": [{"itemIdentifier": "inbox/default/a.txt"}]}
    assert outcome.submit.submitted == 1
    (batch_id,) = world.batches.created
    assert [r["params"]["messages"][0]["content"][0]["title"] for r in world.batches.requests[batch_id]] == [
        "b.txt"
    ]
