"""Nothing lost, nothing billed twice: the whole local stack, one fault at a time.

One local stack (in process) serves every scenario; harness.py says what each one checks. The
scenarios cover every way issue 9 found to lose a document or bill it twice, faults on each AWS
service the functions use at each step of a job's life (throttling, 5xx, answers lost after
the call took effect), the API's faults (errors, cut answers, gateways that answer late, a full
batch queue, archived results, per-request errors that drive the follow-up path), a crash at
every state transition, documents that cannot become requests, versions, deletions, duplicated
deliveries, and a job of more documents than Complete writes at once. Each adds a row to the
matrix printed at the end of the run (see conftest.py).

Each scenario runs on both backends: ``<scenario>[anthropic]`` with the documents under the
default profile (the Claude API emulator), and ``<scenario>[bedrock]`` with them under a profile
of ``backend: bedrock`` (the Bedrock emulator), its API faults translated to Bedrock's
(``bedrock_variant``, the ``ON_BEDROCK`` table), the AWS faults and crash points as they are.
The scenarios that mean nothing on Bedrock are listed in ``ANTHROPIC_ONLY`` with the reason.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from batchdrop.adapters.bedrock_backend import CLIENT_RETRIES
from batchdrop.domain.bedrock import job_name, job_prefix
from batchdrop_local.emulator import FailRule
from batchdrop_local.runtime import FunctionWorker
from batchdrop_local.stack import LocalStack, LocalStackOptions
from batchdrop_local.triggers import SqsSource
from tests.faults.harness import (
    BACKENDS,
    COMPLETE,
    POLL,
    PROFILE_OF,
    SUBMIT,
    AwsFault,
    Backend,
    BedrockFault,
    Calls,
    Doc,
    EmulatorFault,
    FaultHarness,
    Outcome,
    ReportLog,
    Scenario,
    State,
    Step,
    assert_scenario_held,
)
from tests.fixtures import files

pytestmark = pytest.mark.e2e

# The API faults that the SDK's own retries absorb (SDK_MAX_RETRIES is 4: five tries), and
# those that outlast them, so that the invocation fails and its event source retries it.
WITHIN_SDK_RETRIES = 2
PAST_SDK_RETRIES = 6
# botocore's standard retry mode tries 3 times (DynamoDB 4): this many faults in a row reach
# the function as a ClientError.
PAST_AWS_RETRIES = 3
PAST_DYNAMODB_RETRIES = 4

# Timings. A job's creation is leased to its writer for SUBMIT_GRACE_SECONDS; the lease must
# outlast a live Submit between recording the job and creating its batch, as deployed (1200 s
# against the function's 900 s timeout). On a cold container that includes importing the SDK:
# up to 8 s here (job times have 1 s resolution).
SUBMIT_GRACE_SECONDS = 12
# A notification that a failed Submit left behind comes back after the grace, as deployed
# (visibility 5700 s against the 1200 s grace).
VISIBILITY_TIMEOUT = SUBMIT_GRACE_SECONDS + 5
FUNCTION_ENV = {
    "SUBMIT_GRACE_SECONDS": str(SUBMIT_GRACE_SECONDS),
    "COMPLETING_LEASE_SECONDS": "3",
    "REDRIVE_AFTER_SECONDS": "5",
    "ENDING_LEASE_SECONDS": "3",
    # A full batch queue is tried again after 1 s, then 2, 4...; documents wait 20 s at most.
    "QUEUE_RETRY_FIRST_SECONDS": "1",
    "QUEUE_WAIT_MAX_SECONDS": "20",
    # A batch the emulator makes is listed at once: 3 s before a lost create is tried again.
    "CREATE_SPAN_SECONDS": "3",
    # Submit holds a Bedrock job of fewer documents than this (deployed: 100, Bedrock's quota);
    # the matrix's jobs are of a few documents, and the stack's Bedrock emulator takes 1 record.
    "BEDROCK_MIN_RECORDS": "1",
}
# botocore's tries of one Bedrock call: this many faults in a row reach batchdrop; fewer are
# absorbed by the client's retries. The adapter's Config(retries={"max_attempts": 4}) counts
# retries, not tries (botocore's total_max_attempts counts both): 5 tries.
BEDROCK_TRIES = int(str(CLIENT_RETRIES["max_attempts"])) + 1


# --- building blocks ----------------------------------------------------------------------------


def _api_fault(status: int, endpoint: str) -> Scenario:
    # A create is never retried by the SDK: three 5xx in a row are three tries of batchdrop's
    # own, each after listing and waiting CREATE_SPAN_SECONDS.
    count = WITHIN_SDK_RETRIES if status == 429 else 3 if endpoint == "create" else PAST_SDK_RETRIES
    return Scenario(
        name=f"http-{status}-{endpoint}",
        fault=f"HTTP {status} x{count} on {endpoint}",
        emulator_faults=(EmulatorFault(endpoint, count, status),),
        # A create is never retried blind: batchdrop lists, then tries again or waits, and no
        # invocation fails; the SDK retries the others, past which the invocation fails.
        function_retry=endpoint != "create" and count > WITHIN_SDK_RETRIES,
    )


def _crash(function: str, point: str, **kwargs: Any) -> Scenario:
    return Scenario(
        name=f"crash-{point.replace(':', '-')}",
        fault=f"{function.removesuffix('Function')} dies at {point}",
        crash=(function, point),
        function_retry=True,
        **kwargs,
    )


def _job(state: State, test: Callable[[str, dict[str, Any]], bool]) -> bool:
    return any(test(job_id, job) for job_id, job in state.jobs.items())


def _submitted(h: FaultHarness, state: State) -> bool:
    return _job(state, lambda _, job: bool(job.get("batch_id")))


def _waiting(h: FaultHarness, state: State) -> bool:
    return _job(state, lambda _, job: "waiting_since" in job)


def _follow_up_waiting(h: FaultHarness, state: State) -> bool:
    return _job(state, lambda job_id, job: job_id.endswith("-a2") and "waiting_since" in job)


def _queue(full: bool) -> Callable[[FaultHarness, State], None]:
    def act(h: FaultHarness, _: State) -> None:
        h.emulator.set_queue_full(full)

    return act


def _free_queue(h: FaultHarness) -> None:
    h.emulator.set_queue_full(False)


def _payloads(outcome: Outcome, function: str) -> list[dict[str, Any]]:
    return [
        c.payload for c in outcome.calls if c.function == function and c.ok and isinstance(c.payload, dict)
    ]


def _preflight_skipped(outcome: Outcome) -> None:
    """Submit went on without the Models API's facts, and said so."""
    said = [p.get("preflight") for p in _payloads(outcome, SUBMIT)]
    assert "skipped" in said, f"Submit's preflight reports were {said}"


