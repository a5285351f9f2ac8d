"""The fault matrix's machinery: one local stack, driven with plain AWS clients, one scenario at
a time, and what each scenario did to it, measured once it settled.

A scenario uploads its documents under ``inbox/<profile>/<scenario>/`` with one fault armed (an
emulator fault, an AWS fault in the local stack's moto server, a crash point in a function, a
duplicated delivery, a change of the emulator's behaviour) and steps that act while it runs.
It runs on one backend: the Claude API (the default profile, on the Claude API emulator) or
Amazon Bedrock (the ``bedrock`` profile, ``backend: bedrock``, on the Bedrock emulator).
When everything has settled (each document has its object, every job is finished, no event
is waiting or being retried, every step has acted), it checks that:

- every document (or line of a request list) has exactly one answer or one ``.error.json``,
  the one the scenario expects, and nothing else was written under its results folder;
- the scenario's backend billed each request at most once (succeeded at most once), and
  submitted it no more often than the scenario's attempts allow; no request of no manifest was
  submitted; the other backend was sent none of them;
- each job sent exactly one notification (none for a job abandoned before its batch existed),
  and its summary and notifications agree on how many documents succeeded;
- nothing was dead-lettered unless the scenario is about the dead-letter queue;
- the fault really happened: the injected faults were all used, the crash killed the function.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote_plus

import boto3

from batchdrop.domain.bedrock import custom_id_of
from batchdrop.domain.keys import error_key, fit_key, parse_inbox_key
from batchdrop_local.bedrock_emulator import BedrockEmulatorServer
from batchdrop_local.emulator import EmulatorServer
from batchdrop_local.runtime import FunctionWorker, Invocation
from batchdrop_local.stack import LocalStack

SUBMIT, POLL, COMPLETE = "SubmitFunction", "PollFunction", "CompleteFunction"
DOCUMENT_NAMES = ("one.txt", "two words.txt", "three+plus.md", "four.md")
TERMINAL = ("completed", "abandoned")
CLAIM_PREFIXES = ("doc#", "batch#")
POLL_EVERY = 0.5

Expect = Literal["answer", "error"]
Backend = Literal["anthropic", "bedrock"]
BACKENDS: tuple[Backend, ...] = ("anthropic", "bedrock")
# The profile each backend's documents go under: the stack's default profile is the Claude
# API's; the bedrock profile names backend bedrock (written by the fixture, BEDROCK_PROFILE).
PROFILE_OF: dict[Backend, str] = {"anthropic": "default", "bedrock": "bedrock"}
BEDROCK_MODEL = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
BEDROCK_PROFILE = f"backend: bedrock\nbedrock_model: {BEDROCK_MODEL}\n"


@dataclass(frozen=True)
class Doc:
    """One document a scenario uploads, and what must become of it.

    ``items``: for a ``.jsonl`` request list, each line's id and what must become of it (the
    list itself then has no object of its own). ``reason``: words the ``.error.json`` must hold.
    """

    name: str
    body: bytes | None = None  # None: a generated text document
    expect: Expect = "answer"
    reason: str | None = None
    items: tuple[tuple[str, Expect], ...] = ()


def text_docs(names: tuple[str, ...] = DOCUMENT_NAMES) -> tuple[Doc, ...]:
    return tuple(Doc(name) for name in names)


@dataclass(frozen=True)
class EmulatorFault:
    endpoint: str
    count: int
    status: int | None = None  # None: the answer is cut short
    cut_after_lines: int = 0
    after_effect: bool = False  # the call takes effect, then answers the status

    def arm(self, emulator: EmulatorServer) -> None:
        if self.status is None:
            emulator.inject_cut(self.endpoint, self.count, self.cut_after_lines)
        else:
            emulator.inject_fault(self.endpoint, self.status, self.count, after_effect=self.after_effect)


@dataclass(frozen=True)
class BedrockFault:
    """A fault of the Bedrock emulator's API (create, get, list, stop): ``count`` calls answer
    ``status`` or ``code`` (429 ThrottlingException, 500 InternalServerException, 503
    ServiceUnavailableException, ...), after carrying the call out when ``after_effect``."""

    operation: str
    count: int
    status: int | None = None
    code: str | None = None
    after_effect: bool = False

    def arm(self, bedrock: BedrockEmulatorServer) -> None:
        bedrock.inject_fault(self.operation, self.status, self.count, self.after_effect, self.code)


@dataclass(frozen=True)
class AwsFault:
    """A fault of the local stack's AWS side (see batchdrop_local.aws_faults), for the functions."""

    service: str
    operation: str | None
    kind: str = "error"
    count: int | None = 1  # None: every matching call, until the scenario ends
    nth: int = 1
    match: str | None = None
    caller: str = "functions"  # a function's logical id, or any function
    status: int | None = None
    code: str | None = None
    message: str | None = None

    def arm(self, stack: LocalStack) -> str:
        rule = stack.aws_faults.arm(
            self.service,
            self.operation,
            self.kind,
            nth=self.nth,
            count=self.count,
            match=self.match,
            caller=self.caller,
            status=self.status,
            code=self.code,
            message=self.message,
        )
        return str(rule.id)


