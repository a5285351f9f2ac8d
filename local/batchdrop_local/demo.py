"""``make demo``: the whole pipeline on the sample documents, on this machine, then stop."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from batchdrop.domain import keys as layout
from batchdrop.domain.job import JobRecord
from batchdrop.domain.keys import documents_key
from batchdrop.domain.lifecycle import JobState
from batchdrop.domain.profiles import BACKENDS
from batchdrop.domain.summary import Summary
from batchdrop_local.stack import LocalStack, LocalStackOptions
from batchdrop_ops.reading import read_summary
from batchdrop_ops.render.cost import cost_per_model
from batchdrop_ops.render.documents import render_documents
from batchdrop_ops.target import StackTarget

# Every job of the demo's stack: the stack is new for each demo.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
BEDROCK_MIN_RECORDS = LocalStackOptions.bedrock_min_records
"""Bedrock's default quota of records per batch inference job, which the demo lowers."""


def _fmt_money(value: float | None, currency: str) -> str:
    if value is None:
        return "unknown"
    return f"{value:.6f} {currency}" if value < 0.01 else f"{value:.4f} {currency}"


def result_prefix_for(key: str) -> str:
    """What every object that closes a document starts with: ``results/<profile>/<path>``.

    A document's answer (``.md``/``.json``) or error (``.error.json``) follows directly; a
    ``.jsonl`` request list's answers lie below it (``/<id>.md``).
    """
    doc = layout.parse_inbox_key(key)
    if doc is None:
        raise ValueError(f"{key} is not a document in {layout.INBOX_PREFIX}")
    return layout.result_base(doc, doc.profile)


def workflow_chains(samples: Path) -> dict[str, list[tuple[str, str]]]:
    """For each sample profile, its stages: ``[(profile, result suffix), ...]`` along ``next``."""
    specs: dict[str, dict[str, Any]] = {"default": {}}
    for path in sorted((samples / "profiles").glob("*")):
        text = path.read_text(encoding="utf-8")
        specs[path.stem] = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text) or {}
    chains = {}
    for name in specs:
        chain: list[tuple[str, str]] = []
        step: str | None = name
        while step is not None and step in specs and step not in [s for s, _ in chain]:
            chain.append((step, ".json" if specs[step].get("output_format") == "json" else ".md"))
            step = specs[step].get("next")
        chains[name] = chain
    return chains


def is_done(key: str, present: set[str], chains: dict[str, list[tuple[str, str]]] | None = None) -> bool:
    """Whether a document has its last answer (at the end of its workflow) or an error."""
    prefix = result_prefix_for(key)
    if key.endswith(".jsonl"):
        return any(k.startswith(prefix + "/") for k in present) or f"{prefix}{layout.ERROR_SUFFIX}" in present
    profile, _, path = prefix.removeprefix(layout.RESULTS_PREFIX).partition("/")
    stages = (chains or {}).get(profile) or [(profile, "")]
    suffix = ""
    for index, (stage, stage_suffix) in enumerate(stages):
        base = f"{layout.RESULTS_PREFIX}{stage}/{path}{suffix}"
        if f"{base}{layout.ERROR_SUFFIX}" in present:
            return True
        if index == len(stages) - 1:
            return any(f"{base}{s}" in present for s in (".md", ".json"))
        suffix += stage_suffix
    return False


def upload_samples(stack: LocalStack, samples: Path, bucket: str) -> list[str]:
    """Profiles and the schemas they name first (Submit reads them when the documents arrive),
    then the documents."""
    s3 = stack.client("s3")
    for path in sorted(p for p in (samples / "schemas").glob("*.json") if p.is_file()):
        s3.upload_file(str(path), bucket, f"schemas/{path.name}")
        print(f"  put s3://{bucket}/schemas/{path.name}")
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


def wait_for_results(
    stack: LocalStack, bucket: str, keys: list[str], timeout: float, chains: dict[str, list[tuple[str, str]]]
) -> None:
    """Show progress until every uploaded document has its answers or its error."""
    s3 = stack.client("s3")
    jobs_store = target_of(stack).jobs()
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        present: set[str] = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=layout.RESULTS_PREFIX):
            present.update(obj["Key"] for obj in page.get("Contents", []))
        done = sum(1 for key in keys if is_done(key, present, chains))
        jobs = sorted(jobs_store.created_since(_EPOCH), key=lambda job: job.job_id)
        states = ", ".join(f"job {job.job_id} {job.status}" + _counts(job) for job in jobs)
        line = f"  [{done}/{len(keys)} documents done] {states or 'waiting for the ingest window'}"
        if line != last:
            print(line, flush=True)
            last = line
        if done == len(keys) and all(job.status == JobState.COMPLETED for job in jobs):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {done} of {len(keys)} documents finished within {timeout:.0f} s")
        time.sleep(0.5)


