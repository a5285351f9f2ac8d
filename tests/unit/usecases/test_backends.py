"""Two backends behind one port, against fakes: a window splits into jobs by backend (and on
Bedrock by model), each created and recorded on its own; Poll, Complete (its follow-up job too)
and cancel act on the backend a job records; a backend the stack cannot reach refuses clearly."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from batchdrop.domain.keys import manifest_key, requests_key
from batchdrop.domain.lifecycle import JobState
from batchdrop.domain.preflight import check_bedrock_request
from batchdrop.ports.batches import Backends, BackendUnavailable, BatchInfo
from batchdrop.usecases.cancel import cancel_job
from batchdrop.usecases.complete import complete_job
from batchdrop.usecases.poll import poll_open_jobs
from batchdrop.usecases.submit import SubmitRules, submit_window
from batchdrop.usecases.submit.minimum import SizeRules
from tests.fakes import FakeBatches, FakeClock, errored
from tests.unit.usecases import complete_world, poll_kit, submitting

HAIKU = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


class FakeBedrock(FakeBatches):
    """A second backend: its batch ids are Bedrock job ARNs, and it records which job each
    create was for (for_job), as the Bedrock adapter names its jobs."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.for_jobs: list[str] = []

    def for_job(self, job_id: str) -> FakeBedrock:
        self.for_jobs.append(job_id)
        return self

    def create(self, requests: list[dict[str, Any]]) -> BatchInfo:
        info = super().create(requests)
        arn = f"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/{len(self.batches):04d}"
        self.batches[arn] = replace(info, id=arn)
        self.requests[arn] = self.requests.pop(info.id)
        del self.batches[info.id]
        self.created[-1] = arn
        return self.batches[arn]


def both(anthropic: FakeBatches, bedrock: FakeBatches | None, why: str = "no Bedrock role") -> Backends:
    makers: dict[str, Any] = {"anthropic": lambda: anthropic}
    if bedrock is not None:
        makers["bedrock"] = lambda: bedrock
    return Backends(makers, None if bedrock is not None else {"bedrock": why})


def profile_yaml(model: str) -> bytes:
    return f"backend: bedrock\nbedrock_model: {model}\n".encode()


# ---------------------------------------------------------------- Submit


def _submit(world: submitting.World, backends: Backends, refs: list[Any]) -> Any:
    ports = replace(world.ports(), backends=backends)
    # Bedrock's minimum job size is tested on its own (test_bedrock_minimum): none here.
    return submit_window(
        submitting.ListNotices(refs), ports, SubmitRules(sizes=SizeRules(min_records=1))
    ).submit


def test_a_mixed_window_becomes_one_job_per_backend_each_created_on_its_own() -> None:
    world = submitting.World()
    world.models = world.batches  # the Models API knows the Claude model, not the Bedrock id
    bedrock = FakeBedrock(world.clock)
    world.profile_files = {"profiles/onbedrock.yaml": profile_yaml(HAIKU)}
    refs = [
        world.put("inbox/default/a.txt", "Alpha."),
        world.put("inbox/onbedrock/b.txt", "Beta."),
        world.put("inbox/default/c.txt", "Gamma."),
    ]

    outcome = _submit(world, both(world.batches, bedrock), refs)

    assert outcome.submitted == 3 and outcome.rejected == 0 and outcome.preflight is None
    first, second = outcome.jobs
    assert first.batch_id.startswith("msgbatch_") and second.batch_id.startswith("arn:aws:bedrock:")
    assert [world.jobs.items[j.job_id]["backend"] for j in (first, second)] == ["anthropic", "bedrock"]
    assert world.jobs.get(second.job_id).backend == "bedrock"  # type: ignore[union-attr]
    assert [j.requests for j in (first, second)] == [2, 1]
    (sent,) = bedrock.requests.values()
    assert [r["params"]["model"] for r in sent] == [HAIKU]
    assert bedrock.for_jobs == [second.job_id]  # the Bedrock job is keyed by its batchdrop job
    assert [world.jobs.items[j.job_id]["part"] for j in (first, second)] == ["1/2", "2/2"]


def test_bedrock_jobs_split_by_model_a_model_invocation_job_has_one() -> None:
    world = submitting.World()
    bedrock = FakeBedrock(world.clock)
    world.profile_files = {"profiles/h.yaml": profile_yaml(HAIKU), "profiles/s.yaml": profile_yaml(SONNET)}
    refs = [world.put("inbox/h/1.txt"), world.put("inbox/s/2.txt"), world.put("inbox/h/3.txt")]

    outcome = _submit(world, both(world.batches, bedrock), refs)

    assert [j.requests for j in outcome.jobs] == [2, 1]
    assert world.batches.created == []
    models = [{r["params"]["model"] for r in requests} for requests in bedrock.requests.values()]
    assert models == [{HAIKU}, {SONNET}]