def _submit_created(how: str) -> Callable[[Outcome], None]:
    """Submit reported a job whose batch it got this way (created, adopted, waiting...)."""

    def check(outcome: Outcome) -> None:
        ways = [job["creation"] for p in _payloads(outcome, SUBMIT) for job in p.get("jobs", [])]
        assert how in ways, f"Submit's jobs were {ways}, none {how}"

    return check


def _poll_reported(field: str) -> Callable[[Outcome], None]:
    def check(outcome: Outcome) -> None:
        assert any(p.get(field) for p in _payloads(outcome, POLL)), f"Poll never reported {field}"

    return check


def _all(*checks: Callable[[Outcome], None]) -> Callable[[Outcome], None]:
    def check(outcome: Outcome) -> None:
        for one in checks:
            one(outcome)

    return check


def _one_batch_per_job(outcome: Outcome) -> None:
    """Every request of the scenario was submitted once: no second batch for any job."""
    assert set(outcome.submitted.values()) == {1}, outcome.submitted


def _follow_up_ran(outcome: Outcome) -> None:
    follow_ups = [job_id for job_id in outcome.jobs if job_id.endswith("-a2")]
    assert follow_ups and all(outcome.jobs[j] == "completed" for j in follow_ups), outcome.jobs
    retried = sum(s["counts"]["retried"] for s in outcome.summaries.values())
    assert retried == len(outcome.expected), f"{retried} documents retried"


def _duplicates_recognised(outcome: Outcome) -> None:
    assert outcome.duplicates_sent == 3 * len(outcome.expected)
    assert outcome.submit_ignored() == outcome.duplicates_sent, (
        f"Submit ignored {outcome.submit_ignored()} notifications, not each copy"
    )


def _batch_ended_duplicates(outcome: Outcome) -> None:
    assert outcome.duplicates_sent == 2
    assert outcome.completions("duplicate") >= 2, "Complete did not see the copies as duplicates"


FAIL_FIRST = FailRule(pattern="doc-.*", attempts=1, outcome="errored", error_type="overloaded_error")


# --- the steps that act while a scenario runs -----------------------------------------------------


# Where batch-ended-during-completion's first Complete waits to be released (crash_points.hold_point):
# one folder per matrix worker (a process), emptied before each run of the scenario.
HELD_POINT = "complete:after-claim"
HOLD_DIR = Path(tempfile.gettempdir()) / f"batchdrop-matrix-hold-{os.getpid()}"


def _second_container(h: FaultHarness, state: State) -> None:
    """A second Complete container (Lambda runs one per concurrent event), started early so that
    its cold start does not decide the race; the first Complete will hold after its claim."""
    shutil.rmtree(HOLD_DIR, ignore_errors=True)
    HOLD_DIR.mkdir(parents=True)
    fn = h.stack.resources.functions[COMPLETE]  # type: ignore[union-attr]
    worker = FunctionWorker(fn, h.stack.workers[COMPLETE]._env, h.logs)
    worker.warm()
    state.notes["second"] = worker


def _deliver_to_second_container(h: FaultHarness, state: State) -> None:
    """The duplicate "Batch Ended" reaches a second container while the first is completing."""
    worker: FunctionWorker = state.notes["second"]
    (job_id, job) = next((j, job) for j, job in state.jobs.items() if job["status"] == "completing")
    event = {
        "version": "0",
        "id": "duplicate-batch-ended",
        "detail-type": "Batch Ended",
        "source": "batchdrop",
        "account": "123456789012",
        "time": "2026-12-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"job_id": job_id, "batch_id": job.get("batch_id")},
    }
    try:
        state.notes["second_answer"] = worker.invoke(event)
    finally:
        (HOLD_DIR / f"release-{HELD_POINT}").touch()  # the first Complete goes on
        worker.stop()


def _second_was_busy(outcome: Outcome) -> None:
    answer = outcome.state.notes["second_answer"]
    assert answer.ok, answer.error
    assert answer.payload["status"] == "busy", answer.payload


def _completing(h: FaultHarness, state: State) -> bool:
    return _job(state, lambda _, job: job["status"] == "completing")


def _upload_second_version(h: FaultHarness, state: State) -> None:
    """v2 of the document, into a batch that ends long before v1's."""
    h.emulator.update_config(processing_delay=0.5)
    key = state.prefix + "report.txt"
    state.notes["v2"] = h.put(key, b"Version two of the report: 42 widgets, not 41.")["versionId"]


def _newest_version_won(outcome: Outcome) -> None:
    (expected,) = outcome.expected
    head = outcome.state.notes["h"].s3.head_object(
        Bucket=outcome.state.notes["bucket"], Key=expected.answer_key
    )
    assert head["Metadata"]["batchdrop-version-id"] == outcome.state.notes["v2"], head["Metadata"]
    superseded = sum(s["counts"].get("superseded", 0) for s in outcome.summaries.values())
    assert superseded == 1 and len(outcome.billed) == 2, (superseded, outcome.billed)


def _remember_stack(h: FaultHarness, state: State) -> None:
    state.notes.update(h=h, bucket=h.bucket)


def _delete_first(h: FaultHarness, state: State) -> None:
    h.s3.delete_object(Bucket=h.bucket, Key=state.prefix + "gone.txt")


def _not_billed(name: str) -> Callable[[Outcome], None]:
    def check(outcome: Outcome) -> None:
        entries = [
            e
            for job_id in outcome.jobs
            for e in outcome.state.notes["h"].manifests[job_id]
            if e["source_key"].endswith(name)
        ]
        assert entries and all(e["status"] == "rejected" for e in entries), entries
        assert not {e["custom_id"] for e in entries} & set(outcome.submitted)

    return check


def _summary_says(text: str) -> Callable[[Outcome], None]:
    def check(outcome: Outcome) -> None:
        blob = json.dumps([outcome.summaries, outcome.notices], ensure_ascii=False).lower()
        assert text.lower() in blob, f"neither summary nor notification says {text!r}"

    return check


