"""Submit's budgets against fakes: a job over its profile's or the stack's max_job_cost_usd sends
nothing of what is over; each such document gets an .error.json and the notifier says why."""

from __future__ import annotations

from dataclasses import replace

from batchdrop.domain.manifest import ManifestEntry
from batchdrop.usecases.submit import SubmitRules
from batchdrop.usecases.submit.budget import within_budgets
from batchdrop.usecases.submit.values import PendingRequest
from tests.unit.usecases.submitting import World


def _pending(custom_id: str, profile: str, cost: float | None, budget: float | None = None) -> PendingRequest:
    entry = ManifestEntry(
        custom_id=custom_id,
        source_key=f"inbox/{profile}/{custom_id}.txt",
        version_id="v1",
        etag="e",
        profile=profile,
        error_key=f"results/{profile}/{custom_id}.txt.error.json",
        model="claude-haiku-4-5",
        estimated_cost=cost,
    )
    return PendingRequest(entry, {"custom_id": custom_id, "params": {}}, "{}", budget)


def test_a_profile_over_its_budget_is_refused_and_the_others_kept() -> None:
    chunk = [_pending("a", "capped", 0.4, budget=0.5), _pending("b", "capped", 0.2, budget=0.5)]
    chunk.append(_pending("c", "default", 5.0))

    kept, refused, notes = within_budgets(chunk, stack_limit=None)

    assert [p.entry.custom_id for p in kept] == ["c"]
    assert [e.custom_id for e in refused] == ["a", "b"]
    assert all(e.status == "rejected" and (e.reason or "").startswith("not submitted: ") for e in refused)
    (note,) = notes
    assert (
        "estimated cost of 0.6000 USD" in note and "max_job_cost_usd of profile 'capped' of 0.5 USD" in note
    )


def test_the_stacks_budget_counts_every_kept_request() -> None:
    chunk = [_pending("a", "default", 0.3), _pending("b", "other", 0.3)]

    kept, refused, notes = within_budgets(chunk, stack_limit=0.5)

    assert kept == []
    assert [e.custom_id for e in refused] == ["a", "b"]
    assert "the stack's MaxJobCostUsd of 0.5 USD" in notes[0]


def test_an_unpriced_request_under_a_budget_cannot_be_estimated_so_is_refused() -> None:
    chunk = [
        replace(
            _pending("a", "default", None), entry=replace(_pending("a", "default", None).entry, model="x-1")
        )
    ]

    kept, refused, notes = within_budgets(chunk, stack_limit=10.0)

    assert kept == [] and len(refused) == 1
    assert "cannot be estimated: no known price for x-1" in notes[0]


def test_without_a_budget_everything_is_kept() -> None:
    chunk = [_pending("a", "default", None), _pending("b", "default", 100.0)]
    assert within_budgets(chunk, stack_limit=None) == (chunk, [], [])


def test_a_window_over_the_stacks_budget_writes_errors_notifies_and_sends_nothing() -> None:
    world = World()
    refs = [world.put("inbox/default/a.txt"), world.put("inbox/default/b.txt")]

    outcome = world.submit(refs, SubmitRules(max_job_cost_usd=1e-9)).submit

    assert world.batches.created == []
    assert outcome.submitted == 0 and outcome.rejected == 2 and outcome.jobs == []
    job_id = outcome.rejection_job_id
    assert job_id is not None
    for key in ("results/default/a.txt.error.json", "results/default/b.txt.error.json"):
        error = world.bucket.json(key)
        assert error["job_id"] == job_id and error["result_type"] == "rejected"
        assert error["reason"].startswith("not submitted: the job's estimated cost")
    # The manifest records the refused documents; no request is written, no job recorded.
    assert world.bucket.keys("jobs/") == [f"jobs/{job_id}/manifest.jsonl"]
    assert world.jobs.items == {}
    ((subject, message),) = world.notifier.published
    assert subject == f"batchdrop job {job_id}: 2 documents not submitted (over budget)"
    assert message["status"] == "over_budget" and message["documents"] == 2
    assert message["errors"] == [
        "s3://documents/results/default/a.txt.error.json",
        "s3://documents/results/default/b.txt.error.json",
    ]


def test_a_profile_budget_refuses_its_documents_and_the_rest_go_out() -> None:
    world = World(profile_files={"profiles/capped.json": b'{"max_job_cost_usd": 0.000000001}'})
    refs = [world.put("inbox/capped/a.txt"), world.put("inbox/default/b.txt")]

    outcome = world.submit(refs).submit

    assert outcome.submitted == 1 and outcome.rejected == 1
    (batch_id,) = world.batches.created
    assert [r["params"]["messages"][0]["content"][0]["title"] for r in world.batches.requests[batch_id]] == [
        "b.txt"
    ]
    assert (
        "max_job_cost_usd of profile 'capped'"
        in world.bucket.json("results/capped/a.txt.error.json")["reason"]
    )