def test_a_bedrock_profile_on_a_stack_without_its_role_gets_an_error_and_the_rest_goes() -> None:
    world = submitting.World()
    world.profile_files = {"profiles/onbedrock.yaml": profile_yaml(HAIKU)}
    refs = [world.put("inbox/default/a.txt"), world.put("inbox/onbedrock/b.txt")]

    outcome = _submit(world, both(world.batches, None, "this stack has no Bedrock service role"), refs)

    (job,) = outcome.jobs
    assert (outcome.submitted, outcome.rejected, world.jobs.items[job.job_id]["backend"]) == (
        1,
        1,
        "anthropic",
    )
    error = json.loads(world.bucket.text("results/onbedrock/b.txt.error.json"))
    assert "this stack has no Bedrock service role" in json.dumps(error)


def test_bedrock_preflight_keeps_the_messages_shape_rules_and_refuses_what_bedrock_lacks() -> None:
    # The Claude API's version rules (temperature removed) are not Bedrock's; the shape rules are.
    text = {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    assert check_bedrock_request({"model": HAIKU, "temperature": 0.2, "messages": [text]}).refused == ()
    cited = {"role": "user", "content": [{"type": "text", "text": "x", "citations": [{"a": 1}]}]}
    (why,) = check_bedrock_request({"model": HAIKU, "messages": [cited]}).refused
    assert "citations are not permitted" in why
    cached = {
        "role": "user",
        "content": [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}],
    }
    (why,) = check_bedrock_request({"model": HAIKU, "messages": [cached]}).refused
    assert "prompt caching" in why and "Amazon Bedrock" in why


# ---------------------------------------------------------------- Poll and cancel


def _bedrock_job(world: poll_kit.World, bedrock: FakeBedrock, job_id: str) -> str:
    world.submitting(job_id, backend="bedrock")
    batch = bedrock.for_job(job_id).create([poll_kit.REQUEST])
    assert world.jobs.record_submitted(job_id, batch.id, batch.expires_at, batch.created_at, world.clock())
    return batch.id


def test_poll_watches_each_job_on_the_backend_it_records() -> None:
    world = poll_kit.World()
    bedrock = FakeBedrock(world.clock)
    claude = world.running("j-claude")
    arn = _bedrock_job(world, bedrock, "j-bedrock")
    bedrock.end(arn)

    report = poll_open_jobs(world.jobs, both(world.api, bedrock), world.bus, world.clock, concurrency=1)

    assert report.ended == ["j-bedrock"] and report.in_progress == 1
    assert world.api.retrieved == 1 and claude in world.api.batches and arn not in world.api.batches
    assert world.announcements() == [("Batch Ended", "j-bedrock")]


def test_poll_creates_a_stuck_jobs_batch_on_its_backend() -> None:
    world = poll_kit.World()
    bedrock = FakeBedrock(world.clock)
    world.submitting("j1", backend="bedrock")
    world.clock.advance(minutes=21)

    report = poll_open_jobs(
        world.jobs, both(world.api, bedrock), world.bus, world.clock, concurrency=1, store=world.bucket
    )

    assert report.created == ["j1"] and world.api.created == [] and bedrock.for_jobs == ["j1"]
    assert world.jobs.get("j1").batch_id == bedrock.created[0]  # type: ignore[union-attr]


def test_a_bedrock_job_on_a_stack_without_bedrock_fails_the_tick_after_the_others() -> None:
    world = poll_kit.World()
    bedrock = FakeBedrock(world.clock)
    _bedrock_job(world, bedrock, "j-bedrock")
    claude = world.running("j-claude")
    world.api.end(claude)

    with pytest.raises(BackendUnavailable, match="no Bedrock role"):
        poll_open_jobs(world.jobs, both(world.api, None), world.bus, world.clock, concurrency=1)

    assert world.announcements() == [("Batch Ended", "j-claude")]  # the other job had its turn


def test_cancel_stops_the_batch_on_the_jobs_backend() -> None:
    world = poll_kit.World()
    bedrock = FakeBedrock(world.clock)
    arn = _bedrock_job(world, bedrock, "j-bedrock")
    claude = world.running("j-claude")
    backends = both(world.api, bedrock)

    assert cancel_job("j-bedrock", world.jobs, backends, world.clock()) == "canceling"
    assert cancel_job("j-claude", world.jobs, backends, world.clock()) == "canceling"

    assert bedrock.canceled == [arn] and world.api.canceled == [claude]


# ---------------------------------------------------------------- Complete


def test_complete_reads_a_bedrock_jobs_results_and_asks_again_on_bedrock() -> None:
    world = complete_world.World()
    bedrock = FakeBedrock(world.clock)
    job = "20261201T120000Z-0b0b0b0b"
    _ended_bedrock_job(world, bedrock, job, {complete_world.custom_id(1): errored("api_error", "Internal")})

    summary = complete_job(job, world.ctx(backends=both(world.batches, bedrock)))

    follow_up = f"{job}-a2"
    assert summary["counts"]["succeeded"] == 1 and summary["retried_in"] == follow_up
    assert world.batches.created == []  # the Claude API was never asked
    assert world.jobs.items[follow_up]["backend"] == "bedrock"
    assert world.jobs.state(follow_up) is JobState.SUBMITTED
    assert bedrock.for_jobs[-1] == follow_up
    (asked_again,) = [bedrock.requests[b] for b in bedrock.created[1:]]
    assert [r["custom_id"] for r in asked_again] == [complete_world.custom_id(1)]