def _create_noted(h: FaultHarness, state: State) -> bool:
    return _job(state, lambda _, job: job["status"] == "submitting" and "create_calls" in job)


def _foreign_batch(h: FaultHarness, state: State) -> None:
    """Someone else's batch of the same size, made right after the job's create call: Poll can
    tell it from the job's own only by its results."""
    import anthropic

    size = next(int(job["requests"]) for job in state.jobs.values() if "create_calls" in job)
    requests = [
        {
            "custom_id": f"foreign-{n}",
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": f"Someone else's request {n}."}],
            },
        }
        for n in range(size)
    ]
    client = anthropic.Anthropic(api_key="someone-else", base_url=h.emulator.url, max_retries=0)
    client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
    state.notes["foreign_custom_ids"] = [r["custom_id"] for r in requests]


def _disowned(outcome: Outcome) -> None:
    assert outcome.completions("wrong_batch") == 1, "Complete did not disown the foreign batch"
    assert any(p.get("created") for p in _payloads(outcome, POLL)), "Poll never created the job's batch"


# --- the documents of the scenarios about documents -----------------------------------------------

# Source keys of 1,020 bytes: their result keys (results/ is 2 bytes longer than inbox/, plus
# .md or .error.json) pass S3's 1,024-byte limit, which the local stack enforces as S3 does.
_LONG = "é" * 496  # 992 bytes
LONG_NAMES = (_LONG + ".txt", _LONG[:-1] + "ü.txt")

BAD_LIST = "\n".join(
    json.dumps(line)
    for line in (
        {"id": "good-1", "prompt": "Say hello."},
        {"id": "lots", "params": {"model": "claude-haiku-4-5", "max_tokens": "lots", "messages": []}},
        {
            "id": "five",
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 8,
                "messages": [{"role": "user", "content": 5}],
            },
        },
        {"id": "bare", "params": {"model": "claude-haiku-4-5", "max_tokens": 8, "messages": ["hi"]}},
        {
            "id": "system",
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 8,
                "system": ["x"],
                "messages": [{"role": "user", "content": "hi"}],
            },
        },
        {"id": "good-2", "prompt": "Say goodbye."},
    )
).encode()

# What S3 answers a GET of an SSE-C object made without its key (a HEAD gets a bare 400).
SSE_C_MESSAGE = (
    "The object was stored using a form of Server Side Encryption. "
    "The correct parameters must be provided to retrieve the object."
)

BIG_JOB = tuple(Doc(f"doc-{n:03d}.txt") for n in range(210))


