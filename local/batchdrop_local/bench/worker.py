"""One benchmark measurement, in a fresh process: ``python -m batchdrop_local.bench.worker '<json>'``.

Each measurement runs alone in its own interpreter so that its peak memory is its own and one
run's caches do not speed up the next. The real handlers (loaded from the paths template.yaml
names, with the environment it gives them) run against the in-memory stand-in for S3 and
DynamoDB (``standin.py``) and the Message Batches emulator over HTTP; the baseline is plain
boto3 against the same stand-in, at the same concurrency, in the same process. The result is
one JSON object on the last line of stdout.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

WINDOW = 1000  # template.yaml's IngestBatchSize default: documents per Submit invocation
DOCUMENT = (
    "Quarterly report, region {i}. Revenue grew 4% on the quarter to 12.1 million; costs held at "
    "7.3 million. The board approved the new warehouse lease; hiring resumes in March.\n"
)


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)


def reset_peak_memory() -> int:
    """Reset the process's high-water mark of resident memory (Linux); the current RSS in KiB."""
    gc.collect()
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")
    return _status_kib("VmRSS")


def peak_memory() -> int:
    return _status_kib("VmHWM")


@dataclass
class Measured:
    seconds: float
    cpu_seconds: float
    start_rss_kib: int
    peak_rss_kib: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "seconds": round(self.seconds, 4),
            "cpu_seconds": round(self.cpu_seconds, 4),
            "start_rss_mib": round(self.start_rss_kib / 1024, 1),
            "peak_rss_mib": round(self.peak_rss_kib / 1024, 1),
            "peak_above_start_mib": round((self.peak_rss_kib - self.start_rss_kib) / 1024, 1),
        }


def measure(work: Callable[[], Any]) -> tuple[Measured, Any]:
    start_rss = reset_peak_memory()
    cpu, wall = time.process_time(), time.perf_counter()
    result = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Measured(wall, cpu, start_rss, peak_memory()), result


class Harness:
    """The stand-in installed, the template's resources in it, handlers loaded on demand."""

    def __init__(self, spec: dict[str, Any]) -> None:
        from batchdrop_local.bench.standin import InMemoryAws, Latency
        from batchdrop_local.provision import plan

        self.spec = spec
        self.concurrency = int(spec.get("concurrency", 16))
        resources, _, template = plan("http://stand-in.invalid", parameters=self._parameters(spec))
        self.functions = resources.functions
        self.names = resources.names
        for variable, value in {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "DOCUMENT_READ_CONCURRENCY": str(self.concurrency),
            "RESULT_WRITE_CONCURRENCY": str(self.concurrency),
        }.items():
            os.environ[variable] = value
        os.environ.pop("AWS_ENDPOINT_URL", None)
        self._install_moto_for_the_rest()  # before any session is made: they copy the handlers
        self.aws = InMemoryAws(Latency())
        self.aws.install_everywhere()  # the functions' own sessions, and boto3's default one
        self.bucket = self.names["DocumentsBucket"]
        self.aws.create_bucket(self.bucket)
        self._create_table(template, resources.names["JobsTable"])
        self._create_secret_topic_and_bus()
        self.latency = Latency(
            s3_get=float(spec.get("s3_get", 0.0)),
            s3_put=float(spec.get("s3_put", 0.0)),
            dynamodb=float(spec.get("dynamodb", 0.0)),
        )

    @staticmethod
    def _parameters(spec: dict[str, Any]) -> dict[str, str]:
        return {"AnthropicBaseUrl": str(spec["emulator"]), "LogLevel": "WARNING"}

    @staticmethod
    def _install_moto_for_the_rest() -> None:
        """Secrets Manager, SNS and EventBridge: a few calls per job, answered by moto. Registered
        for every botocore session, as moto does: Powertools' parameters make their own."""
        from botocore.handlers import BUILTIN_HANDLERS
        from moto.core.botocore_stubber import BotocoreStubber

        stubber = BotocoreStubber()
        stubber.enabled = True
        for service in ("secrets-manager", "sns", "events"):
            BUILTIN_HANDLERS.append((f"before-send.{service}", stubber))

    def _create_table(self, template: dict[str, Any], name: str) -> None:
        import boto3

        props = template["Resources"]["JobsTable"]["Properties"]
        boto3.client("dynamodb").create_table(
            TableName=name,
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode="PAY_PER_REQUEST",
            GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
        )

    def _create_secret_topic_and_bus(self) -> None:
        import boto3

        secret = self.functions["SubmitFunction"].environment["ANTHROPIC_SECRET_NAME"]
        boto3.client("secretsmanager").create_secret(Name=secret, SecretString="bench-key")
        topic_arn = self.functions["CompleteFunction"].environment["TOPIC_ARN"]
        boto3.client("sns").create_topic(Name=topic_arn.rsplit(":", 1)[1])
        bus = self.functions["CompleteFunction"].environment["EVENT_BUS_NAME"]
        boto3.client("events").create_event_bus(Name=bus)

    def handler(self, logical_id: str) -> tuple[Callable[[dict[str, Any], Any], Any], Any]:
        """The handler as Lambda loads it, with the function's environment and a context."""
        from batchdrop_local.runtime import LambdaContext, load_handler

        fn = self.functions[logical_id]
        os.environ.update(fn.environment)
        return load_handler(fn), LambdaContext(fn, fn.timeout)

    def seed_documents(self, n: int) -> list[str]:
        keys = [f"inbox/default/bench/doc-{i:06d}.txt" for i in range(n)]
        for i, key in enumerate(keys):
            self.aws.put_object(self.bucket, key, DOCUMENT.format(i=i).encode(), "text/plain")
        return keys

    def s3_client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client("s3", config=Config(max_pool_connections=max(10, self.concurrency)))


