"""Nothing lost, nothing billed twice: the whole local stack, one fault at a time.

One local stack (in process) serves every scenario. Each scenario drops its own four documents
under ``inbox/default/<scenario>/`` with plain boto3, with one fault armed: an emulator fault
for N calls of an endpoint (an HTTP error status, or an answer cut short), a crash point in a
handler, or a duplicated delivery. When everything has settled (every document has its
object, every job is finished, no event is waiting or being retried), it checks that:

- every document has exactly one result or error object, and here an answer (the emulator
  errs on nothing, so an error object would be a document lost to the fault);
- the emulator saw each document submitted at most once (billed at most once);
- each job sent exactly one notification;
- the fault really happened: the injected faults were all used, the crash killed the
  function, the duplicates were delivered and recognised as such; nothing was dead-lettered.

Each scenario adds a row to the matrix printed at the end of the run (see conftest.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote_plus

import pytest

from batchdrop.anthropic_batches import SDK_MAX_RETRIES
from batchdrop_local.emulator import EmulatorServer
from batchdrop_local.runtime import FunctionWorker, Invocation
from batchdrop_local.stack import LocalStack, LocalStackOptions

pytestmark = pytest.mark.e2e

SUBMIT, POLL, COMPLETE = "SubmitFunction", "PollFunction", "CompleteFunction"
DOCUMENT_NAMES = ("one.txt", "two words.txt", "three+plus.md", "four.md")

# Faults that the SDK's own retries absorb, and faults that outlast them, so that the
# invocation fails and SQS, the schedule or the EventBridge rule retries it.
WITHIN_SDK_RETRIES = 2
PAST_SDK_RETRIES = SDK_MAX_RETRIES + 2

# Timings. Submit records a job (`submitting`) before it creates the batch, and Poll
# reconciles a job still `submitting` after the grace, so the grace must outlast a live Submit
# between the two, as deployed (1200 s against the function's 900 s timeout). On a cold
# container that includes importing the SDK: up to 8 s here (job times have 1 s resolution).
SUBMIT_GRACE_SECONDS = 12
# A notification that a failed Submit left behind comes back after Poll reconciled the job,
# as deployed (visibility 5700 s against the 1200 s grace); else it finds the documents held
# by a job still `submitting` and is dropped as a duplicate. It is received about a second
# before the job is recorded, and Poll may see the grace run out up to 1.5 s late.
VISIBILITY_TIMEOUT = SUBMIT_GRACE_SECONDS + 5
COMPLETING_LEASE_SECONDS = 3
REDRIVE_AFTER_SECONDS = 5
SETTLE_DEADLINE = 90.0
POLL_EVERY = 0.5
TERMINAL = ("completed", "abandoned")
CLAIM_PREFIXES = ("doc#", "batch#")


@dataclass(frozen=True)
class EmulatorFault:
    endpoint: str
    count: int
    status: int | None = None  # None: the answer is cut short
    cut_after_lines: int = 0

    def arm(self, emulator: EmulatorServer) -> None:
        if self.status is None:
            emulator.inject_cut(self.endpoint, self.count, self.cut_after_lines)
        else:
            emulator.inject_fault(self.endpoint, self.status, self.count)


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: str
    emulator_faults: tuple[EmulatorFault, ...] = ()
    crash: tuple[str, str] | None = None  # (function, crash point)
    duplicate: Literal["s3", "batch-ended"] | None = None
    # An invocation must fail and be retried by its event source (not only the SDK's retries).
    function_retry: bool = False


def _api_fault(status: int, endpoint: str) -> Scenario:
    count = WITHIN_SDK_RETRIES if status == 429 else PAST_SDK_RETRIES
    return Scenario(
        name=f"http-{status}-{endpoint}",
        fault=f"HTTP {status} x{count} on {endpoint}",
        emulator_faults=(EmulatorFault(endpoint, count, status),),
        function_retry=count > SDK_MAX_RETRIES,
    )


# Crash scenarios come last: arming a crash point restarts the function (a cold start).
SCENARIOS = [
    Scenario("no-fault", "none (baseline)"),
    *(
        _api_fault(status, endpoint)
        for endpoint in ("create", "retrieve", "results")
        for status in (429, 500, 529)
    ),
    Scenario(
        "cut-results",
        "results stream cut after 2 of 4 lines",
        emulator_faults=(EmulatorFault("results", 1, cut_after_lines=2),),
        function_retry=True,
    ),
    # The batch is created but its answer is lost: Submit must not create it again (Poll adopts it).
    Scenario(
        "cut-create",
        "create answer cut (batch made, answer lost)",
        emulator_faults=(EmulatorFault("create", 1),),
        function_retry=True,
    ),
    Scenario("duplicate-s3", "every S3 notification sent 3 more times", duplicate="s3"),
    Scenario("duplicate-batch-ended", '"Batch Ended" sent 2 more times', duplicate="batch-ended"),
    Scenario(
        "crash-halfway",
        "Complete dies halfway through the results",
        crash=(COMPLETE, "complete:halfway"),
        function_retry=True,
    ),
    # Poll finds the batch that Submit created but never recorded by listing the batches, so
    # the list endpoint fails too (past the SDK's retries) while it reconciles.
    Scenario(
        "crash-after-create",
        f"Submit dies after create, before recording; list HTTP 500 x{PAST_SDK_RETRIES}",
        emulator_faults=(EmulatorFault("list", PAST_SDK_RETRIES, 500),),
        crash=(SUBMIT, "submit:after-create"),
        function_retry=True,
    ),
]


# --- watching the stack ------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    function: str
    ok: bool
    payload: Any
    error: str | None


class Calls:
    """Every invocation of the stack's functions, in order (the event sources' view)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []

    def watch(self, worker: FunctionWorker) -> None:
        invoke = worker.invoke

        def recorded(event: dict[str, Any], timeout: float | None = None) -> Invocation:
            result = invoke(event, timeout)
            with self._lock:
                self._calls.append(Call(worker.fn.logical_id, result.ok, result.payload, result.error))
            return result

        worker.invoke = recorded  # type: ignore[method-assign]

    def mark(self) -> int:
        with self._lock:
            return len(self._calls)

    def since(self, mark: int) -> list[Call]:
        with self._lock:
            return self._calls[mark:]