class _OneWindow:
    """All of a scenario's uploads in one ingest window, whatever the machine's speed: the poller
    is paused while they are uploaded (they wait in the queue, as with the event source mapping
    disabled), then takes them in one window closed by the batch size, the count of uploads, not
    by how long the uploads took. (A 20 s window had to outlast 210 uploads.)"""

    def __init__(self) -> None:
        self._configured: tuple[int, float] | None = None

    @staticmethod
    def _source(h: FaultHarness) -> SqsSource:
        (source,) = (
            s for s in h.stack.sources if isinstance(s, SqsSource) and s.worker.fn.logical_id == SUBMIT
        )
        return source

    def hold(self, h: FaultHarness, state: State) -> None:
        _remember_stack(h, state)
        source = self._source(h)
        self._configured = (source.batch_size, source.window_seconds)
        source.pause()

    def release(self, h: FaultHarness, state: State) -> None:
        source = self._source(h)

        def queued() -> int:
            attributes = h.sqs.get_queue_attributes(
                QueueUrl=source.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            return int(attributes["ApproximateNumberOfMessages"])

        deadline = time.monotonic() + 60  # moto queues each within its put: this bounds a bug only
        while queued() < len(state.uploaded):
            assert time.monotonic() < deadline, f"{queued()} of {len(state.uploaded)} notifications queued"
            time.sleep(0.2)
        # The window's time only bounds it; the last of the queued messages closes it.
        source.batch_size, source.window_seconds = len(state.uploaded), 120.0
        source.resume()

    def restore(self, h: FaultHarness) -> None:
        source = self._source(h)
        if self._configured is not None:
            source.batch_size, source.window_seconds = self._configured
        source.resume()


_one_window = _OneWindow()


def _one_job_of_all(outcome: Outcome) -> None:
    sizes = sorted(len(outcome.state.notes["h"].manifests[job_id]) for job_id in outcome.jobs)
    assert sizes == [len(BIG_JOB)], f"jobs of {sizes} documents, not one of {len(BIG_JOB)}"


# --- the scenarios --------------------------------------------------------------------------------

# Crash scenarios restart the function (a cold start); they come after the others of their kind.
SCENARIOS = [
    Scenario("no-fault", "none (baseline)"),
    # --- the Claude API ---
    *(
        _api_fault(status, endpoint)
        for endpoint in ("create", "retrieve", "results")
        for status in (429, 500, 529)
    ),
    Scenario(
        "models-api-down",
        f"HTTP 503 x{PAST_SDK_RETRIES - 1} on the Models API (every try of the preflight's model lookup): "
        "submitted with the version rules only",
        # The lookup is tried once and retried 4 times by the SDK; none of it may fail the window.
        emulator_faults=(EmulatorFault("retrieve_model", PAST_SDK_RETRIES - 1, 503),),
        check=_preflight_skipped,
    ),
    Scenario(
        "cut-results",
        "results stream cut after 2 of 4 lines",
        emulator_faults=(EmulatorFault("results", 1, cut_after_lines=2),),
        function_retry=True,
    ),
    Scenario(
        "cut-create",
        "create answer cut (batch made, answer lost): Submit lists and adopts",
        emulator_faults=(EmulatorFault("create", 1),),
        check=_all(_submit_created("adopted"), _one_batch_per_job),
    ),
    *(
        Scenario(
            f"create-{status}-after-effect",
            f"create makes the batch, then a gateway answers {status} (issue 9 case 9)",
            emulator_faults=(EmulatorFault("create", 1, status, after_effect=True),),
            check=_all(_submit_created("adopted"), _one_batch_per_job),
        )
        for status in (500, 504)
    ),
    Scenario(
        "cut-create-list-500",
        f"create answer cut, then list HTTP 500 x{PAST_SDK_RETRIES - 1}: Poll adopts after the lease",
        emulator_faults=(EmulatorFault("create", 1), EmulatorFault("list", PAST_SDK_RETRIES - 1, 500)),
        check=_all(_submit_created("uncertain"), _poll_reported("adopted"), _one_batch_per_job),
    ),
    Scenario(
        "queue-full-drains",
        "batch queue full (429 on create) until a job waits, then free (case 4)",
        before=_queue(True),
        steps=(Step("free the queue", _waiting, _queue(False)),),
        after=_free_queue,
        check=_all(_submit_created("waiting"), _poll_reported("created"), _one_batch_per_job),
    ),
    Scenario(
        "queue-full-gives-up",
        "batch queue full for longer than QUEUE_WAIT_MAX (20 s): documents get errors (case 4)",
        documents=tuple(Doc(name, expect="error", reason="not submitted") for name in ("a.txt", "b.txt")),
        before=_queue(True),
        after=_free_queue,
        check=_all(_poll_reported("gave_up"), _summary_says("not submitted")),
    ),
    Scenario(
        "results-archived",
        "results archived before they were read: 404 (case 7)",
        documents=tuple(Doc(name, expect="error", reason="archived") for name in ("a.txt", "b.txt", "c.txt")),
        emulator_config={"results_ttl": 0.0},
        check=_summary_says("results_archived"),
    ),
    Scenario(
        "retry-errored",
        "every request errors (overloaded) on its first attempt: a follow-up job answers it",
        emulator_config={"fail_first_attempts": (FAIL_FIRST,)},
        max_submissions=2,
        check=_follow_up_ran,
    ),
    Scenario(
        "retry-expired",
        "every request expires on its first attempt: a follow-up job answers it",
        emulator_config={"fail_first_attempts": (FailRule(pattern="doc-.*", attempts=1, outcome="expired"),)},
        max_submissions=2,
        check=_follow_up_ran,
    ),
    Scenario(
        "follow-up-queue-full",
        "the follow-up's create is refused (queue full) until it waits (case 1)",
        emulator_config={"fail_first_attempts": (FAIL_FIRST,)},
        steps=(
            Step("fill the queue", _submitted, _queue(True)),
            Step("free the queue", _follow_up_waiting, _queue(False)),
        ),
        after=_free_queue,
        max_submissions=2,
        check=_all(_follow_up_ran, _poll_reported("created")),
    ),
    Scenario(
        "follow-up-create-500",
        f"the follow-up's create answers 500 x{PAST_AWS_RETRIES} (case 1)",
        emulator_config={"fail_first_attempts": (FAIL_FIRST,)},
        steps=(
            Step(
                "break create",
                _submitted,
                lambda h, _: h.emulator.inject_fault("create", 500, PAST_AWS_RETRIES),
            ),
        ),
        max_submissions=2,
        check=_follow_up_ran,
    ),
    Scenario(
        "duplicate-s3",
        "every S3 notification sent 3 more times",
        duplicate="s3",
        check=_duplicates_recognised,
    ),
    Scenario(
        "duplicate-batch-ended",
        '"Batch Ended" sent 2 more times',
        duplicate="batch-ended",
        check=_batch_ended_duplicates,
    ),
    Scenario(
        "batch-ended-during-completion",
        'a second "Batch Ended" reaches a second container mid-completion (case 13)',
        # The first Complete holds just after its claim until the duplicate has been answered.
        function_env={COMPLETE: {"BATCHDROP_HOLD_POINTS": HELD_POINT, "BATCHDROP_HOLD_DIR": str(HOLD_DIR)}},
        before=_second_container,
        steps=(Step("deliver the duplicate", _completing, _deliver_to_second_container),),
        check=_second_was_busy,
        deadline=120.0,
    ),
    # --- documents ---
    Scenario(
        "long-keys",
        "source keys of 1,020 bytes: result and error keys shortened to fit S3 (case 3)",
        documents=(
            Doc(LONG_NAMES[0]),
            Doc(LONG_NAMES[1], body=files.nul_binary(), expect="error", reason="binary"),
        ),
    ),
    Scenario(
        "bad-list-lines",
        "a request list with 4 malformed lines among good ones (case 5)",
        documents=(
            Doc(
                "questions.jsonl",
                body=BAD_LIST,
                items=(
                    ("good-1", "answer"),
                    ("lots", "error"),
                    ("five", "error"),
                    ("bare", "error"),
                    ("system", "error"),
                    ("good-2", "answer"),
                ),
            ),
            Doc("plain.txt"),
        ),
    ),
    Scenario(
        "binary-and-utf16",
        "a .txt of NUL bytes, a .txt in UTF-16 without a BOM (case 12)",
        documents=(
            Doc("binary.txt", body=files.nul_binary(), expect="error", reason="binary"),
            Doc("utf16.txt", body="Quarterly widgets: 41 sold, 3 returned.".encode("utf-16-le")),
            Doc("plain.txt"),
        ),
    ),
    Scenario(
        "unreadable-objects",
        "objects S3 will not hand over: KMS key denied, archived, SSE-C (case 6)",
        documents=(
            Doc("kms.txt", expect="error", reason="kms"),
            Doc("archived.txt", expect="error", reason="archive"),
            Doc("sse-c.txt", expect="error", reason="customer"),
            Doc("plain.txt"),
        ),
        # As S3 answers: a HEAD of an archived or SSE-KMS object succeeds (metadata needs no
        # restore and no kms:Decrypt), its GET fails; SSE-C fails both without the key.
        aws_faults=(
            AwsFault(
                "s3",
                "GetObject",
                "explicit",
                count=None,
                match="inbox/default/unreadable-objects/kms.txt",
                caller=SUBMIT,
                status=403,
                code="AccessDenied",
            ),
            AwsFault(
                "s3",
                "GetObject",
                "explicit",
                count=None,
                match="inbox/default/unreadable-objects/archived.txt",
                caller=SUBMIT,
                status=403,
                code="InvalidObjectState",
            ),
            AwsFault(
                "s3",
                None,
                "explicit",
                count=None,
                match="inbox/default/unreadable-objects/sse-c.txt",
                caller=SUBMIT,
                status=400,
                code="InvalidRequest",
                message=SSE_C_MESSAGE,
            ),
        ),
    ),
    Scenario(
        "docx-bomb",
        "a 210 KiB .docx that inflates to 176 MB (case 6)",
        documents=(Doc("bomb.docx", body=files.docx_bomb(), expect="error"), Doc("plain.txt")),
    ),
    Scenario(
        "deleted-before-read",
        "a document deleted (delete marker) before Submit reads it (case 11)",
        documents=(Doc("gone.txt", expect="error", reason="deleted"), Doc("plain.txt")),
        before=_remember_stack,
        after_upload=_delete_first,
        check=_not_billed("gone.txt"),
    ),
    Scenario(
        "versions-out-of-order",
        "two versions of one key; the older one's batch ends last (case 10)",
        documents=(Doc("report.txt", body=b"Version one of the report: 41 widgets."),),
        emulator_config={"processing_delay": 8.0},
        before=_remember_stack,
        steps=(Step("upload version two", _submitted, _upload_second_version),),
        check=_newest_version_won,
    ),
    # --- AWS, at each step ---
    Scenario(
        "s3-read-document",
        f"S3 GetObject SlowDown x{PAST_AWS_RETRIES} on one document (Submit)",
        aws_faults=(
            AwsFault("s3", "GetObject", "throttle", count=PAST_AWS_RETRIES, match="one.txt", caller=SUBMIT),
        ),
        function_retry=None,  # that record alone fails and is redelivered
    ),
    Scenario(
        "s3-write-manifest",
        f"S3 PutObject 500 x{PAST_AWS_RETRIES} on the manifest (Submit, after its claims)",
        aws_faults=(
            AwsFault(
                "s3", "PutObject", "error", count=PAST_AWS_RETRIES, match="manifest.jsonl", caller=SUBMIT
            ),
        ),
        function_retry=True,
    ),
    Scenario(
        "s3-write-result",
        f"S3 PutObject SlowDown x{PAST_AWS_RETRIES} on one result write (Complete; case 2)",
        aws_faults=(
            AwsFault(
                "s3",
                "PutObject",
                "throttle",
                count=PAST_AWS_RETRIES,
                match="results/default/s3-write-result/two words.txt",
                caller=COMPLETE,
            ),
        ),
        function_retry=True,
    ),
    Scenario(
        "s3-write-raw-results",
        f"S3 PutObject 500 x{PAST_AWS_RETRIES} on results.jsonl (Complete)",
        aws_faults=(
            AwsFault(
                "s3", "PutObject", "error", count=PAST_AWS_RETRIES, match="results.jsonl", caller=COMPLETE
            ),
        ),
        function_retry=True,
    ),
    Scenario(
        "s3-read-requests",
        f"Submit dies before create; S3 GetObject 500 x{PAST_AWS_RETRIES} on requests.jsonl (Poll)",
        crash=(SUBMIT, "submit:before-create"),
        aws_faults=(
            AwsFault("s3", "GetObject", "error", count=PAST_AWS_RETRIES, match="requests.jsonl", caller=POLL),
        ),
        function_retry=True,
    ),
    Scenario(
        "dynamodb-claims",
        f"DynamoDB TransactWriteItems throttled x{PAST_DYNAMODB_RETRIES} (Submit's claims)",
        aws_faults=(
            AwsFault(
                "dynamodb", "TransactWriteItems", "throttle", count=PAST_DYNAMODB_RETRIES, caller=SUBMIT
            ),
        ),
        function_retry=True,
    ),
    Scenario(
        "dynamodb-record-submitted-lost",
        "DynamoDB UpdateItem takes effect, answer lost (Submit marking the job submitted)",
        aws_faults=(AwsFault("dynamodb", "UpdateItem", "after-effect", match="open_since", caller=SUBMIT),),
        function_retry=None,
    ),
    Scenario(
        "dynamodb-poll-query",
        f"DynamoDB Query throttled x{PAST_DYNAMODB_RETRIES} (Poll)",
        aws_faults=(AwsFault("dynamodb", "Query", "throttle", count=PAST_DYNAMODB_RETRIES, caller=POLL),),
        function_retry=True,
    ),
    Scenario(
        "dynamodb-claim-completion-lost",
        "DynamoDB UpdateItem takes effect, answer lost (Complete claiming the job)",
        aws_faults=(
            AwsFault(
                "dynamodb",
                "UpdateItem",
                "after-effect",
                match="completing_claimed_at = :now",
                caller=COMPLETE,
            ),
        ),
        function_retry=None,
    ),
    Scenario(
        "dynamodb-mark-completed",
        f"DynamoDB UpdateItem 500 x{PAST_DYNAMODB_RETRIES} marking the job completed (Complete)",
        aws_faults=(
            AwsFault(
                "dynamodb",
                "UpdateItem",
                "error",
                count=PAST_DYNAMODB_RETRIES,
                match="completed_at",
                caller=COMPLETE,
            ),
        ),
        function_retry=True,
    ),
    Scenario(
        "sns-publish",
        f"SNS Publish throttled x{PAST_AWS_RETRIES} (Complete's notification)",
        aws_faults=(AwsFault("sns", "Publish", "throttle", count=PAST_AWS_RETRIES, caller=COMPLETE),),
        function_retry=True,
    ),
    Scenario(
        "events-batch-ended",
        'EventBridge PutEvents partial failure on "Batch Ended" (Poll)',
        aws_faults=(AwsFault("events", "PutEvents", "partial", caller=POLL),),
        function_retry=True,
    ),
    Scenario(
        "events-job-completed",
        f'EventBridge PutEvents throttled x{PAST_AWS_RETRIES} on "Job Completed" (Complete)',
        aws_faults=(AwsFault("events", "PutEvents", "throttle", count=PAST_AWS_RETRIES, caller=COMPLETE),),
        function_retry=True,
    ),
    Scenario(
        "secrets-manager",
        f"Secrets Manager GetSecretValue throttled x{PAST_AWS_RETRIES} (Submit reading the API key at its create)",
        # The key is cached for API_KEY_MAX_AGE_SECONDS: 0 makes Submit read it at every API call.
        # The first read is the preflight's Models API lookup; the second is the create's.
        function_env={SUBMIT: {"API_KEY_MAX_AGE_SECONDS": "0"}},
        aws_faults=(
            AwsFault(
                "secretsmanager", "GetSecretValue", "throttle", nth=2, count=PAST_AWS_RETRIES, caller=SUBMIT
            ),
        ),
        function_retry=True,
        check=_poll_reported("created"),
    ),
    Scenario(
        "secrets-manager-preflight",
        f"Secrets Manager GetSecretValue throttled x{PAST_AWS_RETRIES} (Submit reading the API key for "
        "the preflight's model lookup, before anything is recorded)",
        function_env={SUBMIT: {"API_KEY_MAX_AGE_SECONDS": "0"}},
        aws_faults=(
            AwsFault("secretsmanager", "GetSecretValue", "throttle", count=PAST_AWS_RETRIES, caller=SUBMIT),
        ),
        function_retry=True,
    ),
    Scenario(
        "big-job",
        f"210 documents; the 100th document's result write fails x{PAST_AWS_RETRIES} (Complete)",
        documents=BIG_JOB,
        aws_faults=(
            AwsFault(
                "s3",
                "PutObject",
                "throttle",
                count=PAST_AWS_RETRIES,
                match="results/default/big-job/doc-099.txt",
                caller=COMPLETE,
            ),
        ),
        function_retry=True,
        # One window of all 210 uploads: one job of 210 documents.
        before=_one_window.hold,
        after_upload=_one_window.release,
        after=_one_window.restore,
        check=_one_job_of_all,
        deadline=180.0,
    ),
    # --- a crash at every state transition ---
    _crash(SUBMIT, "submit:after-claims"),
    _crash(SUBMIT, "submit:before-create", check=_poll_reported("created")),
    _crash(SUBMIT, "create:before-call", check=_poll_reported("created")),
    _crash(
        SUBMIT,
        "create:after-call",
        emulator_faults=(EmulatorFault("list", PAST_SDK_RETRIES, 500),),
        check=_all(_poll_reported("adopted"), _one_batch_per_job),
    ),
    _crash(SUBMIT, "create:after-batch-claim", check=_all(_poll_reported("adopted"), _one_batch_per_job)),
    Scenario(
        "adopted-foreign-batch",
        "Submit dies at its create call; a same-size batch of someone else's is made then: "
        "Poll adopts it, Complete finds none of the job's requests in it and disowns it",
        crash=(SUBMIT, "create:before-call"),
        # Poll takes a batch for the job's if made within CREATE_SPAN_SECONDS of its call: wide
        # enough here that the foreign batch, made as soon as the call is seen, is in it.
        function_env={POLL: {"CREATE_SPAN_SECONDS": "60"}},
        steps=(Step("make a foreign batch", _create_noted, _foreign_batch),),
        function_retry=True,
        check=_disowned,
    ),
    _crash(POLL, "poll:after-claim-ended"),
    _crash(POLL, "poll:after-emit"),
    _crash(COMPLETE, "complete:after-claim"),
    _crash(COMPLETE, "complete:halfway"),
    # Between a checkpoint's documents-table rows and the checkpoint that counts them.
    _crash(COMPLETE, "complete:after-rows-part"),
    _crash(COMPLETE, "complete:before-notify"),
    _crash(
        COMPLETE,
        "complete:after-follow-up-intent",
        emulator_config={"fail_first_attempts": (FAIL_FIRST,)},
        max_submissions=2,
        check=_all(_follow_up_ran, _poll_reported("created")),
    ),
]


# --- the same scenarios on Amazon Bedrock --------------------------------------------------------

# A Bedrock job is made by the adapter's client with botocore's retries; a create is idempotent
# (the clientRequestToken is the job's), so a Bedrock fault's count is chosen to reach the same
# layer of batchdrop as the Claude API's: absorbed by the client, or outlasting it.
_BEDROCK_STATUS = {429: 429, 500: 500, 529: 503}  # 529 (overloaded): ServiceUnavailableException
_S3_READ_FAULT = {429: "throttle", 500: "error", 529: "explicit"}  # 529: S3's 503 ServiceUnavailable
QUOTA_FULL = BedrockFault("create", 10_000, code="ServiceQuotaExceededException")


def _quota(full: bool) -> Callable[[FaultHarness, State], None]:
    """Bedrock's queue: a quota of jobs (ServiceQuotaExceededException on create) full, or free."""

    def act(h: FaultHarness, _: State) -> None:
        h.bedrock.faults.clear()
        if full:
            QUOTA_FULL.arm(h.bedrock)

    return act


def _expiry(speedup: float) -> Callable[[FaultHarness, State], None]:
    def act(h: FaultHarness, _: State) -> None:
        h.bedrock.update_config(expiry_speedup=speedup)

    return act


def _free_quota(h: FaultHarness) -> None:
    h.bedrock.faults.clear()


def _one_bedrock_job_each(outcome: Outcome) -> None:
    """Every batchdrop job made one Bedrock job: a create sent again found the first by its token."""
    h: FaultHarness = outcome.state.notes["h"]
    made = {job_id: h.bedrock_jobs_named(job_prefix(job_id)) for job_id in outcome.jobs}
    assert all(len(arns) == 1 for arns in made.values()), made


def _on_bedrock(*checks: Callable[[Outcome], None]) -> dict[str, Any]:
    return {"before": _remember_stack, "check": _all(*checks, _one_bedrock_job_each)}


def _bedrock_foreign_job(h: FaultHarness, state: State) -> None:
    """Someone else's Bedrock job of the same size, made right after the job's create call: a
    job of batchdrop's name prefix (another stack's, say) that Poll can tell only by its results."""
    size = next(int(job["requests"]) for job in state.jobs.values() if "create_calls" in job)
    records = [
        {
            "recordId": f"foreign{n}",
            "modelInput": {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": f"Someone else's request {n}."}],
            },
        }
        for n in range(size)
    ]
    key = f"foreign/{state.prefix}records.jsonl"
    h.s3.put_object(Bucket=h.bucket, Key=key, Body="\n".join(json.dumps(r) for r in records).encode())
    h.bedrock_client.create_model_invocation_job(
        jobName=job_name("foreign", size),
        roleArn="arn:aws:iam::123456789012:role/someone-else",
        modelId="global.anthropic.claude-haiku-4-5-20251001-v1:0",
        inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{h.bucket}/{key}"}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{h.bucket}/foreign/{state.prefix}out/"}},
    )
    state.notes["foreign_custom_ids"] = [r["recordId"] for r in records]