def sqs_windows(bucket: str, keys: list[str], window: int = WINDOW) -> Iterator[dict[str, Any]]:
    """The SQS events Lambda's event source mapping would hand Submit: one S3 record per message."""
    for start in range(0, len(keys), window):
        records = []
        for i, key in enumerate(keys[start : start + window], start):
            body = {
                "Records": [
                    {
                        "eventSource": "aws:s3",
                        "eventName": "ObjectCreated:Put",
                        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 200, "eTag": "x"}},
                    }
                ]
            }
            records.append(
                {
                    "messageId": f"m-{i}",
                    "receiptHandle": f"r-{i}",
                    "body": json.dumps(body),
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest",
                    "awsRegion": "us-east-1",
                }
            )
        yield {"Records": records}


def in_parallel(concurrency: int, fn: Callable[[str], Any], keys: list[str]) -> None:
    """fn over the keys, ``concurrency`` at a time, with at most 4 x concurrency queued (as
    Complete's writer does: Executor.map would queue a future for every key at once)."""
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        pending: set[Future[Any]] = set()
        for key in keys:
            if len(pending) >= 4 * concurrency:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()
            pending.add(pool.submit(fn, key))
        for future in pending:
            future.result()


# --- the measurements ---------------------------------------------------------------------------


def warm_up_submit(h: Harness, handler: Callable[..., Any], context: Any) -> None:
    """One small window first, as a warm container has served: the SDK import and the first
    connections are cold-start costs, measured on their own (bench_import)."""
    keys = [f"inbox/default/warm-up/doc-{i}.txt" for i in range(5)]
    for key in keys:
        h.aws.put_object(h.bucket, key, DOCUMENT.format(i=key).encode(), "text/plain")
    for event in sqs_windows(h.bucket, keys):
        handler(event, context)


def warm_up_complete(h: Harness, handler: Callable[..., Any], context: Any) -> None:
    job_id, batch_id = _ended_job(h, 5)
    handler(_batch_ended(job_id, batch_id), context)


def _batch_ended(job_id: str, batch_id: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "bench",
        "detail-type": "Batch Ended",
        "source": "batchdrop",
        "account": "123456789012",
        "time": "2026-11-25T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"job_id": job_id, "batch_id": batch_id},
    }