@dataclass
class State:
    """What a running scenario has done so far, for its steps to look at."""

    prefix: str
    uploaded: dict[str, dict[str, Any]]
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    acted: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """An action taken once, as soon as ``when`` holds while the scenario settles."""

    name: str
    when: Callable[[FaultHarness, State], bool]
    act: Callable[[FaultHarness, State], None]


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: str
    documents: tuple[Doc, ...] = text_docs()
    emulator_faults: tuple[EmulatorFault, ...] = ()
    bedrock_faults: tuple[BedrockFault, ...] = ()
    aws_faults: tuple[AwsFault, ...] = ()
    crash: tuple[str, str] | None = None  # (function, crash point)
    function_env: dict[str, dict[str, str]] = field(default_factory=dict)  # extra, per function
    duplicate: Literal["s3", "batch-ended"] | None = None
    # True: an invocation must fail and be retried by its event source; False: none may fail;
    # None: either (the fault may or may not outlast the retries of the SDK or botocore).
    function_retry: bool | None = False
    emulator_config: dict[str, Any] = field(default_factory=dict)  # for this scenario only
    bedrock_config: dict[str, Any] = field(default_factory=dict)  # the Bedrock emulator's, likewise
    backend: Backend = "anthropic"
    before: Callable[[FaultHarness, State], None] | None = None  # after arming, before uploading
    after_upload: Callable[[FaultHarness, State], None] | None = None
    steps: tuple[Step, ...] = ()
    after: Callable[[FaultHarness], None] | None = None  # clean-up, whatever happened
    max_submissions: int = 1  # how often one request may be submitted (follow-ups resubmit)
    expect_dead_letters: bool = False
    deadline: float = 90.0
    check: Callable[[Outcome], None] | None = None  # the scenario's own assertions


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


def crashed(call: Call) -> bool:
    return not call.ok and call.error == "the function's process exited"


@dataclass(frozen=True)
class Expected:
    """One document, or one line of a request list, and the two keys it may end under."""

    source_key: str
    item: str | None
    answer_key: str
    error_key: str
    expect: Expect
    reason: str | None

    @property
    def label(self) -> str:
        return self.source_key + (f" #{self.item}" if self.item else "")


def expected_outputs(prefix: str, documents: tuple[Doc, ...]) -> list[Expected]:
    """Where each document's answer or error goes (shortened as batchdrop shortens long keys)."""
    outputs = []
    for doc in documents:
        key = prefix + doc.name
        inbox = parse_inbox_key(key)
        assert inbox is not None, key
        if doc.items:
            for item, expect in doc.items:
                full = f"results/{inbox.profile}/{inbox.path}/{item}"
                outputs.append(
                    Expected(
                        key,
                        item,
                        fit_key(full + ".md", f"/{item}.md"),
                        error_key(inbox, item),
                        expect,
                        doc.reason if expect == "error" else None,
                    )
                )
        else:
            full = f"results/{inbox.profile}/{inbox.path}"
            outputs.append(
                Expected(key, None, fit_key(full + ".md", ".md"), error_key(inbox), doc.expect, doc.reason)
            )
    return outputs


