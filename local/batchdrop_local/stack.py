"""The local stack: moto in server mode, the Anthropic emulator, the Bedrock emulator (batch
inference jobs and InvokeModel, on moto's S3 and default event bus), and the template's functions
wired to their event sources, all on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from batchdrop_local.aws_faults import ADMIN_PATH, FUNCTION_APP_PREFIX, AwsFaults, AwsServer
from batchdrop_local.bedrock_emulator import BedrockConfig, BedrockEmulatorServer, ManualClock
from batchdrop_local.bedrock_emulator.config import aws_client
from batchdrop_local.emulator import EmulatorConfig, EmulatorServer
from batchdrop_local.moto_atomic import make_dynamodb_writes_atomic
from batchdrop_local.provision import (
    ACCOUNT_ID,
    REGION,
    LocalFunction,
    LocalStackResources,
    provision,
    rate_seconds,
)
from batchdrop_local.runtime import FunctionWorker, bedrock_environment, lambda_environment
from batchdrop_local.s3_fidelity import make_s3_events_faithful
from batchdrop_local.template import DEFAULT_STATE_DIR
from batchdrop_local.triggers import EventBridgeRuleSource, EventSource, ScheduleSource, SqsSource

BEDROCK_DURATIONS = {
    "Submitted": 0.5,
    "Validating": 0.5,
    "Scheduled": 0.5,
    "InProgress": 1.0,
    "Stopping": 0.5,
}
"""Seconds a local Bedrock job spends in each status (Bedrock's own take minutes to hours)."""
BEDROCK_APP_ID = "bedrock-emulator"
"""The Bedrock emulator's name in the User-Agent of its S3 and EventBridge calls (AWS faults' caller)."""


@dataclass
class LocalStackOptions:
    host: str = "127.0.0.1"
    port: int = 4566
    emulator_port: int = 0
    batching_window: float = 2.0
    poll_interval: float = 2.0
    emulator_delay: float = 3.0
    emulator_error_rate: float = 0.0
    emulator_expire_rate: float = 0.0
    real_api: bool = False
    anthropic_api_key: str | None = None
    prefix: str = "batchdrop-local"
    parameters: dict[str, str] = field(default_factory=dict)
    state_dir: Path = DEFAULT_STATE_DIR
    rule_max_attempts: int = 3
    # Extra environment for every function (e.g. crash points and shortened leases in tests).
    function_env: dict[str, str] = field(default_factory=dict)
    # Seconds before a message a function failed on is delivered again (deployed: 5700).
    visibility_timeout: int = 30
    bedrock_port: int = 0
    # Seconds in Submitted, Validating, Scheduled, InProgress, Stopping; one not named: BEDROCK_DURATIONS.
    bedrock_durations: dict[str, float] = field(default_factory=lambda: dict(BEDROCK_DURATIONS))
    # Bedrock's per-model quota "Minimum number of records per batch inference job".
    bedrock_min_records: int = 100
    # Bedrock's time moves only by stack.bedrock.advance(seconds): tests step jobs through statuses.
    bedrock_manual_clock: bool = False


def _documents(count: int) -> str:
    return f"{count} document" + ("" if count == 1 else "s")


def _describe(logical_id: str, payload: Any) -> str | None:
    """One line about what an invocation did, for the person watching the stack."""
    if not isinstance(payload, dict):
        return None
    if "submitted" in payload and (payload.get("jobs") or payload.get("rejected")):
        parts = [
            f"job {job['job_id']}: {_documents(job['requests'])} submitted as batch {job['batch_id']}"
            for job in payload["jobs"]
        ]
        if payload.get("rejected"):
            parts.append(f"{_documents(payload['rejected'])} rejected (see their .error.json)")
        return f"{logical_id}: " + "; ".join(parts)
    if payload.get("ended"):
        return f"{logical_id}: batch ended for job(s) {', '.join(payload['ended'])}"
    if payload.get("status") == "completed":
        answered = _documents(payload.get("counts", {}).get("succeeded", 0))
        return f"{logical_id}: job {payload['job_id']} completed: {answered} answered"
    return None


class _ReportingWorker(FunctionWorker):
    def __init__(self, *args: Any, report: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._report = report

    def invoke(self, event: dict[str, Any], timeout: float | None = None) -> Any:
        result = super().invoke(event, timeout)
        line = _describe(self.fn.logical_id, result.payload) if result.ok else None
        if line:
            self._report(line)
        return result


class LocalStack:
    def __init__(
        self, options: LocalStackOptions | None = None, report: Callable[[str], None] = print
    ) -> None:
        self.options = options or LocalStackOptions()
        self.report = report
        self.moto: AwsServer | None = None
        # Faults on the AWS side: arm(...) makes chosen calls fail as the real service fails them.
        self.aws_faults = AwsFaults()
        self.emulator: EmulatorServer | None = None
        self.bedrock: BedrockEmulatorServer | None = None
        self.resources: LocalStackResources | None = None
        self.workers: dict[str, FunctionWorker] = {}
        self.sources: list[EventSource] = []

    @property
    def endpoint(self) -> str:
        return f"http://{self.options.host}:{self.options.port}"

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto accepts any credentials
        )

    def start(self) -> LocalStack:
        opts = self.options
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        make_dynamodb_writes_atomic()
        make_s3_events_faithful()
        self.moto = AwsServer(opts.host, opts.port, self.aws_faults).start()
        opts.port = self.moto.port
        parameters = dict(opts.parameters)
        if opts.real_api:
            if not opts.anthropic_api_key:
                raise ValueError("the real Anthropic API needs ANTHROPIC_API_KEY to be set")
            parameters.setdefault("AnthropicBaseUrl", "")
            api_key = opts.anthropic_api_key
        else:
            self.emulator = EmulatorServer(
                opts.host,
                opts.emulator_port,
                EmulatorConfig(
                    processing_delay=opts.emulator_delay,
                    error_rate=opts.emulator_error_rate,
                    expire_rate=opts.emulator_expire_rate,
                ),
            ).start()
            parameters["AnthropicBaseUrl"] = self.emulator.url
            api_key = "local-emulator-key"
        self.bedrock = self._start_bedrock()
        self.resources = provision(
            self.endpoint,
            prefix=opts.prefix,
            parameters=parameters,
            anthropic_api_key=api_key,
            visibility_timeout=opts.visibility_timeout,
        )
        log_dir = opts.state_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        for logical_id, fn in self.resources.functions.items():
            env = self._function_environment(fn, opts.function_env)
            self.workers[logical_id] = _ReportingWorker(fn, env, log_dir, report=self.report)
        for worker in self.workers.values():
            worker.warm()
        self._wire_event_sources()
        for source in self.sources:
            source.start()
        self._write_state()
        return self

    def _start_bedrock(self) -> BedrockEmulatorServer:
        """The Bedrock emulator on moto: job inputs and outputs in its S3, events on its default bus."""
        opts = self.options
        config = BedrockConfig(
            aws_endpoint=self.endpoint,
            durations={**BEDROCK_DURATIONS, **opts.bedrock_durations},
            min_records=opts.bedrock_min_records,
            region=REGION,
            account=ACCOUNT_ID,
        )
        return BedrockEmulatorServer(
            opts.host,
            opts.bedrock_port,
            config,
            ManualClock() if opts.bedrock_manual_clock else None,
            s3=aws_client("s3", config, BEDROCK_APP_ID),
            events=aws_client("events", config, BEDROCK_APP_ID),
        ).start()

    def _function_environment(self, fn: LocalFunction, extra: dict[str, str]) -> dict[str, str]:
        """Lambda's environment, plus an SDK app id that names the function in the User-Agent
        of its AWS calls, so that a fault can be aimed at the functions (``caller=``), and the
        Bedrock emulator as the endpoint of the SDK's `bedrock` and `bedrock-runtime` clients,
        and the emulator's minimum job size as the functions' BEDROCK_MIN_RECORDS."""
        bedrock = bedrock_environment(self.bedrock.url if self.bedrock else None)
        # The functions hold jobs below the same minimum the emulator refuses (BedrockMinRecords).
        minimum = {"BEDROCK_MIN_RECORDS": str(self.options.bedrock_min_records)}
        return lambda_environment(
            fn,
            self.endpoint,
            {"AWS_SDK_UA_APP_ID": FUNCTION_APP_PREFIX + fn.logical_id, **bedrock, **minimum, **extra},
        )

    def _queue_url_for_arn(self, arn: str) -> str:
        name = arn.rsplit(":", 1)[1]
        return f"{self.endpoint}/{ACCOUNT_ID}/{name}"

    def _wire_event_sources(self) -> None:
        assert self.resources is not None
        sqs = self.client("sqs")
        events = self.client("events")
        by_name = {fn.name: logical_id for logical_id, fn in self.resources.functions.items()}
        for mapping in self.resources.event_source_mappings.values():
            # The template's own SQS mappings: polled as Lambda's event source mapping would.
            worker = self.workers[by_name[mapping["FunctionName"]]]
            self.sources.append(self._sqs_source(sqs, worker, mapping["EventSourceArn"], mapping))
        for logical_id, fn in self.resources.functions.items():
            worker = self.workers[logical_id]
            for event_name, spec in fn.events.items():
                props = spec.get("Properties", {})
                if spec["Type"] == "SQS":
                    self.sources.append(self._sqs_source(sqs, worker, props["Queue"], props))
                elif spec["Type"] == "Schedule":
                    rate_seconds(props["Schedule"])  # the template's schedule must be one we understand
                    rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{fn.name}-{event_name}"
                    self.sources.append(
                        ScheduleSource(worker, self.options.poll_interval, rule_arn, self.report)
                    )
                elif spec["Type"] == "EventBridgeRule":
                    self.sources.append(self._rule_source(sqs, events, worker, event_name, props))
                else:
                    raise ValueError(f"{logical_id}: event type {spec['Type']} is not run by the local stack")

    def _sqs_source(
        self, sqs: Any, worker: FunctionWorker, queue_arn: str, props: dict[str, Any]
    ) -> SqsSource:
        """An SQS poller with the template's batch size and the local batching window."""
        return SqsSource(
            worker,
            sqs,
            self._queue_url_for_arn(queue_arn),
            queue_arn,
            batch_size=int(props.get("BatchSize", 10)),
            window_seconds=self.options.batching_window,
            report=self.report,
        )

    def _rule_source(
        self, sqs: Any, events: Any, worker: FunctionWorker, event_name: str, props: dict[str, Any]
    ) -> EventBridgeRuleSource:
        # The template's RuleName when it names the rule (a queue policy's aws:SourceArn may name
        # it), else a name of the function and event as SAM makes one.
        rule_name = props.get("RuleName") or f"{worker.fn.name}-{event_name}"
        target = sqs.create_queue(QueueName=f"{rule_name}-target")["QueueUrl"]
        target_arn = sqs.get_queue_attributes(QueueUrl=target, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        bus = props.get("EventBusName", "default")
        events.put_rule(
            Name=rule_name, EventBusName=bus, EventPattern=json.dumps(props["Pattern"]), State="ENABLED"
        )
        events.put_targets(Rule=rule_name, EventBusName=bus, Targets=[{"Id": "function", "Arn": target_arn}])
        retries = int(props.get("RetryPolicy", {}).get("MaximumRetryAttempts", 185))
        dlq_arn = props.get("DeadLetterConfig", {}).get("Arn")
        return EventBridgeRuleSource(
            worker,
            sqs,
            target,
            max_attempts=min(retries + 1, self.options.rule_max_attempts),
            dead_letter_queue_url=self._queue_url_for_arn(dlq_arn) if dlq_arn else None,
            report=self.report,
        )

    def restart_functions(self, env: dict[str, str], *logical_ids: str) -> None:
        """Give the named functions (all when none is named) the stack's `function_env` plus
        `env`, and restart their containers: the next invocation cold-starts with it, as after
        a configuration change in Lambda. An invocation in progress finishes first."""
        assert self.resources is not None
        for logical_id in logical_ids or tuple(self.workers):
            worker = self.workers[logical_id]
            fn = self.resources.functions[logical_id]
            # Set before stopping: a container started in between already gets the new environment.
            worker._env = self._function_environment(fn, {**self.options.function_env, **env})
            worker.stop()
            worker.invocations = 0  # the next invocation waits for a cold start
            worker.warm()

    def undelivered_messages(self) -> dict[str, int]:
        """Per SQS and EventBridge-rule event source (``<function>:<queue name>``): the messages
        waiting in its queue or being handled, including those a failed invocation left to be
        delivered again. All zero when every event so far has been handled."""
        sqs = self.client("sqs")
        counts: dict[str, int] = {}
        for source in self.sources:
            if isinstance(source, SqsSource):
                url = source.queue_url
            elif isinstance(source, EventBridgeRuleSource):
                url = source.target_queue_url
            else:
                continue
            attributes = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            counts[f"{source.worker.fn.logical_id}:{url.rsplit('/', 1)[1]}"] = int(
                attributes["ApproximateNumberOfMessages"]
            ) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
        return counts

    def info(self) -> dict[str, Any]:
        assert self.resources is not None
        names = self.resources.names
        return {
            "endpoint": self.endpoint,
            "region": REGION,
            "bucket": names["DocumentsBucket"],
            "topic_arn": names["NotificationTopic"],
            "jobs_table": names["JobsTable"],
            "event_bus": names["JobEventBus"],
            "ingest_queue_url": self.resources.queue_urls["IngestQueue"],
            "anthropic_base_url": self.emulator.url if self.emulator else "https://api.anthropic.com",
            "emulator": self.emulator is not None,
            "bedrock_url": self.bedrock.url if self.bedrock else None,
            "prefix": self.options.prefix,
            "parameters": self.resources.parameters,
            "functions": {lid: fn.name for lid, fn in self.resources.functions.items()},
            "logs": str(self.options.state_dir / "logs"),
            "aws_faults_url": self.endpoint + ADMIN_PATH,
            "pid": os.getpid(),
        }

    def _write_state(self) -> None:
        """state.json whole or not at all: whoever waits for it (tests, `batchdrop local invoke`)
        may read it as soon as it exists, so it is written aside and renamed into place."""
        self.options.state_dir.mkdir(parents=True, exist_ok=True)
        partial = self.options.state_dir / "state.json.partial"
        partial.write_text(json.dumps(self.info(), indent=2))
        os.replace(partial, self.options.state_dir / "state.json")

    def stop(self) -> None:
        for source in self.sources:
            source.stop()
        for source in self.sources:
            source.join(10)
        for worker in self.workers.values():
            worker.stop()
        if self.emulator is not None:
            self.emulator.stop()
        if self.bedrock is not None:
            self.bedrock.stop()  # before moto: its ticker may still be writing outputs there
        if self.moto is not None:
            self.moto.stop()
        state = self.options.state_dir / "state.json"
        if state.exists():
            state.unlink()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