def bench_submit(spec: dict[str, Any]) -> dict[str, Any]:
    """N documents in the inbox -> Submit over windows of WINDOW -> batches created.

    Baseline: the same N objects fetched with plain boto3 at the same concurrency."""
    h = Harness(spec)
    n = int(spec["n"])
    keys = h.seed_documents(n)
    handler, context = h.handler("SubmitFunction")
    warm_up_submit(h, handler, context)
    h.aws.latency = h.latency
    s3 = h.s3_client()

    def fetch(key: str) -> bytes:
        body: bytes = s3.get_object(Bucket=h.bucket, Key=key)["Body"].read()
        return body

    baseline, _ = measure(lambda: in_parallel(h.concurrency, fetch, keys))
    h.aws.reset_calls()

    # What Submit writes is counted, not kept (nothing here reads it back), and each
    # invocation's peak is taken over its own start: the stand-in's store (and moto's claims)
    # grow from window to window, a function's memory does not.
    h.aws.discard_prefixes = ("jobs/", "results/")
    invocation_peaks: list[int] = []

    def run() -> dict[str, int]:
        totals = {"submitted": 0, "batches": 0, "failures": 0}
        for event in sqs_windows(h.bucket, keys):
            start = reset_peak_memory()
            result = handler(event, context)
            invocation_peaks.append(peak_memory() - start)
            totals["submitted"] += result["submitted"]
            totals["batches"] += len(result["jobs"])
            totals["failures"] += len(result.get("batchItemFailures", []))
        return totals

    measured, totals = measure(run)
    measured.start_rss_kib = measured.peak_rss_kib - max(invocation_peaks)
    if totals["submitted"] != n or totals["failures"]:
        raise RuntimeError(f"Submit did not submit every document: {totals}")
    return {
        "n": n,
        "concurrency": h.concurrency,
        "batchdrop": measured.as_dict(),
        "baseline": baseline.as_dict(),
        "batches": totals["batches"],
        "calls": h.aws.calls(),
    }


def _ended_job(h: Harness, n: int) -> tuple[str, str]:
    """A job of N requests whose batch has ended in the emulator, as Submit and Poll leave it."""
    import anthropic
    import boto3

    from batchdrop.adapters.dynamodb_jobs import JobStore
    from batchdrop.domain.keys import manifest_key
    from batchdrop.domain.manifest import ManifestEntry, new_job_id

    job_id = new_job_id(datetime.now(UTC))
    client = anthropic.Anthropic(api_key="bench", base_url=str(h.spec["emulator"]), max_retries=0)
    model = h.functions["SubmitFunction"].environment["DEFAULT_MODEL"]
    requests = [
        {
            "custom_id": f"doc-{i:06d}",
            "params": {
                "model": model,
                "max_tokens": 256,
                "messages": [{"role": "user", "content": DOCUMENT.format(i=i)}],
            },
        }
        for i in range(n)
    ]
    batch = client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
    del requests
    lines = "".join(
        ManifestEntry(
            custom_id=f"doc-{i:06d}",
            source_key=f"inbox/default/bench/doc-{i:06d}.txt",
            version_id=None,
            etag="0123456789abcdef0123456789abcdef",
            profile="default",
            error_key=f"results/default/bench/doc-{i:06d}.txt.error.json",
            result_key=f"results/default/bench/doc-{i:06d}.txt.md",
            model=model,
            kind="text",
            estimated_input_tokens=60,
            estimated_cost=0.0001,
        ).to_json()
        + "\n"
        for i in range(n)
    )
    h.aws.put_object(h.bucket, manifest_key(job_id), lines.encode(), "application/x-ndjson")
    del lines
    jobs = JobStore(boto3.resource("dynamodb").Table(h.names["JobsTable"]))
    now = datetime.now(UTC)
    lease = timedelta(minutes=20)
    jobs.record_intent(job_id, manifest_key(job_id), now, lease, documents=n, requests=n, rejected=0)
    jobs.record_submitted(job_id, batch.id, batch.expires_at.isoformat(), batch.created_at.isoformat(), now)
    jobs.claim_ended(job_id, now, timedelta(minutes=5))
    jobs.mark_ended(job_id, now)
    return job_id, batch.id


def bench_complete(spec: dict[str, Any]) -> dict[str, Any]:
    """N results -> result objects, results.jsonl and summary written.

    Baseline: the same result objects written with plain boto3 at the same concurrency."""
    h = Harness(spec)
    n = int(spec["n"])
    handler, context = h.handler("CompleteFunction")
    warm_up_complete(h, handler, context)
    job_id, batch_id = _ended_job(h, n)
    h.aws.latency = h.latency
    # What Complete writes is counted, not kept: the stand-in's copy is not Complete's memory.
    raw_results = f"jobs/{job_id}/results.jsonl"
    h.aws.discard_prefixes = ("results/", raw_results)
    event = _batch_ended(job_id, batch_id)
    h.aws.reset_calls()
    measured, body = measure(lambda: handler(event, context))
    if body.get("status") != "completed" or body["counts"].get("succeeded") != n:
        raise RuntimeError(f"Complete did not answer every document: {body.get('counts')}")
    written = h.aws.discarded_objects - 1  # less results.jsonl
    result_bytes = h.aws.discarded_bytes_by_prefix["results/"]
    mean_size = result_bytes // max(written, 1)
    results_bytes = h.aws.discarded_bytes_by_prefix[raw_results]
    calls = h.aws.calls()
    assert h.aws.discarded_sample is not None
    content_type, metadata = h.aws.discarded_sample
    # The baseline writes as many objects, of the same keys, mean size, type and metadata.
    s3 = h.s3_client()
    payload = b"x" * mean_size
    keys = [f"results/default/bench/doc-{i:06d}.txt.md" for i in range(n)]

    def put(key: str) -> None:
        s3.put_object(Bucket=h.bucket, Key=key, Body=payload, ContentType=content_type, Metadata=metadata)

    baseline, _ = measure(lambda: in_parallel(h.concurrency, put, keys))
    return {
        "n": n,
        "concurrency": h.concurrency,
        "batchdrop": measured.as_dict(),
        "baseline": baseline.as_dict(),
        "objects_written": written,
        "mean_object_bytes": mean_size,
        "results_jsonl_mib": round(results_bytes / 2**20, 1),
        "calls": calls,
    }