# Requests whose recordIds (doc-... escaped: docX0...) error on their first job only, with
# Bedrock's per-record error (503: transient, as the Claude API's overloaded_error).
FAIL_FIRST_RECORDS = {"error_records": ("docX0.*",), "error_records_attempts": 1, "record_error_code": 503}


def _api_fault_on_bedrock(status: int, endpoint: str) -> dict[str, Any]:
    code = _BEDROCK_STATUS[status]
    if endpoint == "create":
        # 429: throttled twice, absorbed by botocore's retries (as the Claude API's 429s by
        # batchdrop's waits in place). 5xx: three creates of batchdrop's own, each outlasting
        # botocore's tries: listed, found none, tried again after CREATE_SPAN_SECONDS.
        count = WITHIN_SDK_RETRIES if status == 429 else 3 * BEDROCK_TRIES
        return {
            "fault": f"CreateModelInvocationJob {code} x{count}",
            "bedrock_faults": (BedrockFault("create", count, code),),
            "check": _one_bedrock_job_each,
            "before": _remember_stack,
        }
    if endpoint == "retrieve":
        # Poll's GetModelInvocationJob (armed once the job is submitted: Submit reads its new
        # job back with the same call), past botocore's tries: Poll's invocation fails.
        count = BEDROCK_TRIES + 2
        return {
            "fault": f"GetModelInvocationJob {code} x{count} (Poll)",
            "steps": (
                Step(
                    "break GetModelInvocationJob",
                    _submitted,
                    lambda h, _: BedrockFault("get", count, code).arm(h.bedrock),
                ),
            ),
            "function_retry": True,
        }
    # A Bedrock job's results are its output objects in S3: reading them fails past botocore's tries.
    kind = _S3_READ_FAULT[status]
    explicit = kind == "explicit"
    return {
        "fault": f"S3 GetObject {'503' if status != 500 else '500'} x{PAST_AWS_RETRIES} on the job's output (Complete)",
        "aws_faults": (
            AwsFault(
                "s3",
                "GetObject",
                kind,
                count=PAST_AWS_RETRIES,
                match="records.jsonl.out",
                caller=COMPLETE,
                status=503 if explicit else None,
                code="ServiceUnavailable" if explicit else None,
            ),
        ),
        "function_retry": True,
    }


