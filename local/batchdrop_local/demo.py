"""``make demo``: the whole pipeline on the sample documents, on this machine, then stop."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from batchdrop_local.stack import LocalStack, LocalStackOptions


def _fmt_money(value: float | None, currency: str) -> str:
    if value is None:
        return "unknown"
    return f"{value:.6f} {currency}" if value < 0.01 else f"{value:.4f} {currency}"


def result_prefix_for(key: str) -> str:
    """What every object that closes a document starts with: ``results/<profile>/<path>``.

    A document's answer (``.md``/``.json``) or error (``.error.json``) follows directly; a
    ``.jsonl`` request list's answers lie below it (``/<id>.md``).
    """
    rest = key.removeprefix("inbox/")
    return f"results/{rest if '/' in rest else 'default/' + rest}"


def is_done(key: str, present: set[str]) -> bool:
    prefix = result_prefix_for(key)
    if key.endswith(".jsonl"):
        return any(k.startswith(prefix + "/") for k in present) or f"{prefix}.error.json" in present
    return any(f"{prefix}{suffix}" in present for suffix in (".md", ".json", ".error.json"))


def upload_samples(stack: LocalStack, samples: Path, bucket: str) -> list[str]:
    """Profiles first (Submit reads them when the documents arrive), then the documents."""
    s3 = stack.client("s3")
    profiles = sorted(p for p in (samples / "profiles").glob("*") if p.is_file())
    files = sorted(p for p in (samples / "inbox").rglob("*") if p.is_file())
    if not files:
        raise SystemExit(f"no sample documents under {samples / 'inbox'}")
    if profiles:
        print(f"Uploading {len(profiles)} profiles to s3://{bucket}/profiles/ ...")
        for path in profiles:
            s3.upload_file(str(path), bucket, f"profiles/{path.name}")
            print(f"  put s3://{bucket}/profiles/{path.name}")
    print(f"Uploading {len(files)} documents to s3://{bucket}/inbox/ ...")
    keys = []
    for path in files:
        key = path.relative_to(samples).as_posix()
        s3.upload_file(str(path), bucket, key)
        keys.append(key)
        print(f"  put s3://{bucket}/{key}")
    return keys


def wait_for_results(stack: LocalStack, bucket: str, keys: list[str], timeout: float) -> None:
    """Show progress until every uploaded document has its answers or its error."""
    s3 = stack.client("s3")
    table = stack.client("dynamodb")
    info = stack.info()
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        present: set[str] = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="results/"):
            present.update(obj["Key"] for obj in page.get("Contents", []))
        done = sum(1 for key in keys if is_done(key, present))
        items = table.scan(TableName=info["jobs_table"]).get("Items", [])
        jobs = [item for item in items if "status" in item]  # not the claims of documents
        states = ", ".join(
            f"job {j['job_id']['S']} {j['status']['S']}"
            + (f" ({_counts(j)})" if "request_counts" in j and j["status"]["S"] == "submitted" else "")
            for j in sorted(jobs, key=lambda j: j["job_id"]["S"])
        )
        line = f"  [{done}/{len(keys)} documents done] {states or 'waiting for the ingest window'}"
        if line != last:
            print(line, flush=True)
            last = line
        if done == len(keys) and all(j["status"]["S"] == "completed" for j in jobs):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {done} of {len(keys)} documents finished within {timeout:.0f} s")
        time.sleep(0.5)


def _counts(item: dict[str, Any]) -> str:
    counts = {k: int(v["N"]) for k, v in item["request_counts"]["M"].items()}
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v)


def print_summary(summary: dict[str, Any]) -> None:
    counts = summary["counts"]
    cost = summary["cost"]
    tokens = summary["tokens"]
    print(f"\nJob {summary['job_id']}  (batch {summary['batch_id']})")
    by_profile = ", ".join(f"{name} {n}" for name, n in summary["documents_by_profile"].items())
    print(f"  documents        {summary['documents']}  ({by_profile})")
    print("  outcome          " + ", ".join(f"{k} {v}" for k, v in counts.items() if v or k == "succeeded"))
    print(f"  tokens           input {tokens['input']:,}, output {tokens['output']:,}")
    for model, usage in summary["tokens_by_model"].items():
        print(f"    {model:<26} input {usage['input']:,}, output {usage['output']:,}")
    print(f"  cost, batch      {_fmt_money(cost['batch'], cost['currency'])}")
    print(f"  cost, standard   {_fmt_money(cost['standard'], cost['currency'])}")
    share = f" ({cost['savings'] / cost['standard']:.0%})" if cost["standard"] else ""
    print(f"  saved            {_fmt_money(cost['savings'], cost['currency'])}{share}")
    if not cost["complete"]:
        print(f"  (no price known for {', '.join(cost['unknown_price_models'])}: not in the totals)")
    for error in summary["errors"][:5]:
        print(f"  error            {error['document']}: {error['type']} {error['message']}")


def copy_results(stack: LocalStack, bucket: str, output: Path) -> int:
    s3 = stack.client("s3")
    if output.exists():
        shutil.rmtree(output)
    copied = 0
    for prefix in ("results/", "jobs/"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                target = output / obj["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(target))
                copied += 1
    return copied


def run_demo(options: LocalStackOptions, samples: Path, output: Path, timeout: float) -> int:
    print("Starting the local stack (moto server, Anthropic emulator, the three functions) ...")
    started = time.monotonic()
    with LocalStack(options, report=lambda line: print(f"  > {line}", flush=True)) as stack:
        info = stack.info()
        bucket = info["bucket"]
        sqs = stack.client("sqs")
        sns = stack.client("sns")
        inbox = sqs.create_queue(QueueName="batchdrop-demo-notifications")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=info["topic_arn"], Protocol="sqs", Endpoint=inbox_arn)
        print(f"  AWS endpoint {info['endpoint']}, bucket {bucket}, emulator {info['anthropic_base_url']}")

        keys = upload_samples(stack, samples, bucket)
        print("Waiting for the batch (ingest window, emulated batch processing, poll, completion) ...")
        try:
            wait_for_results(stack, bucket, keys, timeout)
        except TimeoutError as exc:
            print(f"demo failed: {exc}; function logs are in {info['logs']}")
            return 1

        s3 = stack.client("s3")
        summaries = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="jobs/"):
            for obj in page.get("Contents", []):
                if obj["Key"].endswith("/summary.json"):
                    summaries.append(json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
        for summary in summaries:
            print_summary(summary)

        notifications = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10, WaitTimeSeconds=5)
        for message in notifications.get("Messages", []):
            envelope = json.loads(message["Body"])
            print(f"\nNotification on {info['topic_arn']}:\n  subject: {envelope.get('Subject')}")

        copied = copy_results(stack, bucket, output)
        print(f"\n{copied} objects (answers, errors, manifests, summaries) copied to {output.resolve()}/")
        answers = sorted(p for p in (output / "results").rglob("*") if p.is_file())
        for path in answers[:3]:
            print(f"  {path.relative_to(output)}")
        if len(answers) > 3:
            print(f"  ... and {len(answers) - 3} more")
        print("Stopping the local stack ...")
    print(f"Demo finished in {time.monotonic() - started:.0f} s.")
    return 0