def bench_cpu(spec: dict[str, Any]) -> dict[str, Any]:
    """CPU per document of Submit and Complete, one thread, no latency, against the floor of
    parsing and serialising the same JSON and against a bare boto3 call to the same stand-in."""
    spec = {**spec, "concurrency": 1, "s3_get": 0, "s3_put": 0, "dynamodb": 0}
    h = Harness(spec)
    n = int(spec["n"])
    keys = h.seed_documents(n)
    submit, context = h.handler("SubmitFunction")
    warm_up_submit(h, submit, context)
    events = list(sqs_windows(h.bucket, keys))
    measured_submit, _ = measure(lambda: [submit(event, context) for event in events])
    s3 = h.s3_client()
    bare, _ = measure(lambda: [s3.get_object(Bucket=h.bucket, Key=key)["Body"].read() for key in keys])
    complete, context = h.handler("CompleteFunction")
    warm_up_complete(h, complete, context)
    job_id, batch_id = _ended_job(h, n)
    h.aws.discard_prefixes = ("results/",)
    event = _batch_ended(job_id, batch_id)
    measured_complete, _ = measure(lambda: complete(event, context))

    # The floor: the JSON each document passes through, parsed and serialised once.
    bodies = [record["body"] for event in events for record in event["Records"]]
    answers = [
        json.dumps(
            {
                "custom_id": f"doc-{i:06d}",
                "result": {
                    "type": "succeeded",
                    "message": {
                        "id": "msg",
                        "type": "message",
                        "role": "assistant",
                        "model": "claude",
                        "content": [{"type": "text", "text": DOCUMENT.format(i=i)}],
                        "stop_reason": "end_turn",
                        "usage": {"input_tokens": 60, "output_tokens": 40},
                    },
                },
            }
        )
        for i in range(n)
    ]

    def floor_submit() -> None:
        for i, raw in enumerate(bodies):
            json.loads(raw)
            json.dumps({"custom_id": f"doc-{i:06d}", "params": {"messages": [{"content": DOCUMENT}]}})

    def floor_complete() -> None:
        for raw in answers:
            json.dumps(json.loads(raw))

    floor_s, _ = measure(floor_submit)
    floor_c, _ = measure(floor_complete)
    per_doc = 1e3 / n
    return {
        "n": n,
        "submit_cpu_ms": round(measured_submit.cpu_seconds * per_doc, 4),
        "complete_cpu_ms": round(measured_complete.cpu_seconds * per_doc, 4),
        "boto3_get_cpu_ms": round(bare.cpu_seconds * per_doc, 4),
        "floor_submit_ms": round(floor_s.cpu_seconds * per_doc, 4),
        "floor_complete_ms": round(floor_c.cpu_seconds * per_doc, 4),
    }