ANTHROPIC_ONLY = {
    "models-api-down": "a Bedrock profile's preflight asks the Claude Models API nothing "
    "(domain.preflight.check_bedrock_request): there is no lookup to fail",
    "results-archived": "the Claude API archives a batch's results (404); a Bedrock job's outputs are "
    "objects in the stack's own bucket, which nothing archives",
    "secrets-manager": "Bedrock calls are signed with the function's role: no API key is read from "
    "Secrets Manager at a Bedrock create",
    "secrets-manager-preflight": "no API key is read for a Bedrock profile's preflight either",
    "cut-results": "not yet on Bedrock: its results are S3 objects, and the local stack's AWS faults "
    "cannot cut a GetObject body short (the 5xx on reading them run as http-*-results[bedrock])",
    "versions-out-of-order": "not yet on Bedrock: the Bedrock emulator's status durations apply to every "
    "job at once, so it cannot make the older version's job end after the newer one's",
    "batch-ended-during-completion": "not yet on Bedrock: its step (the duplicate sent while the first "
    "Complete holds the job) did not fire within the hold under four matrix stacks on two cores in one "
    "run of two; Complete's claim comes before it reads any backend (usecases.complete.orchestrator), "
    "so the claim it tests is the same on both",
}

# How each scenario's Claude API faults read on Bedrock: the fields of its Bedrock variant.
# A scenario not named here runs on Bedrock as it is (AWS faults, crash points, documents,
# duplicated deliveries mean the same on both).
ON_BEDROCK: dict[str, dict[str, Any]] = {
    **{
        f"http-{status}-{endpoint}": _api_fault_on_bedrock(status, endpoint)
        for endpoint in ("create", "retrieve", "results")
        for status in (429, 500, 529)
    },
    "cut-create": {
        "fault": f"CreateModelInvocationJob makes the job, then InternalServerException x{BEDROCK_TRIES} "
        "(every try of botocore's answer lost): Submit lists and adopts",
        "bedrock_faults": (BedrockFault("create", BEDROCK_TRIES, 500, after_effect=True),),
        **_on_bedrock(_submit_created("adopted"), _one_batch_per_job),
    },
    **{
        f"create-{status}-after-effect": {
            "fault": f"CreateModelInvocationJob makes the job, then answers {status}: botocore sends it "
            "again with the same clientRequestToken and gets the same job",
            "bedrock_faults": (BedrockFault("create", 1, status, after_effect=True),),
            **_on_bedrock(_submit_created("created"), _one_batch_per_job),
        }
        for status in (500, 504)
    },
    "cut-create-list-500": {
        "fault": f"CreateModelInvocationJob answer lost x{BEDROCK_TRIES}, then ListModelInvocationJobs 500 "
        f"x{BEDROCK_TRIES}: Poll adopts after the lease",
        "bedrock_faults": (
            BedrockFault("create", BEDROCK_TRIES, 500, after_effect=True),
            BedrockFault("list", BEDROCK_TRIES, 500),
        ),
        **_on_bedrock(_submit_created("uncertain"), _poll_reported("adopted"), _one_batch_per_job),
    },
    "queue-full-drains": {
        "fault": "a quota of Bedrock jobs full (ServiceQuotaExceededException on create) until a job waits",
        "before": _quota(True),
        "steps": (Step("free the quota", _waiting, _quota(False)),),
        "after": _free_quota,
    },
    "queue-full-gives-up": {
        "fault": "a quota of Bedrock jobs full for longer than QUEUE_WAIT_MAX (20 s): documents get errors",
        "before": _quota(True),
        "after": _free_quota,
    },
    "retry-errored": {
        "fault": "every record errors (503) in its first job: a follow-up job answers it",
        "bedrock_config": FAIL_FIRST_RECORDS,
    },
    "retry-expired": {
        "fault": "the first job expires before it runs (timeout sped up): a follow-up job answers its records",
        # 24 hours last 1.2 s for the jobs created before the first is seen submitted.
        "bedrock_config": {"expiry_speedup": 24 * 3600 / 1.2},
        "steps": (Step("slow expiry down again", _submitted, _expiry(1.0)),),
    },
    "follow-up-queue-full": {
        "fault": "the follow-up's create is refused (a quota of jobs full) until it waits",
        "bedrock_config": FAIL_FIRST_RECORDS,
        "steps": (
            Step("fill the quota", _submitted, _quota(True)),
            Step("free the quota", _follow_up_waiting, _quota(False)),
        ),
        "after": _free_quota,
    },
    "follow-up-create-500": {
        "fault": f"the follow-up's create answers 500 x{BEDROCK_TRIES} (all of botocore's tries)",
        "bedrock_config": FAIL_FIRST_RECORDS,
        "steps": (
            Step(
                "break create",
                _submitted,
                lambda h, _: BedrockFault("create", BEDROCK_TRIES, 500).arm(h.bedrock),
            ),
        ),
    },
    "adopted-foreign-batch": {
        "fault": "Submit dies at its create call; a same-size Bedrock job of another's (batchdrop's "
        "name prefix) is made then: Poll adopts it, Complete finds none of the job's records in it",
        "steps": (Step("make a foreign job", _create_noted, _bedrock_foreign_job),),
    },
    "crash-create-after-call": {
        "fault": f"Submit dies after its create call; ListModelInvocationJobs 500 x{BEDROCK_TRIES + 2}",
        "bedrock_faults": (BedrockFault("list", BEDROCK_TRIES + 2, 500),),
    },
    "crash-complete-after-follow-up-intent": {"bedrock_config": FAIL_FIRST_RECORDS},
}