def test_complete_refuses_a_bedrock_job_when_the_stack_cannot_reach_bedrock() -> None:
    world = complete_world.World()
    bedrock = FakeBedrock(world.clock)
    job = "20261201T120000Z-0c0c0c0c"
    _ended_bedrock_job(world, bedrock, job, {})

    with pytest.raises(BackendUnavailable, match="no Bedrock role"):
        complete_job(job, world.ctx(backends=both(world.batches, None)))

    assert world.jobs.state(job) is JobState.ENDED  # not claimed: a later delivery can complete it


def _ended_bedrock_job(
    world: complete_world.World, bedrock: FakeBedrock, job_id: str, outcomes: dict[str, Any]
) -> None:
    from batchdrop.domain.manifest import ManifestEntry, dump_manifest

    ids = [complete_world.custom_id(n) for n in range(2)]
    entries = [
        ManifestEntry(
            custom_id=c,
            source_key=f"inbox/onbedrock/{n}.txt",
            version_id=f"v{n}",
            etag=f"e{n}",
            profile="onbedrock",
            error_key=f"results/onbedrock/{n}.txt.error.json",
            result_key=f"results/onbedrock/{n}.txt.md",
            model=HAIKU,
        )
        for n, c in enumerate(ids)
    ]
    requests = [{"custom_id": c, "params": {"model": HAIKU, "max_tokens": 8, "messages": []}} for c in ids]
    world.bucket.put(manifest_key(job_id), dump_manifest(entries), "application/x-ndjson")
    world.bucket.put(
        requests_key(job_id), "".join(json.dumps(r) + "\n" for r in requests), "application/x-ndjson"
    )
    now = world.clock()
    world.jobs.record_intent(job_id, manifest_key(job_id), now, timedelta(minutes=5), "o", backend="bedrock")
    info = bedrock.for_job(job_id).create(requests)
    world.jobs.record_submitted(job_id, info.id, info.expires_at, info.created_at, now)
    bedrock.end(info.id, outcomes)
    assert world.jobs.claim_ended(job_id, now, timedelta(minutes=5)) and world.jobs.mark_ended(job_id, now)


def test_a_cancel_marker_for_a_job_whose_backend_is_out_of_reach_says_why() -> None:
    world = poll_kit.World()
    bedrock = FakeBedrock(world.clock)
    _bedrock_job(world, bedrock, "j-bedrock")

    said = cancel_job("j-bedrock", world.jobs, both(world.api, None), world.clock())

    assert said == "cannot cancel: no Bedrock role" and bedrock.canceled == []
    assert world.jobs.get("j-bedrock").cancel_requested_at is not None  # type: ignore[union-attr]


def test_a_request_list_under_a_bedrock_profile_names_the_bedrock_model() -> None:
    world = submitting.World()
    bedrock = FakeBedrock(world.clock)
    world.profile_files = {"profiles/onbedrock.yaml": profile_yaml(HAIKU)}
    line = {"id": "q1", "params": {"messages": [{"role": "user", "content": "Hello?"}]}}
    refs = [world.put("inbox/onbedrock/questions.jsonl", json.dumps(line) + "\n")]

    outcome = _submit(world, both(world.batches, bedrock), refs)

    (job,) = outcome.jobs
    assert world.jobs.items[job.job_id]["backend"] == "bedrock"
    (sent,) = bedrock.requests.values()
    assert [r["params"]["model"] for r in sent] == [HAIKU]


def test_a_request_list_line_naming_another_model_than_the_bedrock_profile_gets_an_error() -> None:
    # Given a Bedrock profile on Haiku and a list whose second line names Sonnet
    world = submitting.World()
    bedrock = FakeBedrock(world.clock)
    world.profile_files = {"profiles/onbedrock.yaml": profile_yaml(HAIKU)}
    hello = [{"role": "user", "content": "Hello?"}]
    lines = [
        {"id": "q1", "params": {"messages": hello}},
        {"id": "q2", "params": {"model": SONNET, "messages": hello}},
    ]
    refs = [world.put("inbox/onbedrock/questions.jsonl", "".join(json.dumps(x) + "\n" for x in lines))]

    outcome = _submit(world, both(world.batches, bedrock), refs)

    # Then one Bedrock job runs the profile's model with the first line only (no job on Sonnet)
    assert (outcome.submitted, outcome.rejected) == (1, 1)
    (sent,) = bedrock.requests.values()
    assert [r["params"]["model"] for r in sent] == [HAIKU]
    # And the second line's error object names both models
    error = json.dumps(json.loads(world.bucket.text("results/onbedrock/questions.jsonl/q2.error.json")))
    assert SONNET in error and HAIKU in error and "runs that model only" in error
