"""``batchdrop status``, ``batchdrop job JOB_ID``, ``batchdrop cost`` and ``batchdrop documents JOB_ID``:
what batchdrop is doing and what it has cost, read from the jobs table (and, for one job, its
manifest, summary and documents table in the bucket).

Open jobs come from one Query of the sparse ``open-jobs`` index. Recent jobs (``status``) and
completed ones (``cost``) come from a Scan with a filter: a Scan reads the whole table, job items
and the claims of document versions alike, and is billed for all it reads. These commands are for
an operator now and then, never for a hot path.

The stack is found as ``batchdrop cancel`` finds it: the running local stack's
``.local-stack/state.json``, or a deployed stack's Outputs (``--stack-name``).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from batchdrop.adapters.dynamodb_claims import BATCH_PREFIX, CLAIM_PREFIX
from batchdrop.adapters.dynamodb_jobs import OPEN, OPEN_INDEX
from batchdrop.domain.keys import documents_key, manifest_key, summary_key
from batchdrop.domain.lifecycle import ABANDONED, COMPLETED, COMPLETING, ENDED, ENDING
from batchdrop.domain.pricing import PriceTable
from batchdrop.domain.times import iso

DEFAULT_STATUS_SINCE = "7d"
DEFAULT_COST_SINCE = "30d"
DEFAULT_INTERVAL = 5.0
# A job's documents listed one by one; the rest are counted.
LIST_LIMIT = 50
# Documents whose result is looked up with head_object when the summary cannot tell.
HEAD_LIMIT = 50
BAR_WIDTH = 20
REQUEST_OUTCOMES = ("succeeded", "errored", "canceled", "expired")
FINAL_STATUSES = (COMPLETED, ABANDONED)
# Still to be collected: the batch has ended (the API's counts are final), its results are not written.
COLLECTING = (ENDING, ENDED, COMPLETING)


class ReportError(Exception):
    """A problem to tell the operator in one line; the command exits with status 2."""


# --- finding the stack ------------------------------------------------------------------------


@dataclass(frozen=True)
class StackTarget:
    """Where a batchdrop stack keeps its jobs, and how to reach it."""

    bucket: str
    jobs_table: str
    endpoint: str | None = None  # the local stack's moto endpoint; None: AWS itself
    region: str | None = None
    description: str = ""

    def _session_args(self) -> dict[str, Any]:
        if not self.endpoint:
            return {}
        return {
            "endpoint_url": self.endpoint,
            "region_name": self.region,
            "aws_access_key_id": "local",
            "aws_secret_access_key": "local",  # moto accepts any credentials
            # A stopped local stack should say so at once, not after minutes of retries.
            "config": Config(connect_timeout=2, read_timeout=30, retries={"max_attempts": 2}),
        }

    def client(self, service: str) -> Any:
        return boto3.client(service, **self._session_args())  # type: ignore[call-overload]

    def table(self) -> Any:
        return boto3.resource("dynamodb", **self._session_args()).Table(self.jobs_table)


def resolve_stack(*, stack_name: str | None, state_dir: Path) -> StackTarget:
    """The deployed stack named ``stack_name`` (its Outputs), else the local stack of ``state_dir``."""
    if stack_name:
        return deployed_stack(stack_name)
    state_file = state_dir / "state.json"
    if not state_file.exists():
        raise ReportError(
            f"no local stack is running ({state_file} does not exist): start it with `make local-up`, "
            "or name a deployed stack with --stack-name"
        )
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read {state_file}: {exc}") from exc
    missing = [key for key in ("endpoint", "region", "bucket", "jobs_table") if not state.get(key)]
    if missing:
        raise ReportError(f"{state_file} has no {', '.join(missing)}: restart the local stack")
    return StackTarget(
        bucket=str(state["bucket"]),
        jobs_table=str(state["jobs_table"]),
        endpoint=str(state["endpoint"]),
        region=str(state["region"]),
        description=f"the local stack at {state['endpoint']}",
    )


def deployed_stack(stack_name: str) -> StackTarget:
    """The bucket and jobs table of a deployed stack, from its ``BucketName`` and ``JobsTableName``
    Outputs (AWS credentials and region from the environment)."""
    try:
        stacks = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise ReportError(f"stack {stack_name}: {exc.response['Error'].get('Message', exc)}") from exc
    except BotoCoreError as exc:
        raise ReportError(f"stack {stack_name}: {exc}") from exc
    outputs = {o["OutputKey"]: str(o["OutputValue"]) for o in stacks[0].get("Outputs", [])}
    missing = [name for name in ("BucketName", "JobsTableName") if name not in outputs]
    if missing:
        raise ReportError(
            f"stack {stack_name} has no {' or '.join(missing)} output: is it a batchdrop stack?"
        )
    return StackTarget(
        bucket=outputs["BucketName"],
        jobs_table=outputs["JobsTableName"],
        description=f"stack {stack_name}",
    )


# --- reading jobs -----------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: whole ones become int, others float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def is_claim(job_id: str) -> bool:
    """Items that claim a document version or a batch share the table; they are not jobs."""
    return job_id.startswith((CLAIM_PREFIX, BATCH_PREFIX))


def is_job(item: dict[str, Any]) -> bool:
    return "status" in item and not is_claim(str(item.get("job_id", "")))


class JobsReader:
    """The jobs table and the bucket of one stack, read the cheap way where there is one."""

    def __init__(self, target: StackTarget) -> None:
        self.target = target
        self._table = target.table()
        self._s3: Any = None

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = self.target.client("s3")
        return self._s3

    def _pages(self, call: Callable[..., Any], **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = call(**kwargs)
            for item in page.get("Items", []):
                item = plain(item)
                if is_job(item):
                    yield item
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def open_jobs(self) -> list[dict[str, Any]]:
        """Jobs not yet completed, oldest first: one Query of the sparse open-jobs index."""
        return list(
            self._pages(
                self._table.query, IndexName=OPEN_INDEX, KeyConditionExpression=Key("open_flag").eq(OPEN)
            )
        )

    def created_since(self, since: str) -> list[dict[str, Any]]:
        """Jobs created at or after ``since`` (ISO, compared as strings), newest first. A Scan."""
        jobs = self._pages(self._table.scan, FilterExpression=Attr("created_at").gte(since))
        return sorted(jobs, key=lambda j: str(j.get("created_at", "")), reverse=True)

    def completed_since(self, since: str) -> list[dict[str, Any]]:
        """Jobs completed at or after ``since``, oldest first. A Scan."""
        jobs = self._pages(
            self._table.scan,
            FilterExpression=Attr("status").eq(COMPLETED) & Attr("completed_at").gte(since),
        )
        return sorted(jobs, key=lambda j: str(j.get("completed_at", "")))

    def job(self, job_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def _get(self, key: str) -> Any | None:
        try:
            return self.s3.get_object(Bucket=self.target.bucket, Key=key)["Body"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise

    def json_object(self, key: str) -> dict[str, Any] | None:
        body = self._get(key)
        if body is None:
            return None
        data: dict[str, Any] = json.loads(body.read())
        return data

    def jsonl(self, key: str) -> Iterator[dict[str, Any]] | None:
        body = self._get(key)
        if body is None:
            return None
        return (json.loads(line) for line in body.iter_lines() if line.strip())

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.target.bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True


# --- formatting -------------------------------------------------------------------------------


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_DURATION = re.compile(r"(\d+)\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """``7d``, ``12h``, ``2w``, ``30m`` before now, or a date (``2026-11-01``, midnight UTC) or time."""
    spec = text.strip()
    match = _DURATION.fullmatch(spec)
    try:
        if match:
            return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        if re.match(r"\d{4}-\d{2}-\d{2}", spec):
            return parse_time(spec).astimezone(UTC)
    except (ValueError, OverflowError):
        pass
    raise ReportError(
        f"bad --since {text!r}: give a duration before now such as 7d, 12h, 2w or 30m, "
        "or a date such as 2026-11-01 (UTC)"
    )


def humanise_age(since: str | None, now: datetime) -> str:
    """``45s``, ``3m``, ``2h``, ``4d``: how long ago ``since`` was."""
    if not since:
        return "-"
    seconds = max(0.0, (now - parse_time(since)).total_seconds())
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def money(value: float) -> str:
    """``$1.2500``; a fraction of a cent keeps its significant digits: ``$0.000189``."""
    return f"${value:,.4f}" if value == 0 or abs(value) >= 0.01 else f"${value:.6f}".rstrip("0")


def cost_text(value: float | None, complete: bool) -> str:
    """A cost, never a zero for what has no known price: ``$0.1200 + unknown``, or ``unknown``."""
    if value is None:
        return "-"
    if complete:
        return money(value)
    return f"{money(value)} + unknown" if value else "unknown"


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """``[#######.....] 7/12``"""
    filled = round(width * done / total) if total > 0 else 0
    filled = max(0, min(width, filled))
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], indent: str = "") -> list[str]:
    """Columns left-aligned, two spaces apart."""
    lines = [list(headers), *[list(row) for row in rows]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return [
        indent + "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]


def _number(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


def request_progress(item: dict[str, Any]) -> tuple[int, int]:
    """Requests the API has finished with, of all the job's requests."""
    counts = item.get("request_counts") or {}
    total = _number(item.get("requests")) or sum(_number(v) for v in counts.values())
    if item.get("status") in COLLECTING:
        return total, total  # the batch has ended; the last poll's counts may predate it
    return sum(_number(counts.get(k)) for k in REQUEST_OUTCOMES), total


def _nonzero(counts: dict[str, Any], names: Iterable[str]) -> str:
    return ", ".join(f"{_number(counts.get(n))} {n}" for n in names if _number(counts.get(n)))


def progress_text(item: dict[str, Any]) -> str:
    status = item.get("status")
    if status == ABANDONED:
        return "-"
    if status == COMPLETED:
        counts = item.get("result_counts") or {}
        documents = sum(_number(v) for v in counts.values())
        others = _nonzero(counts, [k for k in counts if k != "succeeded"])
        text = f"{_number(counts.get('succeeded'))}/{documents} succeeded"
        return f"{text} ({others})" if others else text
    done, total = request_progress(item)
    if status in COLLECTING:
        return f"{done}/{total} (batch ended)"
    detail = _nonzero(item.get("request_counts") or {}, REQUEST_OUTCOMES)
    return f"{done}/{total} ({detail})" if detail else f"{done}/{total}"


def _cost_complete(item: dict[str, Any]) -> bool:
    """Whether the job's recorded cost covers all of it: no cost recorded is no cost known.
    (Jobs completed before ``cost_complete`` was recorded count as complete.)"""
    return item.get("cost_batch") is not None and bool(item.get("cost_complete", True))


def _status_text(item: dict[str, Any]) -> str:
    status = str(item.get("status"))
    if item.get("cancel_requested_at") and status not in FINAL_STATUSES:
        return f"{status} (cancel requested)"
    return status


# --- batchdrop status -------------------------------------------------------------------------

STATUS_HEADERS = ("JOB", "PROFILES", "STATUS", "PROGRESS", "AGE", "COST", "AT STANDARD", "ATTEMPT")


def status_row(item: dict[str, Any], now: datetime) -> tuple[str, ...]:
    completed = item.get("status") == COMPLETED
    complete = _cost_complete(item)
    return (
        str(item["job_id"]),
        ",".join(item.get("profiles") or []) or "-",
        _status_text(item),
        progress_text(item),
        humanise_age(item.get("created_at"), now),
        cost_text(item.get("cost_batch"), complete) if completed else "-",
        cost_text(item.get("cost_standard"), complete) if completed else "-",
        str(item.get("attempt", 1)),
    )


def render_status(
    open_jobs: list[dict[str, Any]],
    recent: list[dict[str, Any]],
    since: datetime,
    now: datetime,
    bars: bool = False,
) -> str:
    lines = [f"Open jobs: {len(open_jobs)}"]
    if open_jobs:
        lines += table(STATUS_HEADERS, (status_row(j, now) for j in open_jobs))
    if bars and open_jobs:
        lines.append("")
        width = max(len(str(j["job_id"])) for j in open_jobs)
        lines += [f"{str(j['job_id']).ljust(width)}  {progress_bar(*request_progress(j))}" for j in open_jobs]
    open_ids = {j["job_id"] for j in open_jobs}
    others = [j for j in recent if j["job_id"] not in open_ids]
    lines += ["", f"Other jobs created since {iso(since)}: {len(others)}"]
    if others:
        lines += table(STATUS_HEADERS, (status_row(j, now) for j in others))
    return "\n".join(lines)


def status_frame(reader: JobsReader, since: datetime, bars: bool = False) -> tuple[str, bool]:
    """The status as text, and whether any job is still open."""
    now = datetime.now(UTC)
    open_jobs = reader.open_jobs()
    recent = reader.created_since(iso(since))
    return render_status(open_jobs, recent, since, now, bars=bars), bool(open_jobs)


# --- batchdrop job ----------------------------------------------------------------------------


@dataclass
class Manifest:
    """The first LIST_LIMIT lines of a job's manifest, and counts over all of it."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    by_profile: Counter[str] = field(default_factory=Counter)
    found: bool = False

    @classmethod
    def read(cls, reader: JobsReader, key: str) -> Manifest:
        lines = reader.jsonl(key)
        manifest = cls(found=lines is not None)
        for entry in lines or ():
            manifest.total += 1
            manifest.by_profile[str(entry.get("profile"))] += 1
            if len(manifest.entries) < LIST_LIMIT:
                manifest.entries.append(entry)
        return manifest


def _source(entry: dict[str, Any]) -> str:
    source = str(entry.get("source_key", "?"))
    return f"{source}#{entry['item']}" if entry.get("item") else source


def document_results(
    reader: JobsReader, item: dict[str, Any], manifest: Manifest, summary: dict[str, Any] | None
) -> list[str]:
    """Where each listed document's answer or error is.

    Cheap first: the summary names every failure (unless it had too many to list) and the
    follow-up job's manifest names the retried ones; head_object is the fallback, for at most
    HEAD_LIMIT documents.
    """
    status = item.get("status")
    results: list[str] = []
    if status != COMPLETED:
        for entry in manifest.entries:
            if entry.get("status") == "rejected":
                results.append(f"error: {entry.get('error_key')} (rejected)")
            else:
                results.append("not sent (job abandoned)" if status == ABANDONED else "pending")
        return results
    errors = {str(e.get("error_key")): str(e.get("type")) for e in (summary or {}).get("errors", [])}
    retried: set[str] = set()
    retried_in = (summary or {}).get("retried_in")
    if retried_in:
        follow_up = reader.jsonl(manifest_key(str(retried_in))) or ()
        retried = {str(e.get("custom_id")) for e in follow_up}
    summary_tells = summary is not None and not summary.get("errors_truncated")
    heads = 0
    for entry in manifest.entries:
        error_key = str(entry.get("error_key"))
        result_key = entry.get("result_key")
        if entry.get("custom_id") in retried:
            results.append(f"retried in {retried_in}")
        elif error_key in errors:
            results.append(f"error: {error_key} ({errors[error_key]})")
        elif summary_tells and result_key:
            results.append(f"answer: {result_key}")
        elif heads < HEAD_LIMIT:
            heads += 1
            if result_key and reader.exists(str(result_key)):
                results.append(f"answer: {result_key}")
            elif reader.exists(error_key):
                results.append(f"error: {error_key}")
            else:
                results.append("neither answer nor error found")
        else:
            results.append("not checked")
    return results


def _field_lines(item: dict[str, Any], summary: dict[str, Any] | None, now: datetime) -> list[str]:
    rows: list[tuple[str, str]] = [
        ("status", _status_text(item)),
        ("profiles", ", ".join(item.get("profiles") or []) or "-"),
        ("batch", str(item.get("batch_id") or "-")),
    ]
    if item.get("processing_status") and item.get("status") not in (*COLLECTING, *FINAL_STATUSES):
        # recorded by each poll while the batch runs; stale once it has ended
        rows.append(("batch status", str(item["processing_status"])))
    rows.append(("attempt", str(item.get("attempt", 1))))
    if item.get("previous_job_id"):
        rows.append(("previous attempt", str(item["previous_job_id"])))
    if summary and summary.get("retried_in"):
        rows.append(("retried in", str(summary["retried_in"])))
    documents = item.get("documents")
    if documents is not None:
        requests = item.get("requests", "?")
        detail = f"{requests} request{'' if requests == 1 else 's'}, {item.get('rejected', 0)} rejected"
        rows.append(("documents", f"{documents} ({detail})"))
    created = item.get("created_at")
    rows.append(("created", f"{created} ({humanise_age(created, now)} ago)" if created else "-"))
    for name, label in (
        ("polled_at", "progress last moved"),
        ("batch_expires_at", "batch expires"),
        ("ended_at", "ended"),
        ("completed_at", "completed"),
        ("cancel_requested_at", "cancel requested"),
        ("abandoned_reason", "abandoned"),
    ):
        if name == "polled_at" and item.get("status") in FINAL_STATUSES:
            continue
        if item.get(name):
            rows.append((label, str(item[name])))
    if item.get("estimate_batch") is not None:
        estimate = cost_text(item["estimate_batch"], bool(item.get("estimate_complete", True)))
        rows.append(("estimate", f"{estimate} at batch price (before submitting; output at max_tokens)"))
    status = item.get("status")
    if status not in FINAL_STATUSES:
        done, total = request_progress(item)
        detail = progress_text(item).partition(" ")[2]
        rows.append(("progress", f"{progress_bar(done, total)} {detail}".rstrip()))
    elif status == COMPLETED:
        rows.append(("results", progress_text(item)))
        if summary is None and "cost_batch" in item:
            complete = _cost_complete(item)
            rows.append(
                (
                    "cost",
                    f"{cost_text(item['cost_batch'], complete)} at batch price, "
                    f"{cost_text(item.get('cost_standard'), complete)} at standard price",
                )
            )
    width = max(len(label) for label, _ in rows)
    return [f"  {label.ljust(width)}  {value}" for label, value in rows]


def _tokens_text(tokens: dict[str, Any]) -> str:
    """Tokens by kind; thinking is shown as the part of output it is (never added to it)."""
    names = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
    texts = [f"{name.replace('_', ' ')} {_number(tokens.get(name)):,}" for name in names]
    if thinking := _number(tokens.get("thinking")):
        texts[1] += f" ({thinking:,} thinking)"
    return ", ".join(texts)


def prices_text(checked: Iterable[Any]) -> str | None:
    """The date(s) the prices behind some costs were checked against the official pricing page
    (``prices_checked`` of a summary or a job), or None when none was recorded."""
    dates = sorted({str(date) for date in checked if date})
    return f"prices.json checked {', '.join(dates)}" if dates else None


def _summary_lines(summary: dict[str, Any], key: str) -> list[str]:
    cost = summary.get("cost") or {}
    complete = bool(cost.get("complete", True))
    standard = float(cost.get("standard") or 0)
    savings = float(cost.get("savings") or 0)
    share = f" ({savings / standard:.0%})" if standard and complete else ""
    lines = [
        f"Summary ({key})",
        f"  tokens  {_tokens_text(summary.get('tokens') or {})}",
        f"  cost    {cost_text(cost.get('batch'), complete)} at batch price, "
        f"{cost_text(cost.get('standard'), complete)} at standard price, "
        f"{cost_text(cost.get('savings'), complete)} saved{share}",
    ]
    prices = prices_text([summary.get("prices_checked")])
    lines.append(f"  prices  {prices or 'date not recorded (a summary from before prices.json had one)'}")
    if cost.get("unknown_price_models"):
        lines.append(f"  no known price for: {', '.join(cost['unknown_price_models'])}")
    if cost.get("approximate"):
        lines.append(
            f"  approximate for: {', '.join(cost.get('approximate_models') or [])} (tokens counted before "
            "costs were kept per request, priced at the first tier: a lower bound)"
        )
    if cost.get("unverified_price_models"):
        lines.append(f"  unverified price for: {', '.join(cost['unverified_price_models'])} (prices.json)")
    by_profile = summary.get("cost_by_profile") or {}
    if by_profile:
        lines += ["", "Cost by profile"]
        rows = []
        for profile, c in sorted(by_profile.items()):
            ok = bool(c.get("complete", True))
            rows.append(
                (
                    profile,
                    str((summary.get("documents_by_profile") or {}).get(profile, "-")),
                    cost_text(c.get("batch"), ok),
                    cost_text(c.get("standard"), ok),
                    cost_text(c.get("savings"), ok),
                )
            )
        lines += table(("PROFILE", "DOCUMENTS", "BATCH PRICE", "STANDARD PRICE", "SAVINGS"), rows, "  ")
    errors = summary.get("errors") or []
    if errors:
        more = " (more not listed)" if summary.get("errors_truncated") else ""
        lines.append(f"  errors  {len(errors)} listed in the summary{more}")
    return lines


def render_job(
    reader: JobsReader,
    item: dict[str, Any],
    manifest: Manifest,
    summary: dict[str, Any] | None,
    now: datetime,
) -> str:
    job_id = str(item["job_id"])
    lines = [f"Job {job_id}", *_field_lines(item, summary, now), ""]
    key = str(item.get("manifest_key") or manifest_key(job_id))
    if not manifest.found:
        lines.append(f"Documents: no manifest at s3://{reader.target.bucket}/{key}")
    else:
        by_profile = ", ".join(f"{p} {n}" for p, n in sorted(manifest.by_profile.items()))
        lines.append(f"Documents ({key}): {manifest.total}" + (f" ({by_profile})" if by_profile else ""))
        results = document_results(reader, item, manifest, summary)
        rows = [
            (
                _source(e),
                str(e.get("profile", "-")),
                str(e.get("model") or "-"),
                str(e.get("status", "-")),
                result,
            )
            for e, result in zip(manifest.entries, results, strict=True)
        ]
        if rows:
            lines += table(("SOURCE", "PROFILE", "MODEL", "STATUS", "RESULT"), rows, "  ")
        if manifest.total > len(manifest.entries):
            lines.append(
                f"  ... and {manifest.total - len(manifest.entries)} more "
                f"(all in s3://{reader.target.bucket}/{key})"
            )
    if summary is not None:
        lines += ["", *_summary_lines(summary, str(item.get("summary_key") or summary_key(job_id)))]
    return "\n".join(lines)


def job_frame(reader: JobsReader, job_id: str, cache: dict[str, Manifest]) -> tuple[str, bool]:
    """The job in detail, and whether it is still to be completed."""
    item = reader.job(job_id)
    if item is None or not is_job(item):
        raise ReportError(f"no job {job_id} in the jobs table {reader.target.jobs_table}")
    if "manifest" not in cache:  # the manifest never changes: read it once per watch
        cache["manifest"] = Manifest.read(reader, str(item.get("manifest_key") or manifest_key(job_id)))
    summary = None
    if item.get("status") == COMPLETED:
        summary = reader.json_object(str(item.get("summary_key") or summary_key(job_id)))
    text = render_job(reader, item, cache["manifest"], summary, datetime.now(UTC))
    return text, item.get("status") not in FINAL_STATUSES


# --- batchdrop documents ----------------------------------------------------------------------

DOCUMENT_HEADERS = (
    "DOCUMENT",
    "PROFILE",
    "MODEL",
    "TRY",
    "OUTCOME",
    "INPUT",
    "OUTPUT",
    "THINKING",
    "CACHE W/R",
    "BATCH",
    "STANDARD",
    "RESULT",
)
EXTRACTED_WIDTH = 100


def _row_cost(value: Any) -> str:
    return "unknown" if value is None else money(float(value))


def _outcome_text(row: dict[str, Any]) -> str:
    error = row.get("error_type")
    return f"{row['outcome']} ({error})" if error and error != row["outcome"] else str(row["outcome"])


def document_cells(row: dict[str, Any]) -> tuple[str, ...]:
    """One documents-table row as the cells of the local table."""
    source = str(row["source_key"]) + (f" #{row['item']}" if row.get("item") else "")
    cache = f"{_number(row.get('cache_write_5m_tokens')) + _number(row.get('cache_write_1h_tokens')):,}"
    cache += f"/{_number(row.get('cache_read_tokens')):,}"
    result = row.get("result_key") or (f"-> {row['retried_in']}" if row.get("retried_in") else "-")
    return (
        source,
        str(row["profile"]),
        str(row.get("model") or "-"),
        str(row["attempt"]),
        _outcome_text(row),
        f"{_number(row.get('input_tokens')):,}",
        f"{_number(row.get('output_tokens')):,}",
        f"{_number(row.get('thinking_tokens')):,}",
        cache,
        _row_cost(row.get("cost_batch_usd")),
        _row_cost(row.get("cost_standard_usd")),
        str(result),
    )


def render_documents(job_id: str, rows: list[dict[str, Any]]) -> str:
    """A job's documents table: a line per document, what the schema profiles extracted, and
    the cost per model and in all, summed from each request's own cost."""
    lines = [f"Job {job_id}: {len(rows)} documents", ""]
    ordered = sorted(rows, key=lambda r: (str(r["source_key"]), str(r.get("item") or "")))
    lines += table(DOCUMENT_HEADERS, (document_cells(row) for row in ordered), indent="  ")
    extracted = [(row["source_key"], str(row["extracted"])) for row in ordered if row.get("extracted")]
    if extracted:
        lines += ["", "  Extracted (schema profiles):"]
        for source, text in extracted:
            shown = text if len(text) <= EXTRACTED_WIDTH else text[: EXTRACTED_WIDTH - 3] + "..."
            lines.append(f"    {source}: {shown}")
    lines += cost_per_model(rows)
    return "\n".join(lines)


def cost_per_model(rows: Iterable[dict[str, Any]], indent: str = "  ") -> list[str]:
    """The cost of documents-table rows per model and in all: each request's own cost, summed
    (tiered prices are decided per request, never from summed tokens). Empty when none was billed."""
    by_model: dict[str, CostLine] = {}
    for row in rows:
        if not row.get("model") or not _number(row.get("input_tokens")) + _number(row.get("output_tokens")):
            continue  # nothing billed
        line = by_model.setdefault(str(row["model"]), CostLine())
        line.add(
            row.get("cost_batch_usd"),
            row.get("cost_standard_usd"),
            None,
            row.get("cost_batch_usd") is not None,
        )
    if not by_model:
        return []
    total = CostLine()
    cells = []
    for model, line in sorted(by_model.items()):
        cells.append(line.cells(model))
        total.add(line.batch, line.standard, None, line.complete)
    total.jobs = sum(line.jobs for line in by_model.values())
    cells.append(total.cells("all models"))
    return [
        "",
        *table(("COST (EACH REQUEST'S OWN)", "BILLED", "BATCH", "STANDARD", "SAVED"), cells, indent=indent),
    ]


def documents_command(
    job_id: str,
    *,
    stack_name: str | None = None,
    state_dir: Path,
    out: TextIO | None = None,
) -> int:
    """A completed job's documents table (``jobs/<job-id>/documents.jsonl``) as a table."""
    if is_claim(job_id):
        return _fail("documents", f"{job_id} is the claim of a document version or a batch, not a job")

    def body(reader: JobsReader) -> int:
        found = reader.jsonl(documents_key(job_id))
        if found is None:
            item = reader.job(job_id)
            if item is None or not is_job(item):
                raise ReportError(f"no job {job_id} in the jobs table {reader.target.jobs_table}")
            raise ReportError(
                f"job {job_id} is {item.get('status')}: its documents table, {documents_key(job_id)}, is "
                f"written when the job completes (`batchdrop job {job_id} --watch` follows it)"
            )
        print(render_documents(job_id, list(found)), file=out or sys.stdout)
        return 0

    return _run("documents", lambda: resolve_stack(stack_name=stack_name, state_dir=state_dir), body)


# --- batchdrop cost ---------------------------------------------------------------------------


@dataclass
class CostLine:
    jobs: int = 0
    batch: float = 0.0
    standard: float = 0.0
    savings: float = 0.0
    complete: bool = True

    def add(self, batch: Any, standard: Any, savings: Any, complete: bool) -> None:
        self.jobs += 1
        self.batch += float(batch or 0)
        self.standard += float(standard or 0)
        self.savings += float(savings if savings is not None else (standard or 0) - (batch or 0))
        self.complete = self.complete and complete

    def cells(self, label: str) -> tuple[str, ...]:
        return (
            label,
            str(self.jobs),
            cost_text(self.batch, self.complete),
            cost_text(self.standard, self.complete),
            cost_text(self.savings, self.complete),
        )


def job_cost_by_profile(item: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The job's cost per profile; a job recorded before costs were kept per profile counts whole
    under its one profile, or under ``(not by profile)``."""
    by_profile = item.get("cost_by_profile")
    if by_profile:
        return dict(by_profile)
    profiles = item.get("profiles") or []
    label = profiles[0] if len(profiles) == 1 else "(not by profile)"
    batch, standard = item.get("cost_batch"), item.get("cost_standard")
    return {
        label: {
            "batch": batch,
            "standard": standard,
            "savings": None,
            "complete": _cost_complete(item),
        }
    }


def render_cost(jobs: list[dict[str, Any]], since: datetime) -> str:
    lines = [f"Completed jobs since {iso(since)}: {len(jobs)}"]
    if not jobs:
        return "\n".join(lines)
    profiles: dict[str, CostLine] = {}
    total = CostLine()
    incomplete: list[tuple[str, str]] = []
    for item in jobs:
        complete = _cost_complete(item)
        total.add(item.get("cost_batch"), item.get("cost_standard"), None, complete)
        unknown = []
        for profile, c in sorted(job_cost_by_profile(item).items()):
            profile_complete = bool(c.get("complete", complete))
            profiles.setdefault(profile, CostLine()).add(
                c.get("batch"), c.get("standard"), c.get("savings"), profile_complete
            )
            if not profile_complete:
                unknown.append(profile)
        if item.get("cost_batch") is None:
            incomplete.append((str(item["job_id"]), "no cost recorded"))
        elif not complete or unknown:
            incomplete.append((str(item["job_id"]), f"profile {', '.join(unknown)}" if unknown else ""))
    rows = [line.cells(profile) for profile, line in sorted(profiles.items())]
    rows.append(total.cells("total"))
    lines += ["", *table(("PROFILE", "JOBS", "BATCH PRICE", "STANDARD PRICE", "SAVINGS"), rows)]
    recorded = prices_text(item.get("prices_checked") for item in jobs)
    lines += [
        "",
        f"Each job is priced per request when it completes, with {recorded}."
        if recorded
        else f"Each job is priced per request when it completes, with the prices.json of its time "
        f"(this version's was checked {PriceTable.bundled().checked}).",
    ]
    if total.standard and total.complete:
        lines += [
            "",
            f"Saved {money(total.savings)} by batching: "
            f"{total.savings / total.standard:.0%} of the standard price.",
        ]
    if incomplete:
        lines += [
            "",
            f"Cost incomplete for {len(incomplete)} job(s): a model with no known price "
            "(prices.json); its share is unknown, not zero:",
        ]
        lines += [f"  {job_id}" + (f" ({what})" if what else "") for job_id, what in incomplete]
    return "\n".join(lines)


# --- watching and running ---------------------------------------------------------------------


def watch_loop(
    frame: Callable[[], tuple[str, bool]],
    *,
    title: str,
    interval: float = DEFAULT_INTERVAL,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_iterations: int | None = None,
) -> int:
    """Draw ``frame`` every ``interval`` seconds until it says nothing is open, or Ctrl-C.

    On a terminal each frame replaces the last; otherwise frames follow one another, each under a
    heading with the time. ``max_iterations`` bounds the frames (for tests).
    """
    out = out or sys.stdout
    clear = out.isatty()
    iterations = 0
    try:
        while True:
            text, more = frame()
            iterations += 1
            heading = f"{title} at {iso(datetime.now(UTC))}" + (
                f" (every {interval:g} s; Ctrl-C stops)" if more else ""
            )
            if clear:
                out.write("\x1b[H\x1b[2J")
            elif iterations > 1:
                out.write("\n")
            out.write(f"{heading}\n\n{text}\n")
            out.flush()
            if not more or (max_iterations is not None and iterations >= max_iterations):
                return 0
            sleep(interval)
    except KeyboardInterrupt:
        out.write("\n")
        return 0


def _fail(command: str, message: str) -> int:
    print(f"batchdrop {command}: {message}", file=sys.stderr)
    return 2


def _run(command: str, target: Callable[[], StackTarget], body: Callable[[JobsReader], int]) -> int:
    """Run a command's body; what went wrong goes to stderr in one line, with exit status 2."""
    stack: StackTarget | None = None
    try:
        stack = target()
        return body(JobsReader(stack))
    except ReportError as exc:
        message = str(exc)
    except EndpointConnectionError as exc:
        message = f"cannot reach {stack.description if stack else 'the stack'}: {exc}"
        if stack and stack.endpoint:
            message += " (is the local stack still running? `make local-up` starts it)"
    except NoCredentialsError as exc:
        message = f"{exc}: set AWS credentials (e.g. AWS_PROFILE) to read a deployed stack"
    except ClientError as exc:
        error = exc.response.get("Error", {})
        message = f"{error.get('Code', 'error')}: {error.get('Message', exc)}"
        if error.get("Code") == "ResourceNotFoundException" and stack:
            message = f"the jobs table {stack.jobs_table} of {stack.description} does not exist ({message})"
    except BotoCoreError as exc:
        message = str(exc)
    return _fail(command, message)


def status_command(
    *,
    stack_name: str | None = None,
    state_dir: Path,
    since: str = DEFAULT_STATUS_SINCE,
    watch: bool = False,
    interval: float = DEFAULT_INTERVAL,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_iterations: int | None = None,
) -> int:
    """Open jobs, then the others created since ``since``; with ``watch``, until none is open."""
    try:
        start = parse_since(since, datetime.now(UTC))
    except ReportError as exc:
        return _fail("status", str(exc))

    def body(reader: JobsReader) -> int:
        if watch:
            return watch_loop(
                lambda: status_frame(reader, start, bars=True),
                title="batchdrop status",
                interval=interval,
                out=out,
                sleep=sleep,
                max_iterations=max_iterations,
            )
        print(status_frame(reader, start)[0], file=out or sys.stdout)
        return 0

    return _run("status", lambda: resolve_stack(stack_name=stack_name, state_dir=state_dir), body)


def job_command(
    job_id: str,
    *,
    stack_name: str | None = None,
    state_dir: Path,
    watch: bool = False,
    interval: float = DEFAULT_INTERVAL,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_iterations: int | None = None,
) -> int:
    """One job in detail; with ``watch``, until it is completed (or abandoned)."""
    if is_claim(job_id):
        return _fail("job", f"{job_id} is the claim of a document version or a batch, not a job")

    def body(reader: JobsReader) -> int:
        cache: dict[str, Manifest] = {}
        if watch:
            return watch_loop(
                lambda: job_frame(reader, job_id, cache),
                title=f"batchdrop job {job_id}",
                interval=interval,
                out=out,
                sleep=sleep,
                max_iterations=max_iterations,
            )
        print(job_frame(reader, job_id, cache)[0], file=out or sys.stdout)
        return 0

    return _run("job", lambda: resolve_stack(stack_name=stack_name, state_dir=state_dir), body)


def cost_command(
    *,
    stack_name: str | None = None,
    state_dir: Path,
    since: str = DEFAULT_COST_SINCE,
    out: TextIO | None = None,
) -> int:
    """Spending and savings of the jobs completed since ``since``, per profile and in total."""
    try:
        start = parse_since(since, datetime.now(UTC))
    except ReportError as exc:
        return _fail("cost", str(exc))

    def body(reader: JobsReader) -> int:
        print(render_cost(reader.completed_since(iso(start)), start), file=out or sys.stdout)
        return 0

    return _run("cost", lambda: resolve_stack(stack_name=stack_name, state_dir=state_dir), body)