@dataclass
class Outcome:
    """What one scenario did to the stack, measured once it settled (or at the deadline)."""

    scenario: Scenario
    expected: list[Expected]
    objects: dict[str, list[str]]  # expected label -> the keys found among its two
    stray: list[str]  # objects under the scenario's results folder that no document names
    error_bodies: dict[str, dict[str, Any]]  # error key -> its body
    jobs: dict[str, str]  # job id -> status
    billed: dict[str, int]  # request (custom_id) -> times it succeeded (what the API bills)
    submitted: dict[str, int]  # request -> times it was submitted
    unaccounted: dict[str, int]  # custom_ids submitted that no manifest of the scenario names
    elsewhere: dict[str, int]  # the scenario's custom_ids submitted to the other backend
    notifications: dict[str, int]  # job id -> notifications sent
    succeeded: dict[str, tuple[int, ...]]  # completed job id -> succeeded in its summary, notifications
    summaries: dict[str, dict[str, Any]]
    notices: dict[str, list[dict[str, Any]]]
    calls: list[Call]
    unused_faults: dict[str, Any]
    dead_letters: dict[str, int]
    duplicates_sent: int
    seconds: float
    timed_out: bool
    state: State
    waiting_for: list[str] = field(default_factory=list)

    def submit_ignored(self) -> int:
        """Notifications that Submit recognised as naming a document already taken care of."""
        return sum(
            int(call.payload.get("ignored", 0))
            for call in self.calls
            if call.function == SUBMIT and call.ok and isinstance(call.payload, dict)
        )

    def answered(self) -> int:
        return sum(1 for e in self.expected if e.answer_key in self.objects[e.label])

    def errors(self) -> int:
        return sum(1 for e in self.expected if e.error_key in self.objects[e.label])

    def failed_calls(self) -> Counter[str]:
        return Counter(call.function.removesuffix("Function") for call in self.calls if not call.ok)

    def crashes(self, function: str) -> int:
        return sum(1 for call in self.calls if call.function == function and crashed(call))

    def completions(self, status: str) -> int:
        """Complete invocations that answered ``status`` for one of the scenario's jobs."""
        return sum(
            1
            for call in self.calls
            if call.function == COMPLETE
            and call.ok
            and isinstance(call.payload, dict)
            and call.payload.get("status") == status
            and call.payload.get("job_id") in self.jobs
        )

    def row(self) -> dict[str, Any]:
        statuses = Counter(self.jobs.values())
        failed = self.failed_calls()
        return {
            "scenario": f"{self.scenario.name}[{self.scenario.backend}]",
            "fault": self.scenario.fault,
            "documents": len(self.expected),
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
                "stray": self.stray,
                "jobs": self.jobs,
                "billed": self.billed,
                "submitted": self.submitted,
                "unaccounted": self.unaccounted,
                "submitted to the other backend": self.elsewhere,
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
        assert stack.bedrock is not None
        self.bedrock: BedrockEmulatorServer = stack.bedrock
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
        self.bedrock_client = boto3.client(
            "bedrock",
            endpoint_url=self.bedrock.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self.s3.put_object(Bucket=self.bucket, Key="profiles/bedrock.yaml", Body=BEDROCK_PROFILE.encode())
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
        """Job items of the jobs table (not the claims that share it), by job id, as plain values."""
        found: dict[str, dict[str, Any]] = {}
        for page in self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table_name, ConsistentRead=True
        ):
            for item in page["Items"]:
                job_id = item["job_id"]["S"]
                if "status" in item and not job_id.startswith(CLAIM_PREFIXES):
                    found[job_id] = {name: next(iter(value.values())) for name, value in item.items()}
        return found

    def manifest(self, job_id: str, key: str | None) -> list[dict[str, Any]]:
        if job_id not in self.manifests:
            body = self.s3.get_object(Bucket=self.bucket, Key=key or f"jobs/{job_id}/manifest.jsonl")["Body"]
            self.manifests[job_id] = [json.loads(line) for line in body.read().decode().splitlines() if line]
        return self.manifests[job_id]

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]

    def read_json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

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

    def backend_counts(self, backend: Backend) -> tuple[Counter[str], Counter[str]]:
        """(submitted, billed) per custom_id on one backend's emulator: the Claude API's counts
        requests of created batches and those that succeeded; Bedrock's the records its jobs
        validated and those they answered, by recordId (turned back into custom_ids)."""
        if backend == "anthropic":
            stats = self.emulator.stats()
            return Counter(stats["requests_by_custom_id"]), Counter(stats["succeeded_by_custom_id"])
        stats = self.bedrock.stats()
        submitted, billed = Counter[str](), Counter[str]()
        for record, n in stats["records_by_record_id"].items():
            submitted[_custom_id(record)] += n
        for record, n in stats["succeeded_by_record_id"].items():
            billed[_custom_id(record)] += n
        return submitted, billed

    def bedrock_jobs_named(self, prefix: str) -> list[str]:
        """The Bedrock emulator's jobs whose name starts with ``prefix``."""
        pages = self.bedrock_client.get_paginator("list_model_invocation_jobs").paginate(nameContains=prefix)
        return [
            job["jobArn"]
            for page in pages
            for job in page["invocationJobSummaries"]
            if job["jobName"].startswith(prefix)
        ]

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

    def upload(self, prefix: str, documents: tuple[Doc, ...]) -> dict[str, dict[str, Any]]:
        uploaded = {}
        for index, doc in enumerate(documents):
            key = f"{prefix}{doc.name}"
            body = doc.body
            if body is None:
                body = (
                    f"Fault matrix, {prefix}: document {index} reports {index * 7 + 3} widgets sold.".encode()
                )
            uploaded[key] = self.put(key, body)
        return uploaded

    def put(self, key: str, body: bytes) -> dict[str, Any]:
        response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return {
            "size": len(body),
            "eTag": response["ETag"].strip('"'),
            "versionId": response.get("VersionId"),
        }

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

    def resend_batch_ended(self, job_id: str, batch_id: str | None) -> None:
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

    def scenario_jobs(self, prefix: str, known: set[str]) -> dict[str, dict[str, Any]]:
        return {
            job_id: job
            for job_id, job in self.jobs().items()
            if job_id not in known
            and any(
                e["source_key"].startswith(prefix) for e in self.manifest(job_id, job.get("manifest_key"))
            )
        }

    def run(self, scenario: Scenario, once_dir: Path) -> Outcome:
        wanted = {name: dict(env) for name, env in scenario.function_env.items()}
        if scenario.crash:
            function, point = scenario.crash
            wanted.setdefault(function, {}).update(
                {"BATCHDROP_CRASH_POINTS": point, "BATCHDROP_CRASH_ONCE_DIR": str(once_dir)}
            )
        self.configure_functions(wanted)
        self.collect_notifications()
        known_jobs = set(self.jobs())
        other: Backend = "bedrock" if scenario.backend == "anthropic" else "anthropic"
        submitted_before, billed_before = self.backend_counts(scenario.backend)
        elsewhere_before, _ = self.backend_counts(other)
        dead_before = self.dead_letters()
        mark = self.calls.mark()
        prefix = f"inbox/{PROFILE_OF[scenario.backend]}/{scenario.name}/"
        state = State(prefix=prefix, uploaded={})
        restore = {}
        if scenario.emulator_config:
            config = self.emulator.engine.config
            restore = {name: getattr(config, name) for name in scenario.emulator_config}
            self.emulator.update_config(**scenario.emulator_config)
        restore_bedrock = {}
        if scenario.bedrock_config:
            bedrock_config = self.bedrock.engine.config
            restore_bedrock = {name: getattr(bedrock_config, name) for name in scenario.bedrock_config}
            self.bedrock.update_config(**scenario.bedrock_config)
        for fault in scenario.emulator_faults:
            fault.arm(self.emulator)
        for bedrock_fault in scenario.bedrock_faults:
            bedrock_fault.arm(self.bedrock)
        rules = [fault.arm(self.stack) for fault in scenario.aws_faults]
        try:
            if scenario.before:
                scenario.before(self, state)
            started = time.monotonic()
            state.started = started
            state.uploaded = self.upload(prefix, scenario.documents)
            if scenario.after_upload:
                scenario.after_upload(self, state)
            outcome = self._settle(scenario, state, known_jobs, started, mark)
        finally:
            if scenario.after:
                scenario.after(self)
            if restore:
                self.emulator.update_config(**restore)
            if restore_bedrock:
                self.bedrock.update_config(**restore_bedrock)
        stats = self.emulator.stats()
        unused: dict[str, Any] = {
            fault.endpoint: stats["pending_faults"][fault.endpoint]
            for fault in scenario.emulator_faults
            if stats["pending_faults"][fault.endpoint]
        }
        # Bedrock's, whether armed before the scenario or by one of its steps.
        unused.update(
            {
                f"bedrock:{operation}": pending
                for operation, pending in self.bedrock.stats()["pending_faults"].items()
                if pending
            }
        )
        served = {rule["id"]: rule for rule in self.stack.aws_faults.stats()}
        for rule_id in rules:
            rule = served[rule_id]
            if rule["served"] == 0 or (rule["remaining"] or 0) > 0:
                unused[f"aws:{rule['service']}:{rule['operation']}"] = rule
            self.stack.aws_faults.disarm(rule_id)
        self.emulator.clear_faults()
        self.bedrock.faults.clear()
        outcome.unused_faults = unused
        submitted_now, billed_now = self.backend_counts(scenario.backend)
        elsewhere_now, _ = self.backend_counts(other)
        names = {e["custom_id"] for job_id in outcome.jobs for e in self.manifests[job_id]}
        names |= set(state.notes.get("foreign_custom_ids", ()))  # batches the scenario made itself
        outcome.submitted = {
            c: n - submitted_before[c] for c, n in submitted_now.items() if n > submitted_before[c]
        }
        outcome.billed = {c: n - billed_before[c] for c, n in billed_now.items() if n > billed_before[c]}
        outcome.unaccounted = {c: n for c, n in outcome.submitted.items() if c not in names}
        outcome.elsewhere = {
            c: n - elsewhere_before[c]
            for c, n in elsewhere_now.items()
            if c in names and n > elsewhere_before[c]
        }
        dead_after = self.dead_letters()
        outcome.dead_letters = {
            name: n - dead_before[name] for name, n in dead_after.items() if n > dead_before[name]
        }
        outcome.calls = self.calls.since(mark)
        if scenario.crash and any(c.function == scenario.crash[0] and crashed(c) for c in outcome.calls):
            self.spent_crash.add(scenario.crash[0])
        return outcome

    def _settle(
        self, scenario: Scenario, state: State, known_jobs: set[str], started: float, mark: int
    ) -> Outcome:
        prefix = state.prefix
        expected = expected_outputs(prefix, scenario.documents)
        results_prefix = "results/" + prefix.removeprefix("inbox/")
        duplicates_sent = 0
        duplicate_stages: set[str] = set()
        if scenario.duplicate == "s3":
            duplicates_sent += self.resend_s3_notifications(state.uploaded)  # at once, as S3 may
            duplicate_stages.add("uploaded")
        expected_stages = {
            "s3": {"uploaded", "submitted", "completed"},
            "batch-ended": {"ended", "completed"},
        }
        waiting_for: list[str] = []
        timed_out = False
        while True:
            self.collect_notifications()
            found = set(self.keys(results_prefix))
            jobs = self.scenario_jobs(prefix, known_jobs)
            state.jobs = jobs
            finished = bool(jobs) and all(job["status"] in TERMINAL for job in jobs.values())
            for step in scenario.steps:
                if step.name not in state.acted and step.when(self, state):
                    step.act(self, state)
                    state.acted.add(step.name)
            if scenario.duplicate == "s3":
                if "submitted" not in duplicate_stages and any(job.get("batch_id") for job in jobs.values()):
                    duplicates_sent += self.resend_s3_notifications(state.uploaded)  # while the batch runs
                    duplicate_stages.add("submitted")
                if "completed" not in duplicate_stages and finished:
                    duplicates_sent += self.resend_s3_notifications(state.uploaded)  # long after
                    duplicate_stages.add("completed")
            ended = [
                (job_id, job.get("batch_id"))
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
                *(f"an object for {e.label}" for e in expected if not {e.answer_key, e.error_key} & found),
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
                *(f"step {step.name}" for step in scenario.steps if step.name not in state.acted),
                # A crashed container's invocation ends when its process has exited, which may be
                # after the rest of the pipeline has already finished the job.
                *(
                    [f"the crash of {scenario.crash[0]} at {scenario.crash[1]}"]
                    if scenario.crash
                    and not any(
                        c.function == scenario.crash[0] and crashed(c) for c in self.calls.since(mark)
                    )
                    else []
                ),
            ]
            if not waiting_for:
                break
            if time.monotonic() - started > scenario.deadline:
                timed_out = True
                break
            time.sleep(POLL_EVERY)
        seconds = time.monotonic() - started
        self.collect_notifications()
        found = set(self.keys(results_prefix))
        objects = {e.label: sorted({e.answer_key, e.error_key} & found) for e in expected}
        named = {key for e in expected for key in (e.answer_key, e.error_key)}
        error_bodies = {
            key: self.read_json(key) for e in expected for key in objects[e.label] if key == e.error_key
        }
        summaries = {
            job_id: self.read_json(f"jobs/{job_id}/summary.json")
            for job_id, job in jobs.items()
            if job["status"] == "completed"
        }
        return Outcome(
            scenario=scenario,
            expected=expected,
            objects=objects,
            stray=sorted(found - named),
            error_bodies=error_bodies,
            jobs={job_id: job["status"] for job_id, job in jobs.items()},
            billed={},
            submitted={},
            unaccounted={},
            elsewhere={},
            notifications={job_id: len(self.notices.get(job_id, [])) for job_id in jobs},
            succeeded={
                job_id: (
                    int(summary["counts"]["succeeded"]),
                    *(int(notice["counts"]["succeeded"]) for notice in self.notices.get(job_id, [])),
                )
                for job_id, summary in summaries.items()
            },
            summaries=summaries,
            notices={job_id: self.notices.get(job_id, []) for job_id in jobs},
            calls=[],
            unused_faults={},
            dead_letters={},
            duplicates_sent=duplicates_sent,
            seconds=seconds,
            timed_out=timed_out,
            state=state,
            waiting_for=waiting_for,
        )

    def diagnostics(self, outcome: Outcome) -> str:
        return (
            f"{outcome.describe()}\nlast reports of the stack:\n  "
            + "\n  ".join(self.report.lines[-15:])
            + f"\nfunction logs: {self.logs}"
        )