def _counts(job: JobRecord) -> str:
    """A running batch's request counts, as the last poll saw them."""
    if job.status != JobState.SUBMITTED or not job.request_counts:
        return ""
    return " (" + ", ".join(f"{k} {v}" for k, v in job.request_counts.items() if v) + ")"


def target_of(stack: LocalStack) -> StackTarget:
    """The demo's stack as the operator commands reach it: through the functions' adapters."""
    info = stack.info()
    return StackTarget(info["bucket"], info["jobs_table"], info["endpoint"], info["region"])


def print_summary(summary: Summary, backend: str) -> None:
    """The job's summary, with the backend its batch ran on; its documents follow (render_documents)."""
    cost = summary.cost
    stage = f", workflow stage {summary.workflow.stage}" if summary.workflow else ""
    print(f"\nJob {summary.job_id}  (backend {backend}, batch {summary.batch_id}{stage})")
    by_profile = ", ".join(f"{name} {n}" for name, n in summary.documents_by_profile.items())
    print(f"  documents        {summary.documents}  ({by_profile})")
    print(
        "  outcome          "
        + ", ".join(f"{k} {v}" for k, v in summary.counts.items() if v or k == "succeeded")
    )
    print(
        f"  tokens           input {summary.tokens.input_tokens:,}, output {summary.tokens.output_tokens:,}"
    )
    width = max([26, *map(len, summary.tokens_by_model)])  # Bedrock's model ids are long
    for model, usage in summary.tokens_by_model.items():
        print(f"    {model:<{width}} input {usage.input_tokens:,}, output {usage.output_tokens:,}")
    print(f"  cost, batch      {_fmt_money(cost.batch, cost.currency)}")
    print(f"  cost, standard   {_fmt_money(cost.standard, cost.currency)}")
    share = f" ({cost.savings / cost.standard:.0%})" if cost.standard else ""
    print(f"  saved            {_fmt_money(cost.savings, cost.currency)}{share}")
    if not cost.complete:
        print(f"  (no price known for {', '.join(cost.unknown_price_models)}: not in the totals)")
    if cost.unverified_price_models:
        print(f"  (unverified price for {', '.join(cost.unverified_price_models)}: see prices.json)")
    for error in summary.errors[:5]:
        print(f"  error            {error['document']}: {error['type']} {error['message']}")
    for deprecated in summary.deprecated_models:
        profiles = ", ".join(deprecated["profiles"])
        print(
            f"  deprecated model {deprecated['model']} retires {deprecated['retires_at'][:10]} ({profiles})"
        )


def print_totals(summaries: list[Summary]) -> None:
    """Per stage of each workflow, and for everything: cost at batch price against standard."""
    currency = summaries[0].cost.currency if summaries else "USD"
    for summary in summaries:
        workflow = summary.workflow
        if workflow and workflow.final and workflow.stage > 1:
            total = workflow.total_cost.money
            print(
                f"\nWorkflow {workflow.id} ({workflow.stage} stages, "
                f"ended with job {summary.job_id}):\n"
                f"  total cost, batch {_fmt_money(total.batch, currency)}, "
                f"standard {_fmt_money(total.standard, currency)}, "
                f"saved {_fmt_money(total.savings, currency)}"
            )
    batch = sum(s.cost.batch for s in summaries)
    standard = sum(s.cost.standard for s in summaries)
    print(
        f"\nAll {len(summaries)} jobs: cost at batch price {_fmt_money(batch, currency)}, "
        f"at standard price {_fmt_money(standard, currency)}, saved {_fmt_money(standard - batch, currency)}"
        + (f" ({(standard - batch) / standard:.0%})" if standard else "")
    )


def backend_lines(completed: list[tuple[JobRecord, Summary]]) -> list[str]:
    """Per backend (each of BACKENDS, and any other a job names): its jobs, their documents,
    and their cost at batch and standard price, summed from the jobs' summaries."""
    names = list(BACKENDS) + sorted({job.backend for job, _ in completed} - set(BACKENDS))
    lines = []
    for name in names:
        summaries = [summary for job, summary in completed if job.backend == name]
        currency = summaries[0].cost.currency if summaries else "USD"
        batch = sum(s.cost.batch for s in summaries)
        standard = sum(s.cost.standard for s in summaries)
        jobs = f"{len(summaries)} job" + ("" if len(summaries) == 1 else "s")
        documents = _documents(sum(s.documents for s in summaries))
        unpriced = sorted({m for s in summaries for m in s.cost.unknown_price_models})
        lines.append(
            f"  {name:<10} {jobs}, {documents}: cost at batch price {_fmt_money(batch, currency)}, "
            f"at standard price {_fmt_money(standard, currency)}"
            + (f" (no price known for {', '.join(unpriced)})" if unpriced else "")
        )
    return lines