def _on_bedrock_profile(fault: AwsFault) -> AwsFault:
    """An AWS fault aimed at a document's key, aimed at its key under the Bedrock profile."""
    if fault.match is None:
        return fault
    default, bedrock = PROFILE_OF["anthropic"], PROFILE_OF["bedrock"]
    return dataclasses.replace(fault, match=fault.match.replace(f"/{default}/", f"/{bedrock}/"))


def bedrock_variant(scenario: Scenario) -> Scenario:
    """The scenario on Bedrock: its documents under the Bedrock profile, its API faults Bedrock's."""
    variant = dataclasses.replace(
        scenario, backend="bedrock", aws_faults=tuple(_on_bedrock_profile(f) for f in scenario.aws_faults)
    )
    if scenario.name not in ON_BEDROCK:
        assert not scenario.emulator_faults and not scenario.emulator_config, (
            f"{scenario.name}: Claude API faults, and no Bedrock variant in ON_BEDROCK to translate them"
        )
        return variant
    # The Claude API emulator's faults and settings give way to the Bedrock emulator's.
    return dataclasses.replace(variant, emulator_faults=(), emulator_config={}, **ON_BEDROCK[scenario.name])


SCENARIO_NAMES = [s.name for s in SCENARIOS]
CASES: list[tuple[Scenario, Backend]] = [(s, "anthropic") for s in SCENARIOS] + [
    (s, "bedrock") for s in SCENARIOS if s.name not in ANTHROPIC_ONLY
]


