"""End to end: `batchdrop local up` in its own process, driven only with plain boto3, as a user
with `aws --endpoint-url` would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from batchdrop_local.cli import DEMO_BEDROCK_MIN_RECORDS
from batchdrop_local.demo import is_done, result_prefix_for, workflow_chains
from batchdrop_local.template import PROJECT_ROOT
from tests.e2e.harness import (
    DEADLINE,
    STOP_DEADLINE,
    client,
    processes_with_marker,
    running_local_stack,
)

pytestmark = pytest.mark.e2e

# 25 documents whose names exercise URL-encoding in S3 events: spaces, '+', '%', Unicode, nesting.
DOCUMENT_NAMES = [
    "plain.txt",
    "with space.txt",
    "plus+sign.md",
    "percent%20literal.txt",
    "100% done.md",
    "a+b c%d.txt",
    "café crème.txt",
    "日本語のメモ.md",
    "emoji 🚀 launch.txt",
    "Ärger über Öl.txt",
    "deeply/nested/folder/report.txt",
    "deeply/nested/folder/with space/notes.md",
    "q3/2026 forecast (draft).txt",
    "q3/revenue, final.md",
    "q3/tilde~and=equals.txt",
    "legal/contract #42.txt",
    "legal/contrat d'été.md",
    "ops/runbook&checklist.txt",
    "ops/[brackets] and {braces}.txt",
    "ops/semi;colon.txt",
    "misc/dots...in...name.txt",
    "misc/UPPER lower MiXeD.TXT",
    "misc/apostrophe's.md",
    "misc/at@sign.txt",
    "misc/very " + "long " * 30 + "name.txt",
]


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_local_stack(tmp_path_factory.mktemp("stack") / "state") as state:
        yield state


def _batchdrop(
    *args: str, timeout: float = DEADLINE, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the `batchdrop` command as a user would, from the project's root."""
    return subprocess.run(
        [sys.executable, "-m", "batchdrop_local.cli", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


def test_invoke_runs_a_handler_in_process_against_the_running_stack(local_stack: dict[str, Any]) -> None:
    # `make invoke` without a container runtime: the handler template.yaml names, in process
    result = _batchdrop(
        "invoke",
        "PollFunction",
        "events/scheduled.json",
        "--in-process",
        "--state-dir",
        str(local_stack["state_dir"]),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout[result.stdout.index("{\n") :])
    assert {"open_jobs", "ended", "in_progress", "adopted", "abandoned", "overdue", "uncollected"} <= set(
        report
    )
    assert "invoking poll.lambda_handler (PollFunction) in process" in result.stderr


def test_the_bedrock_emulator_runs_beside_the_stack_for_the_plain_sdk(local_stack: dict[str, Any]) -> None:
    # `batchdrop local up` wrote its URL in the state file; the SDK's bedrock client answers there
    url = local_stack["bedrock_url"]
    assert url.startswith("http://127.0.0.1:")
    bedrock = boto3.client(
        "bedrock",
        endpoint_url=url,
        region_name=local_stack["region"],
        aws_access_key_id="anything",
        aws_secret_access_key="anything",
    )
    assert "invocationJobSummaries" in bedrock.list_model_invocation_jobs()


def test_invoke_without_a_running_stack_says_how_to_start_one(tmp_path: Path) -> None:
    result = _batchdrop(
        "invoke", "PollFunction", "events/scheduled.json", "--in-process", "--state-dir", str(tmp_path)
    )
    assert result.returncode == 2
    assert "make local-up" in result.stderr


def test_documents_dropped_in_the_bucket_come_back_as_results(local_stack: dict[str, Any]) -> None:
    s3, sqs, sns = (client(local_stack, s) for s in ("s3", "sqs", "sns"))
    bucket = local_stack["bucket"]
    # Given a subscriber to the notification topic
    queue = sqs.create_queue(QueueName="e2e-notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=local_stack["topic_arn"], Protocol="sqs", Endpoint=queue_arn)

    # When 25 documents are uploaded under inbox/default/ with plain boto3
    for index, name in enumerate(DOCUMENT_NAMES):
        s3.put_object(
            Bucket=bucket,
            Key=f"inbox/default/{name}",
            Body=f"Document {index} is called {name}. It reports {index * 7} widgets sold.".encode(),
        )

    # Then each gets exactly one answer under results/, with its full name kept
    expected = {f"results/default/{name}.md" for name in DOCUMENT_NAMES}
    deadline = time.monotonic() + DEADLINE
    found: set[str] = set()
    summaries: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="results/")
        found = {obj["Key"] for page in pages for obj in page.get("Contents", [])}
        summaries = [
            json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="jobs/")
            for obj in page.get("Contents", [])
            if obj["Key"].endswith("/summary.json")
        ]
        if found >= expected and sum(summary["documents"] for summary in summaries) >= 25:
            break
        time.sleep(1)
    assert found == expected, (
        f"missing: {sorted(expected - found)[:5]}, unexpected: {sorted(found - expected)[:5]}"
    )
    for index, name in enumerate(DOCUMENT_NAMES):
        answer = s3.get_object(Bucket=bucket, Key=f"results/default/{name}.md")["Body"].read().decode()
        assert f"{index * 7} widgets" in answer or name.split("/")[-1] in answer

    # and the job summaries account for all 25, each once. The uploads normally fall in one
    # ingest window, so one job; on a loaded machine 25 sequential uploads may outlast the
    # 10 s window and make two, which is still right (the window's own rule is tested apart).
    assert summaries, "no job summary was written"
    assert sum(summary["documents"] for summary in summaries) == 25
    assert sum(summary["counts"]["succeeded"] for summary in summaries) == 25
    assert all(summary["cost"]["batch"] > 0 for summary in summaries)

    # and exactly one notification per job reached the subscriber: one each arrives (Complete
    # publishes it after the summary), then no more
    messages: list[dict[str, Any]] = []

    def receive(wait: int) -> list[dict[str, Any]]:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
        for message in batch.get("Messages", []):
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return list(batch.get("Messages", []))

    deadline = time.monotonic() + DEADLINE
    while len(messages) < len(summaries) and time.monotonic() < deadline:
        messages += receive(wait=1)
    while batch := receive(wait=2):
        messages += batch
    notifications = [json.loads(json.loads(message["Body"])["Message"]) for message in messages]
    assert sorted(n["job_id"] for n in notifications) == sorted(s["job_id"] for s in summaries)
    by_job = {s["job_id"]: s for s in summaries}
    for notification in notifications:
        assert notification["counts"]["succeeded"] == by_job[notification["job_id"]]["counts"]["succeeded"]

    # and the stack stops cleanly on Ctrl-C, leaving no process behind
    process: subprocess.Popen[str] = local_stack["process"]
    process.send_signal(signal.SIGINT)
    assert process.wait(STOP_DEADLINE) == 0
    output = process.stdout.read() if process.stdout else ""
    assert "batchdrop local stack is up" in output and "stopped." in output
    assert processes_with_marker(local_stack["marker"]) == []


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`batchdrop demo` run once, as `make demo` runs it: its output, and the results it copied."""
    tmp_path = tmp_path_factory.mktemp("demo")
    marker = f"demo-{os.getpid()}"
    output_dir = tmp_path / "results"
    result = _batchdrop(
        "demo",
        "--output",
        str(output_dir),
        "--state-dir",
        str(tmp_path / "state"),
        "--timeout",
        str(DEADLINE),  # the demo's own wait for the results
        timeout=2 * DEADLINE,  # and the stack's start and stop around it
        env={**os.environ, "BATCHDROP_E2E_MARKER": marker},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    copied = {p.relative_to(output_dir).as_posix() for p in output_dir.rglob("*") if p.is_file()}
    return {"result": result, "output_dir": output_dir, "copied": copied, "marker": marker}


def test_demo_runs_the_pipeline_on_the_samples_and_leaves_nothing_running(demo: dict[str, Any]) -> None:
    result, output_dir, copied = demo["result"], demo["output_dir"], demo["copied"]
    samples = sorted(
        p.relative_to(PROJECT_ROOT / "samples").as_posix()
        for p in (PROJECT_ROOT / "samples" / "inbox").rglob("*")
        if p.is_file()
    )
    assert f"[{len(samples)}/{len(samples)} documents done]" in result.stdout
    for label in ("cost, batch", "cost, standard", "saved", "Notification on", "copied to"):
        assert label in result.stdout
    # every sample has its answer (or, for a request list, one per line), none has an error
    assert [
        key for key in samples if not is_done(key, copied, workflow_chains(PROJECT_ROOT / "samples"))
    ] == []
    # the summarize folder is a two-stage workflow: its headlines are the final answers
    assert "results/headline/reports/q3 revenue summary.txt.md.md" in copied
    assert "Workflow " in result.stdout and " jobs: cost at batch price " in result.stdout
    assert not [key for key in copied if key.endswith(".error.json")]
    assert "results/extract/contracts/service agreement 2026.pdf.json" in copied
    assert len(list((output_dir / "jobs").glob("*/summary.json"))) >= 2  # one job per stage at least
    assert processes_with_marker(demo["marker"]) == []


def _sample_backends() -> dict[str, str]:
    """Each sample profile's backend as its file says (none named: the stack's default, anthropic)."""
    backends = {}
    for path in (PROJECT_ROOT / "samples" / "profiles").glob("*"):
        text = path.read_text(encoding="utf-8")
        spec = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        backends[path.stem] = spec.get("backend") or "anthropic"
    return backends


def test_demo_runs_a_profile_on_bedrock_and_prints_the_cost_of_each_backend(demo: dict[str, Any]) -> None:
    result, output_dir, copied = demo["result"], demo["output_dir"], demo["copied"]
    stdout = result.stdout
    # Given the samples' Bedrock profile and its documents
    backends = _sample_backends()
    on_bedrock = sorted(name for name, backend in backends.items() if backend == "bedrock")
    assert on_bedrock, "no sample profile runs on Bedrock"
    documents = [
        p.relative_to(PROJECT_ROOT / "samples").as_posix()
        for name in on_bedrock
        for p in (PROJECT_ROOT / "samples" / "inbox" / name).rglob("*")
        if p.is_file()
    ]
    assert documents and len(documents) < 100  # fewer than real Bedrock's minimum job size
    # the demo says it lowered the minimum, for the emulator and the functions alike
    assert (
        f"the demo lowers Bedrock's minimum job size to {DEMO_BEDROCK_MIN_RECORDS}; "
        "real Bedrock needs 100 by default"
    ) in stdout
    assert f"BEDROCK_MIN_RECORDS={DEMO_BEDROCK_MIN_RECORDS}" in stdout
    # then every one of them has its answer, none an error
    for key in documents:
        prefix = result_prefix_for(key)
        assert f"{prefix}.md" in copied, key
        assert f"{prefix}.error.json" not in copied, key

    # and each job's summary line names its backend; a Bedrock job's batch is a model invocation job
    totals: dict[str, dict[str, float]] = {}
    for path in sorted((output_dir / "jobs").glob("*/summary.json")):
        summary = json.loads(path.read_text())
        (backend,) = {backends.get(profile, "anthropic") for profile in summary["documents_by_profile"]}
        assert f"Job {summary['job_id']}  (backend {backend}, batch {summary['batch_id']}" in stdout
        if backend == "bedrock":
            assert summary["batch_id"].startswith("arn:aws:bedrock:us-east-1:")
            assert summary["counts"]["succeeded"] == summary["documents"]
        total = totals.setdefault(backend, {"jobs": 0, "documents": 0, "batch": 0.0, "standard": 0.0})
        total["jobs"] += 1
        total["documents"] += summary["documents"]
        total["batch"] += summary["cost"]["batch"]
        total["standard"] += summary["cost"]["standard"]
    assert set(totals) == {"anthropic", "bedrock"}
    assert totals["bedrock"]["documents"] == len(documents)

    # and the per-backend lines are the sums of those jobs' summaries
    block = stdout[stdout.index("\nPer backend:\n") :]
    for backend, total in totals.items():
        line = re.search(
            rf"^  {backend} +(\d+) jobs?, (\d+) documents?: cost at batch price ([0-9.]+) USD, "
            r"at standard price ([0-9.]+) USD$",
            block,
            re.MULTILINE,
        )
        assert line is not None, block
        jobs, docs, batch, standard = line.groups()
        assert (int(jobs), int(docs)) == (total["jobs"], total["documents"])
        # printed to 6 decimals below 0.01 USD, else to 4
        for printed, summed in ((batch, total["batch"]), (standard, total["standard"])):
            assert float(printed) == pytest.approx(summed, abs=0.5 * 10 ** -len(printed.split(".")[1]))
        assert total["batch"] > 0