def bench_poll(spec: dict[str, Any]) -> dict[str, Any]:
    """One Poll tick over K open jobs whose batches are running, the emulator answering slowly."""
    import urllib.request

    import boto3

    from batchdrop.adapters.dynamodb_jobs import JobStore
    from batchdrop.domain.keys import manifest_key

    h = Harness(spec)
    k = int(spec["open_jobs"])
    emulator = str(h.spec["emulator"])
    jobs = JobStore(boto3.resource("dynamodb").Table(h.names["JobsTable"]))
    now = datetime.now(UTC)
    if k:  # with no open job, nothing here may load the SDK: the tick is checked for it
        import anthropic

        client = anthropic.Anthropic(api_key="bench", base_url=emulator, max_retries=0)
        messages = [{"role": "user", "content": "Hi"}]
        request = {
            "custom_id": "one",
            "params": {"model": "claude-haiku-4-5", "max_tokens": 8, "messages": messages},
        }
        for i in range(k):
            batch = client.messages.batches.create(requests=[request])  # type: ignore[list-item]
            job_id = f"20261125T120000Z-{i:08x}"
            lease = timedelta(minutes=20)
            jobs.record_intent(job_id, manifest_key(job_id), now, lease, documents=1, requests=1, rejected=0)
            created, expires = batch.created_at.isoformat(), batch.expires_at.isoformat()
            jobs.record_submitted(job_id, batch.id, expires, created, now)

    def emulator_calls() -> dict[str, int]:
        with urllib.request.urlopen(f"{emulator}/_emulator/stats") as answer:  # noqa: S310 - loopback
            calls: dict[str, int] = json.loads(answer.read())["calls"]
            return calls

    handler, context = h.handler("PollFunction")
    h.aws.latency = h.latency
    before = emulator_calls()
    h.aws.reset_calls()
    event = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    measured, report = measure(lambda: handler(event, context))
    api_calls = {name: count - before.get(name, 0) for name, count in emulator_calls().items()}
    return {
        "open_jobs": k,
        "seen": report["open_jobs"],
        "seconds": round(measured.seconds, 4),
        "aws_calls": h.aws.calls(),
        "api_calls": {name: count for name, count in api_calls.items() if count},
        "anthropic_imported": "anthropic" in sys.modules,
    }


# What the cold-start baseline creates: the three Powertools objects every handler creates
# (batchdrop.observability), so the ratio is the handler's own cost over the Powertools a
# Lambda function pays anyway, Tracer's X-Ray SDK included.
POWERTOOLS_BASELINE = (
    "from aws_lambda_powertools import Logger, Metrics, Tracer; Logger(); Metrics(); Tracer()"
)
# What loads when first needed, never at a handler's cold start: the SDK, the converters' format
# libraries, the profile schema (pydantic), jsonschema and yaml.
LAZY_MODULES = (
    "anthropic",
    "pypdf",
    "docx",
    "imagesize",
    "charset_normalizer",
    "pydantic",
    "jsonschema",
    "yaml",
)
# A fresh interpreter times one import and says which of LAZY_MODULES came with it. Nothing
# else is loaded before it: what the handler needs is all in the figure.
_TIMED_IMPORT = """
import json, sys, time
lazy = {lazy!r}
sys.path.insert(0, {code_dir!r})
before = set(sys.modules)
started, cpu_started = time.perf_counter(), time.process_time()
{statement}
seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
loaded = sorted(set(lazy) & (set(sys.modules) - before))
print(json.dumps({{"seconds": seconds, "cpu_seconds": cpu_seconds, "loaded": loaded}}))
"""


def bench_import(spec: dict[str, Any]) -> dict[str, Any]:
    """Import time of one handler module (what a cold start pays before the first event), or of
    the Powertools baseline, in a new interpreter started for it: wall-clock seconds, and the
    CPU seconds of that interpreter (what the import costs when no other process competes).

    ``pycache`` (a directory) holds the compiled bytecode, as a deployed package has it (pip
    compiles on install); without it every module is compiled from source on each import.
    """
    import subprocess

    target = spec["target"]
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    if spec.get("pycache"):
        env["PYTHONPYCACHEPREFIX"] = spec["pycache"]
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    if target == "powertools":
        code_dir, statement = "", POWERTOOLS_BASELINE
    else:
        from batchdrop_local.provision import plan

        resources, _, _ = plan(
            "http://stand-in.invalid", parameters={"AnthropicBaseUrl": "http://127.0.0.1:9"}
        )
        fn = resources.functions[target]
        env.update(fn.environment)
        # The CodeUri first on sys.path, as /var/task is in Lambda; the module as Lambda imports it.
        code_dir, statement = str(fn.code_dir), f"import {fn.handler.rpartition('.')[0]}"
    code = _TIMED_IMPORT.format(lazy=LAZY_MODULES, code_dir=code_dir, statement=statement)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing {target} failed:\n{done.stderr[-4000:]}")
    timed = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "target": target,
        "seconds": round(timed["seconds"], 4),
        "cpu_seconds": round(timed["cpu_seconds"], 4),
        "anthropic": "anthropic" in timed["loaded"],
        "lazy_loaded": timed["loaded"],
    }


BENCHES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "submit": bench_submit,
    "complete": bench_complete,
    "cpu": bench_cpu,
    "poll": bench_poll,
    "import": bench_import,
}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    result = BENCHES[spec["bench"]](spec)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