# --- the fixtures and the test -------------------------------------------------------------------


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultHarness]:
    report = ReportLog()
    options = LocalStackOptions(
        port=0,
        prefix="batchdrop-faults",
        batching_window=1.0,
        poll_interval=0.5,
        emulator_delay=1.0,
        visibility_timeout=VISIBILITY_TIMEOUT,
        rule_max_attempts=6,
        state_dir=tmp_path_factory.mktemp("fault-matrix"),
        function_env=FUNCTION_ENV,
        # The matrix's jobs are of a few documents: Bedrock's minimum job size (100) would refuse them.
        bedrock_min_records=1,
    )
    calls = Calls()
    with LocalStack(options, report=report) as stack:
        for worker in stack.workers.values():
            calls.watch(worker)
        harness = FaultHarness(stack, calls, report)
        # Warm up: every function's first run (cold start, SDK import) before any timing counts.
        # Its deadline only bounds a broken stack: three cold starts on a loaded machine take minutes.
        # On each backend: the Bedrock client is loaded by a function's first Bedrock job.
        for backend in BACKENDS:
            warm_up = harness.run(
                Scenario("warm-up", "none", deadline=600.0, backend=backend),
                tmp_path_factory.mktemp("warm-up"),
            )
            assert not warm_up.timed_out and warm_up.answered() == len(warm_up.expected), harness.diagnostics(
                warm_up
            )
        yield harness


@pytest.mark.parametrize(
    ("scenario", "backend"), CASES, ids=[f"{scenario.name}[{backend}]" for scenario, backend in CASES]
)
def test_every_document_answered_once_billed_once_and_notified_once(
    scenario: Scenario,
    backend: Backend,
    harness: FaultHarness,
    fault_matrix: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    if backend == "bedrock":
        scenario = bedrock_variant(scenario)
    outcome = harness.run(scenario, tmp_path / "crash-once")
    row = {
        **outcome.row(),
        "index": len(SCENARIOS) * BACKENDS.index(backend) + SCENARIO_NAMES.index(scenario.name),
    }
    fault_matrix.append(row)
    assert_scenario_held(outcome, harness.diagnostics(outcome))
    row["verdict"] = "ok"


def test_the_matrix_has_every_scenario_issue_9_asks_for() -> None:
    # At least 40 scenarios, a job beyond the writers' concurrency, and a crash at each point.
    assert len(SCENARIOS) >= 40
    assert any(len(s.documents) >= 200 for s in SCENARIOS)
    crash_points = {s.crash[1] for s in SCENARIOS if s.crash}
    source = "".join(p.read_text() for p in Path("layers/shared/batchdrop").rglob("*.py"))
    # Each use case calls its injected crash hook at a named point: crash("complete:halfway").
    named = set(re.findall(r'crash\("([a-z-]+:[a-z-]+)"\)', source))
    assert len(named) >= 12, named
    assert named <= crash_points, f"crash points no scenario fires: {sorted(named - crash_points)}"
    services = {f.service for s in SCENARIOS for f in s.aws_faults}
    assert {"s3", "dynamodb", "sns", "events", "secretsmanager"} <= services


def test_every_scenario_runs_on_bedrock_or_says_why_not() -> None:
    names = set(SCENARIO_NAMES)
    assert set(ANTHROPIC_ONLY) <= names and set(ON_BEDROCK) <= names
    assert not set(ANTHROPIC_ONLY) & set(ON_BEDROCK), "a scenario both translated and left out"
    on_bedrock = [scenario for scenario, backend in CASES if backend == "bedrock"]
    assert [s.name for s in on_bedrock] == [name for name in SCENARIO_NAMES if name not in ANTHROPIC_ONLY]
    for scenario in on_bedrock:
        variant = bedrock_variant(scenario)  # refuses a Claude API fault left untranslated
        assert variant.backend == "bedrock"
        assert all("/default/" not in (fault.match or "") for fault in variant.aws_faults), variant.name
    assert len(on_bedrock) >= 50