def _documents(count: int) -> str:
    return f"{count} document" + ("" if count == 1 else "s")


def read_summaries(target: StackTarget) -> list[tuple[JobRecord, Summary]]:
    """Every completed job with its summary, oldest job first, read as the operator commands read them."""
    store = target.store()
    completed = sorted(target.jobs().completed_since(_EPOCH), key=lambda job: job.created_at or "")
    found = []
    for job in completed:
        summary = read_summary(store, job.summary_key or layout.summary_key(job.job_id))
        if summary is not None:
            found.append((job, summary))
    return found


def read_rows(target: StackTarget, summary: Summary) -> list[dict[str, Any]]:
    """The job's documents table (jobs/<job-id>/documents.jsonl): one row per document."""
    key = summary.documents_key or documents_key(summary.job_id)
    return [json.loads(line) for line in target.store().read_lines(key) if line.strip()]


def print_cost_per_request(rows: list[dict[str, Any]]) -> None:
    """Every job's requests, each priced from its own usage (tiered models by its own prompt
    size), then summed per model and in all."""
    lines = cost_per_model(rows)
    if lines:
        print("\nCost of every request of every job, per model:" + "\n".join(lines))


def copy_results(stack: LocalStack, bucket: str, output: Path) -> int:
    s3 = stack.client("s3")
    if output.exists():
        shutil.rmtree(output)
    copied = 0
    for prefix in (layout.RESULTS_PREFIX, layout.JOBS_PREFIX):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                target = output / obj["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(target))
                copied += 1
    return copied


def with_bedrock_minimum(options: LocalStackOptions) -> LocalStackOptions:
    """The options with the functions' BEDROCK_MIN_RECORDS (Submit holds a Bedrock job smaller
    than it) set to the emulator's minimum, unless --function-env names it: both then let the
    demo's few documents through as one Bedrock job."""
    function_env = {"BEDROCK_MIN_RECORDS": str(options.bedrock_min_records), **options.function_env}
    return dataclasses.replace(options, function_env=function_env)


def run_demo(options: LocalStackOptions, samples: Path, output: Path, timeout: float) -> int:
    options = with_bedrock_minimum(options)
    print("Starting the local stack (moto server, Anthropic and Bedrock emulators, the three functions) ...")
    if options.bedrock_min_records < BEDROCK_MIN_RECORDS:
        print(
            f"  the demo lowers Bedrock's minimum job size to {options.bedrock_min_records}; real Bedrock "
            f"needs {BEDROCK_MIN_RECORDS} by default (the Bedrock emulator's minimum, and the functions' "
            f"BEDROCK_MIN_RECORDS={options.function_env['BEDROCK_MIN_RECORDS']})"
        )
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
        print(
            f"  AWS endpoint {info['endpoint']}, bucket {bucket}, emulator {info['anthropic_base_url']}, "
            f"Bedrock emulator {info['bedrock_url']}"
        )

        keys = upload_samples(stack, samples, bucket)
        chains = workflow_chains(samples)
        workflows = {
            name: " -> ".join(s for s, _ in chain) for name, chain in chains.items() if len(chain) > 1
        }
        for name, chain in workflows.items():
            print(f"  workflow: inbox/{name}/ runs {chain}, each stage its own batch")
        print(
            "Waiting for the batches (ingest window, emulated processing, poll, completion, next stages) ..."
        )
        try:
            wait_for_results(stack, bucket, keys, timeout, chains)
        except TimeoutError as exc:
            print(f"demo failed: {exc}; function logs are in {info['logs']}")
            return 1

        target = target_of(stack)
        completed = read_summaries(target)
        every_row: list[dict[str, Any]] = []
        for job, summary in completed:
            print_summary(summary, job.backend)
            rows = read_rows(target, summary)
            every_row += rows
            print("\n  " + render_documents(summary.job_id, rows).replace("\n", "\n  "))
        print_totals([summary for _, summary in completed])
        print("\nPer backend:\n" + "\n".join(backend_lines(completed)))
        print_cost_per_request(every_row)

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