class ReportLog:
    """The local stack's one-line reports, kept for failure messages instead of printed."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._started = time.monotonic()

    def __call__(self, line: str) -> None:
        self.lines.append(f"[{time.monotonic() - self._started:7.1f}s] {line}")


def _crashed(call: Call) -> bool:
    return not call.ok and call.error == "the function's process exited"


@dataclass
class Outcome:
    """What one scenario did to the stack, measured once it settled (or at the deadline)."""

    scenario: Scenario
    documents: list[str]
    objects: dict[str, list[str]]  # document key -> its result/error objects
    jobs: dict[str, str]  # job id -> status
    billed: dict[str, int]  # document key -> requests submitted for it
    unaccounted: dict[str, int]  # custom_ids submitted that no manifest of the scenario names
    notifications: dict[str, int]  # job id -> notifications sent
    succeeded: dict[str, tuple[int, ...]]  # completed job id -> succeeded in its summary, notifications
    requests: dict[str, int]  # job id -> documents in its manifest
    calls: list[Call]
    unused_faults: dict[str, list[dict[str, int]]]
    dead_letters: dict[str, int]
    duplicates_sent: int
    seconds: float
    timed_out: bool
    waiting_for: list[str] = field(default_factory=list)

    def submit_ignored(self) -> int:
        """Notifications that Submit recognised as naming a document already taken care of."""
        return sum(
            int(call.payload.get("ignored", 0))
            for call in self.calls
            if call.function == SUBMIT and call.ok and isinstance(call.payload, dict)
        )

    def answered(self) -> int:
        return sum(1 for keys in self.objects.values() if any(not k.endswith(".error.json") for k in keys))

    def errors(self) -> int:
        return sum(1 for keys in self.objects.values() if any(k.endswith(".error.json") for k in keys))

    def failed_calls(self) -> Counter[str]:
        return Counter(call.function.removesuffix("Function") for call in self.calls if not call.ok)

    def crashes(self, function: str) -> int:
        return sum(1 for call in self.calls if call.function == function and _crashed(call))

    def duplicate_completions(self) -> int:
        return sum(
            1
            for call in self.calls
            if call.function == COMPLETE
            and call.ok
            and isinstance(call.payload, dict)
            and call.payload.get("status") == "duplicate"
            and call.payload.get("job_id") in self.jobs
        )

    def row(self) -> dict[str, Any]:
        statuses = Counter(self.jobs.values())
        failed = self.failed_calls()
        return {
            "scenario": self.scenario.name,
            "fault": self.scenario.fault,
            "documents": len(self.documents),
            "answered": self.answered(),
            "errors": self.errors(),
            "billed_max": max(self.billed.values(), default=0),
            "notifications": ",".join(str(self.notifications.get(job, 0)) for job in sorted(self.jobs))
            or "0",
            "jobs": ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())) or "none",
            "failed_invocations": ", ".join(f"{fn} {n}" for fn, n in sorted(failed.items())) or "0",
            "seconds": self.seconds,
            "verdict": "timeout" if self.timed_out else "FAIL",
        }

    def describe(self) -> str:
        return json.dumps(
            {
                "objects": self.objects,
                "jobs": self.jobs,
                "billed": self.billed,
                "unaccounted": self.unaccounted,
                "succeeded (summary, notifications)": self.succeeded,
                "notifications": self.notifications,
                "failed_invocations": [
                    f"{c.function}: {(c.error or '').strip().splitlines()[-1:]}"
                    for c in self.calls
                    if not c.ok
                ],
                "unused_faults": self.unused_faults,
                "dead_letters": self.dead_letters,
                "waiting_for": self.waiting_for,
            },
            indent=1,
            ensure_ascii=False,
        )


class FaultHarness:
    """Drives the local stack with plain AWS clients and reads what it did."""

    def __init__(self, stack: LocalStack, calls: Calls, report: ReportLog) -> None:
        assert stack.emulator is not None and stack.resources is not None
        self.stack = stack
        self.emulator: EmulatorServer = stack.emulator
        self.calls = calls
        self.report = report
        info = stack.info()
        self.bucket: str = info["bucket"]
        self.bus: str = info["event_bus"]
        self.table_name: str = info["jobs_table"]
        self.topic_arn: str = info["topic_arn"]
        self.logs = Path(info["logs"])
        self.s3 = stack.client("s3")
        self.sqs = stack.client("sqs")
        self.events = stack.client("events")
        self.dynamodb = stack.client("dynamodb")
        self.dead_letter_queues = {
            name: url for name, url in stack.resources.queue_urls.items() if "DeadLetter" in name
        }
        self.ingest_queue = stack.resources.queue_urls["IngestQueue"]
        self.function_env: dict[str, dict[str, str]] = {logical_id: {} for logical_id in stack.workers}
        # Functions whose crash point has fired: it fires once per marker directory, so they
        # need no restart to run unarmed.
        self.spent_crash: set[str] = set()
        self.notices: dict[str, list[dict[str, Any]]] = {}  # job id -> its notifications
        self.manifests: dict[str, list[dict[str, Any]]] = {}
        self.notice_queue = self.sqs.create_queue(QueueName="fault-matrix-notifications")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.notice_queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.stack.client("sns").subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)

    # --- reading the stack ---

    def collect_notifications(self) -> None:
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.notice_queue, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return
            for message in messages:
                notice = json.loads(json.loads(message["Body"])["Message"])
                self.notices.setdefault(str(notice["job_id"]), []).append(notice)
                self.sqs.delete_message(QueueUrl=self.notice_queue, ReceiptHandle=message["ReceiptHandle"])

    def jobs(self) -> dict[str, dict[str, Any]]:
        """Job items of the jobs table (not the claims that share it), by job id."""
        found: dict[str, dict[str, Any]] = {}
        for page in self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table_name, ConsistentRead=True
        ):
            for item in page["Items"]:
                job_id = item["job_id"]["S"]
                if "status" in item and not job_id.startswith(CLAIM_PREFIXES):
                    found[job_id] = {
                        "status": item["status"]["S"],
                        "batch_id": item.get("batch_id", {}).get("S"),
                        "manifest_key": item.get("manifest_key", {}).get("S"),
                    }
        return found

    def manifest(self, job_id: str, key: str | None) -> list[dict[str, Any]]:
        if job_id not in self.manifests:
            body = self.s3.get_object(Bucket=self.bucket, Key=key or f"jobs/{job_id}/manifest.jsonl")["Body"]
            self.manifests[job_id] = [json.loads(line) for line in body.read().decode().splitlines() if line]
        return self.manifests[job_id]

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]

    def queue_depth(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def dead_letters(self) -> dict[str, int]:
        return {name: self.queue_depth(url) for name, url in self.dead_letter_queues.items()}

    # --- acting on it ---

    def configure_functions(self, wanted: dict[str, dict[str, str]]) -> None:
        """Give each function the extra environment the scenario wants (none by default),
        restarting only those whose environment changes."""
        for logical_id, current in self.function_env.items():
            env = wanted.get(logical_id, {})
            if env == current or (not env and logical_id in self.spent_crash):
                continue
            self.stack.restart_functions(env, logical_id)
            self.function_env[logical_id] = env
            self.spent_crash.discard(logical_id)

    def upload(self, prefix: str, names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        uploaded = {}
        for index, name in enumerate(names):
            key = f"{prefix}{name}"
            body = f"Fault matrix, {prefix}: document {index} reports {index * 7 + 3} widgets sold.".encode()
            response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
            uploaded[key] = {
                "size": len(body),
                "eTag": response["ETag"].strip('"'),
                "versionId": response.get("VersionId"),
            }
        return uploaded

    def resend_s3_notifications(self, uploaded: dict[str, dict[str, Any]]) -> int:
        """The notification S3 sent for each upload, once more (S3 delivers at least once)."""
        for key, obj in uploaded.items():
            self.sqs.send_message(
                QueueUrl=self.ingest_queue, MessageBody=json.dumps(self._s3_event(key, obj))
            )
        return len(uploaded)

    def _s3_event(self, key: str, obj: dict[str, Any]) -> dict[str, Any]:
        s3_object = {
            "key": quote_plus(key),
            "size": obj["size"],
            "eTag": obj["eTag"],
            "sequencer": "0A1B2C3D4E5F",
        }
        if obj["versionId"]:
            s3_object["versionId"] = obj["versionId"]
        return {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "eventName": "ObjectCreated:Put",
                    "userIdentity": {"principalId": "AWS:fault-matrix"},
                    "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                    "responseElements": {"x-amz-request-id": "FAULTMATRIX", "x-amz-id-2": "fault-matrix"},
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "inbox-documents",
                        "bucket": {
                            "name": self.bucket,
                            "ownerIdentity": {"principalId": "fault-matrix"},
                            "arn": f"arn:aws:s3:::{self.bucket}",
                        },
                        "object": s3_object,
                    },
                }
            ]
        }

    def resend_batch_ended(self, job_id: str, batch_id: str) -> None:
        response = self.events.put_events(
            Entries=[
                {
                    "Source": "batchdrop",
                    "DetailType": "Batch Ended",
                    "Detail": json.dumps({"job_id": job_id, "batch_id": batch_id}),
                    "EventBusName": self.bus,
                }
            ]
        )
        assert response["FailedEntryCount"] == 0, response

    # --- one scenario ---

    def run(self, scenario: Scenario, once_dir: Path) -> Outcome:
        wanted = {}
        if scenario.crash:
            function, point = scenario.crash
            wanted[function] = {"BATCHDROP_CRASH_POINTS": point, "BATCHDROP_CRASH_ONCE_DIR": str(once_dir)}
        self.configure_functions(wanted)
        self.collect_notifications()
        known_jobs = set(self.jobs())
        billed_before = Counter(self.emulator.stats()["requests_by_custom_id"])
        dead_before = self.dead_letters()
        mark = self.calls.mark()
        for fault in scenario.emulator_faults:
            fault.arm(self.emulator)

        prefix = f"inbox/default/{scenario.name}/"
        started = time.monotonic()
        uploaded = self.upload(prefix, DOCUMENT_NAMES)
        documents = sorted(uploaded)
        duplicates_sent = 0
        duplicate_stages: set[str] = set()
        if scenario.duplicate == "s3":
            duplicates_sent += self.resend_s3_notifications(uploaded)  # at once, as S3 may
            duplicate_stages.add("uploaded")
        expected_stages = {
            "s3": {"uploaded", "submitted", "completed"},
            "batch-ended": {"ended", "completed"},
        }
        waiting_for: list[str] = []
        timed_out = False
        while True:
            self.collect_notifications()
            objects = self._objects(scenario, documents)
            jobs = {
                job_id: job
                for job_id, job in self.jobs().items()
                if job_id not in known_jobs
                and any(
                    e["source_key"].startswith(prefix) for e in self.manifest(job_id, job["manifest_key"])
                )
            }
            finished = bool(jobs) and all(job["status"] in TERMINAL for job in jobs.values())
            if scenario.duplicate == "s3":
                if "submitted" not in duplicate_stages and any(job["batch_id"] for job in jobs.values()):
                    duplicates_sent += self.resend_s3_notifications(uploaded)  # while the batch runs
                    duplicate_stages.add("submitted")
                if "completed" not in duplicate_stages and finished:
                    duplicates_sent += self.resend_s3_notifications(uploaded)  # long after
                    duplicate_stages.add("completed")
            ended = [
                (job_id, job["batch_id"])
                for job_id, job in jobs.items()
                if job["status"] in ("ended", "completing", "completed")
            ]
            if scenario.duplicate == "batch-ended" and ended:
                # Once as soon as Poll has announced the batch, once more after completion.
                stage = "ended" if "ended" not in duplicate_stages else "completed" if finished else None
                if stage and stage not in duplicate_stages:
                    for job_id, batch_id in ended:
                        self.resend_batch_ended(job_id, batch_id)
                        duplicates_sent += 1
                    duplicate_stages.add(stage)
            undelivered = {name: n for name, n in self.stack.undelivered_messages().items() if n}
            waiting_for = [
                *(f"an object for {key}" for key, found in objects.items() if not found),
                *(
                    f"job {job_id} ({job['status']})"
                    for job_id, job in jobs.items()
                    if job["status"] not in TERMINAL
                ),
                *([] if jobs else ["a job"]),
                *(f"{n} message(s) for {name}" for name, n in undelivered.items()),
                *(
                    f"duplicates at {stage}"
                    for stage in sorted(
                        expected_stages.get(scenario.duplicate or "", set()) - duplicate_stages
                    )
                ),
            ]
            if not waiting_for:
                break
            if time.monotonic() - started > SETTLE_DEADLINE:
                timed_out = True
                break
            time.sleep(POLL_EVERY)
        seconds = time.monotonic() - started
        self.collect_notifications()

        entries = [entry for job_id in jobs for entry in self.manifest(job_id, jobs[job_id]["manifest_key"])]
        document_of = {entry["custom_id"]: entry["source_key"] for entry in entries}
        billed_now = Counter(self.emulator.stats()["requests_by_custom_id"])
        submitted = {cid: n - billed_before[cid] for cid, n in billed_now.items() if n > billed_before[cid]}
        billed = dict.fromkeys(documents, 0)
        unaccounted = {}
        for custom_id, times in submitted.items():
            if custom_id in document_of:
                billed[document_of[custom_id]] = billed.get(document_of[custom_id], 0) + times
            else:
                unaccounted[custom_id] = times
        unused = {
            fault.endpoint: self.emulator.stats()["pending_faults"][fault.endpoint]
            for fault in scenario.emulator_faults
        }
        self.emulator.clear_faults()
        dead_after = self.dead_letters()
        calls = self.calls.since(mark)
        if scenario.crash and any(c.function == scenario.crash[0] and _crashed(c) for c in calls):
            self.spent_crash.add(scenario.crash[0])
        return Outcome(
            scenario=scenario,
            documents=documents,
            objects=objects,
            jobs={job_id: job["status"] for job_id, job in jobs.items()},
            billed=billed,
            unaccounted=unaccounted,
            notifications={job_id: len(self.notices.get(job_id, [])) for job_id in jobs},
            succeeded=self._succeeded(jobs),
            requests={job_id: len(self.manifests[job_id]) for job_id in jobs},
            calls=calls,
            unused_faults={endpoint: pending for endpoint, pending in unused.items() if pending},
            dead_letters={
                name: n - dead_before[name] for name, n in dead_after.items() if n > dead_before[name]
            },
            duplicates_sent=duplicates_sent,
            seconds=seconds,
            timed_out=timed_out,
            waiting_for=waiting_for,
        )

    def _succeeded(self, jobs: dict[str, dict[str, Any]]) -> dict[str, tuple[int, ...]]:
        """Per completed job: the succeeded count of its summary.json, then of each notification."""
        counts = {}
        for job_id, job in jobs.items():
            if job["status"] == "completed":
                key = f"jobs/{job_id}/summary.json"
                summary = json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
                counts[job_id] = (
                    int(summary["counts"]["succeeded"]),
                    *(int(notice["counts"]["succeeded"]) for notice in self.notices.get(job_id, [])),
                )
        return counts

    def _objects(self, scenario: Scenario, documents: list[str]) -> dict[str, list[str]]:
        """Each document's result and error objects (results/default/<path>.md, .error.json)."""
        found = self.keys(f"results/default/{scenario.name}/")
        objects: dict[str, list[str]] = {key: [] for key in documents}
        for result in found:
            suffix = ".error.json" if result.endswith(".error.json") else ".md"
            source = "inbox/" + result.removeprefix("results/").removesuffix(suffix)
            objects.setdefault(source, []).append(result)
        return objects

    def diagnostics(self, outcome: Outcome) -> str:
        return (
            f"{outcome.describe()}\nlast reports of the stack:\n  "
            + "\n  ".join(self.report.lines[-15:])
            + f"\nfunction logs: {self.logs}"
        )


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
        function_env={
            "SUBMIT_GRACE_SECONDS": str(SUBMIT_GRACE_SECONDS),
            "COMPLETING_LEASE_SECONDS": str(COMPLETING_LEASE_SECONDS),
            "REDRIVE_AFTER_SECONDS": str(REDRIVE_AFTER_SECONDS),
        },
    )
    calls = Calls()
    with LocalStack(options, report=report) as stack:
        for worker in stack.workers.values():
            calls.watch(worker)
        harness = FaultHarness(stack, calls, report)
        # Warm up: every function's first run (cold start, SDK import) before any timing counts.
        warm_up = harness.run(Scenario("warm-up", "none"), tmp_path_factory.mktemp("warm-up"))
        assert not warm_up.timed_out and warm_up.answered() == len(DOCUMENT_NAMES), harness.diagnostics(
            warm_up
        )
        yield harness


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_document_answered_once_billed_once_and_notified_once(
    scenario: Scenario, harness: FaultHarness, fault_matrix: list[dict[str, Any]], tmp_path: Path
) -> None:
    outcome = harness.run(scenario, tmp_path / "crash-once")
    row = outcome.row()
    fault_matrix.append(row)
    why = harness.diagnostics(outcome)

    assert not outcome.timed_out, f"not settled after {SETTLE_DEADLINE:.0f} s: {outcome.waiting_for}\n{why}"
    # every document: exactly one result or error object, and an answer
    assert sorted(outcome.objects) == outcome.documents, f"objects for no uploaded document\n{why}"
    for document, objects in outcome.objects.items():
        assert len(objects) == 1, f"{document} has {len(objects)} result/error objects: {objects}\n{why}"
    assert outcome.answered() == len(outcome.documents), f"documents lost to the fault\n{why}"
    # billed at most once
    over = {document: n for document, n in outcome.billed.items() if n > 1}
    assert not over, f"documents submitted more than once: {over}\n{why}"
    assert not outcome.unaccounted, f"requests submitted that no manifest names: {outcome.unaccounted}\n{why}"
    # one notification per job that ran, none for a job abandoned before its batch existed
    for job_id, status in outcome.jobs.items():
        expected = 1 if status == "completed" else 0
        assert outcome.notifications[job_id] == expected, (
            f"job {job_id} ({status}) sent {outcome.notifications[job_id]} notifications\n{why}"
        )
    assert "completed" in outcome.jobs.values(), why
    # and the job's summary and notification account for every document
    for job_id, counts in outcome.succeeded.items():
        assert set(counts) == {outcome.requests[job_id]}, (
            f"job {job_id} of {outcome.requests[job_id]} documents reports {counts} succeeded\n{why}"
        )
    assert not outcome.dead_letters, f"dead-lettered: {outcome.dead_letters}\n{why}"
    # and the fault did happen
    assert not outcome.unused_faults, f"injected faults never reached: {outcome.unused_faults}\n{why}"
    if scenario.crash:
        function, point = scenario.crash
        crashes = outcome.crashes(function)
        assert crashes == 1, (
            f"crash point {point} killed {function} {crashes} times, not once "
            f"(0: is it on the handler's code path?)\n{why}"
        )
    if scenario.function_retry:
        assert outcome.failed_calls(), (
            f"no invocation failed: the fault never outlasted the SDK's retries\n{why}"
        )
    else:
        assert not outcome.failed_calls(), f"invocations failed, and nothing should have\n{why}"
    if scenario.duplicate == "batch-ended":
        assert outcome.duplicates_sent == 2, why
        assert outcome.duplicate_completions() >= 2, f"Complete did not see the copies as duplicates\n{why}"
    if scenario.duplicate == "s3":
        assert outcome.duplicates_sent == 3 * len(DOCUMENT_NAMES), why
        assert outcome.submit_ignored() == outcome.duplicates_sent, (
            f"Submit ignored {outcome.submit_ignored()} notifications, not each copy\n{why}"
        )
    row["verdict"] = "ok"
