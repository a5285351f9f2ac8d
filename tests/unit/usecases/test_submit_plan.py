"""Submit's plan against fakes: a window becomes jobs within a batch's limits; each job's
manifest and requests are written and its intent recorded before its batch is created; a
crash before the create leaves what Poll needs; preflight refuses before anything is sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batchdrop.domain.lifecycle import JobState
from batchdrop.domain.manifest import load_manifest
from batchdrop.domain.models import ModelFacts, ModelsUnavailable
from batchdrop.usecases.submit import BatchLimits, SubmitRules
from batchdrop.usecases.submit.plan import split_into_batches
from batchdrop.usecases.submit.values import BODY_OVERHEAD, PendingRequest
from tests.fakes import CrashAt
from tests.unit.usecases.submitting import MODEL, World, retired


def _lines(world: World, key: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in world.bucket.text(key).splitlines()]


def test_a_window_becomes_one_job_written_and_recorded_before_its_batch() -> None:
    world = World()
    refs = [world.put("inbox/default/a.txt", "Alpha."), world.put("inbox/default/b.txt", "Beta.")]

    outcome = world.submit(refs).submit

    (job,) = outcome.jobs
    assert (outcome.submitted, outcome.rejected, job.creation) == (2, 0, "created")
    manifest, requests = f"jobs/{job.job_id}/manifest.jsonl", f"jobs/{job.job_id}/requests.jsonl"
    assert world.bucket.writes == [manifest, requests]
    entries = list(load_manifest(world.bucket.text(manifest).splitlines()))
    assert [e.source_key for e in entries] == ["inbox/default/a.txt", "inbox/default/b.txt"]
    sent = _lines(world, requests)
    assert [r["custom_id"] for r in sent] == [e.custom_id for e in entries]
    assert world.batches.requests[job.batch_id or ""] == sent
    # The intent is recorded first, then the batch: the job moved submitting -> submitted.
    assert world.jobs.moves == [("record_intent", job.job_id), ("record_submitted", job.job_id)]
    record = world.jobs.get(job.job_id)
    assert record is not None and record.status == JobState.SUBMITTED and record.batch_id == job.batch_id
    item = world.jobs.items[job.job_id]
    assert (item["documents"], item["requests"], item["rejected"], item["part"]) == (2, 2, 0, "1/1")
    assert item["profiles"] == ["default"] and item["estimate_complete"] is True


def test_a_crash_before_the_create_leaves_the_intent_and_the_requests_and_no_batch() -> None:
    world = World()
    refs = [world.put("inbox/default/a.txt")]
    crash = CrashAt("submit:before-create")

    with pytest.raises(CrashAt.Crashed):
        world.submit(refs, crash=crash)

    (job_id,) = world.job_ids()
    assert world.jobs.state(job_id) == JobState.SUBMITTING
    assert world.jobs.items[job_id]["manifest_key"] == f"jobs/{job_id}/manifest.jsonl"
    assert len(_lines(world, f"jobs/{job_id}/requests.jsonl")) == 1
    assert world.batches.created == []
    assert crash.seen == ["submit:after-claims", "submit:before-create"]


def test_batch_limits_split_a_window_into_several_jobs_in_order() -> None:
    world = World()
    refs = [world.put(f"inbox/default/{n}.txt", f"Document {n}.") for n in range(5)]

    outcome = world.submit(refs, SubmitRules(batch_limits=BatchLimits(max_requests=2))).submit

    assert [j.requests for j in outcome.jobs] == [2, 2, 1]
    assert outcome.submitted == 5 and len(world.batches.created) == 3
    parts = [world.jobs.items[j.job_id]["part"] for j in outcome.jobs]
    assert parts == ["1/3", "2/3", "3/3"]
    titles = [
        r["params"]["messages"][0]["content"][0]["title"]
        for b in world.batches.created
        for r in world.batches.requests[b]
    ]
    assert titles == [f"{n}.txt" for n in range(5)]


def test_the_windows_rejections_belong_to_its_first_job() -> None:
    world = World()
    refs = [
        world.put("inbox/default/empty.txt", " "),
        *(world.put(f"inbox/default/{n}.txt") for n in range(3)),
    ]

    outcome = world.submit(refs, SubmitRules(batch_limits=BatchLimits(max_requests=2))).submit

    first = outcome.jobs[0].job_id
    assert outcome.rejection_job_id == first and outcome.rejected == 1
    assert world.bucket.json("results/default/empty.txt.error.json")["job_id"] == first
    assert (
        world.jobs.items[first]["rejected"] == 1 and world.jobs.items[outcome.jobs[1].job_id]["rejected"] == 0
    )


def test_split_into_batches_keeps_each_batch_within_its_bytes() -> None:
    def pending(size: int) -> PendingRequest:
        return PendingRequest(None, {}, "x" * size)  # type: ignore[arg-type]

    items = [pending(40), pending(40), pending(40)]
    limit = BODY_OVERHEAD + 40 + 1 + 40  # two requests and the comma between them

    chunks = list(split_into_batches(items, BatchLimits(max_bytes=limit)))

    assert [len(c) for c in chunks] == [2, 1]


def test_preflight_refusing_a_retired_model_writes_errors_and_creates_nothing() -> None:
    world = World(profile_files={"profiles/old.json": b'{"model": "claude-old-1"}'})
    world.batches.catalogue["claude-old-1"] = retired("claude-old-1")
    world.models = world.batches
    refs = [world.put("inbox/old/a.txt")]

    outcome = world.submit(refs).submit

    assert world.batches.created == [] and world.jobs.items == {}
    assert outcome.submitted == 0 and outcome.rejected == 1
    error = world.bucket.json("results/old/a.txt.error.json")
    assert error["result_type"] == "rejected"
    assert "model claude-old-1 was retired" in error["reason"]


def test_a_deprecated_model_is_sent_with_its_retirement_date_noted() -> None:
    world = World()
    facts = world.batches.catalogue[MODEL]
    world.batches.catalogue[MODEL] = ModelFacts(
        **{**facts.__dict__, "lifecycle": "deprecated", "retires_at": "2027-01-05T00:00:00Z"}
    )
    world.models = world.batches

    outcome = world.submit([world.put("inbox/default/a.txt")]).submit

    (job,) = outcome.jobs
    (entry,) = load_manifest(world.bucket.text(f"jobs/{job.job_id}/manifest.jsonl").splitlines())
    assert entry.model_retires_at == "2027-01-05T00:00:00Z"


class _Unreachable:
    def model(self, model_id: str) -> ModelFacts | None:
        raise ModelsUnavailable("connection refused")

    def models(self) -> list[ModelFacts]:
        raise ModelsUnavailable("connection refused")


def test_without_the_models_api_the_window_goes_out_with_preflight_skipped() -> None:
    world = World(models=_Unreachable())

    outcome = world.submit([world.put("inbox/default/a.txt")]).submit

    assert outcome.preflight == "skipped" and outcome.submitted == 1
    assert world.jobs.items[outcome.jobs[0].job_id]["preflight"] == "skipped"


def test_cancel_markers_of_the_window_are_acted_on_after_it_is_sent() -> None:
    world = World()
    refs = [world.put("jobs/20261201T110000Z-0123abcd/cancel", ""), world.put("inbox/default/a.txt")]

    outcome = world.submit(refs)

    assert world.canceled == ["20261201T110000Z-0123abcd"]
    assert outcome.response()["canceled"] == {"20261201T110000Z-0123abcd": "canceling"}
    assert outcome.submit.submitted == 1


def test_a_schema_profile_gets_its_schema_written_once_per_job() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    world = World(profile_files={"profiles/extract.json": json.dumps({"output_schema": schema}).encode()})
    refs = [world.put("inbox/extract/a.txt"), world.put("inbox/extract/b.txt")]

    outcome = world.submit(refs).submit

    job_id = outcome.jobs[0].job_id
    schema_keys = [k for k in world.bucket.writes if k.startswith(f"jobs/{job_id}/") and k.endswith(".json")]
    assert len(schema_keys) == 1 and world.bucket.json(schema_keys[0]) == schema
    entries = list(load_manifest(world.bucket.text(f"jobs/{job_id}/manifest.jsonl").splitlines()))
    assert {e.schema_key for e in entries} == {schema_keys[0]}