def assert_scenario_held(outcome: Outcome, why: str) -> None:
    """The four promises, and that the fault happened (see the module docstring)."""
    scenario = outcome.scenario
    assert not outcome.timed_out, f"not settled after {scenario.deadline:.0f} s: {outcome.waiting_for}\n{why}"
    # every document: exactly one answer or one error object, the one expected
    for e in outcome.expected:
        objects = outcome.objects[e.label]
        assert len(objects) == 1, f"{e.label} has {len(objects)} answer/error objects: {objects}\n{why}"
        wanted = e.answer_key if e.expect == "answer" else e.error_key
        assert objects == [wanted], f"{e.label}: expected its {e.expect}, found {objects}\n{why}"
        if e.expect == "error" and e.reason:
            body = outcome.error_bodies[e.error_key]
            assert e.reason.lower() in json.dumps(body, ensure_ascii=False).lower(), (
                f"{e.label}: the error does not say {e.reason!r}: {body}\n{why}"
            )
    assert not outcome.stray, f"objects no document names: {outcome.stray}\n{why}"
    # billed at most once, submitted no more often than the attempts allow
    over = {c: n for c, n in outcome.billed.items() if n > 1}
    assert not over, f"requests billed more than once: {over}\n{why}"
    resent = {c: n for c, n in outcome.submitted.items() if n > scenario.max_submissions}
    assert not resent, f"requests submitted more than {scenario.max_submissions} times: {resent}\n{why}"
    assert not outcome.unaccounted, f"requests submitted that no manifest names: {outcome.unaccounted}\n{why}"
    assert not outcome.elsewhere, f"requests sent to the other backend: {outcome.elsewhere}\n{why}"
    # one notification per job that ran, none for a job abandoned before its batch existed
    for job_id, status in outcome.jobs.items():
        expected = 1 if status == "completed" else 0
        assert outcome.notifications[job_id] == expected, (
            f"job {job_id} ({status}) sent {outcome.notifications[job_id]} notifications\n{why}"
        )
    assert "completed" in outcome.jobs.values(), why
    for job_id, counts in outcome.succeeded.items():
        assert len(set(counts)) == 1, f"job {job_id}: summary and notifications disagree: {counts}\n{why}"
    # nothing dead-lettered, unless that is the point
    if scenario.expect_dead_letters:
        assert outcome.dead_letters, f"nothing was dead-lettered\n{why}"
    else:
        assert not outcome.dead_letters, f"dead-lettered: {outcome.dead_letters}\n{why}"
    # and the fault did happen
    assert not outcome.unused_faults, f"injected faults never reached: {outcome.unused_faults}\n{why}"
    if scenario.crash:
        function, point = scenario.crash
        crashes = outcome.crashes(function)
        assert crashes == 1, (
            f"crash point {point} killed {function} {crashes} times, not once "
            f"(0: is it on the function's code path?)\n{why}"
        )
    if scenario.function_retry is True:
        assert outcome.failed_calls(), f"no invocation failed: the fault never outlasted the retries\n{why}"
    elif scenario.function_retry is False:
        assert not outcome.failed_calls(), f"invocations failed, and nothing should have\n{why}"
    if scenario.check:
        scenario.check(outcome)


def _custom_id(record_id: str) -> str:
    """The custom_id of a Bedrock recordId batchdrop made (another's stays as it is)."""
    try:
        return custom_id_of(record_id)
    except ValueError:
        return record_id
