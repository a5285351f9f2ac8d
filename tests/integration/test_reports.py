"""`batchdrop status`, `batchdrop job` and `batchdrop cost` against the provisioned stack, with jobs
driven by the real handlers (one completed, one still running) and a few job items written as older
or other versions of batchdrop left them."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from batchdrop.adapters.dynamodb_jobs import iso
from batchdrop.domain.job_summary import JobSummary
from batchdrop.domain.manifest import ManifestEntry
from batchdrop.domain.pricing import PriceTable
from batchdrop.domain.result_line import ResultLine
from batchdrop_local import reports
from batchdrop_local.cli import main
from tests.integration.harness import Stack, load_event

NOW = datetime.now(UTC)


def _job_id(created: datetime, tag: str) -> str:
    return f"{created:%Y%m%dT%H%M%SZ}-{tag}"


OLD_JOB = _job_id(NOW - timedelta(days=20), "0c0c0c0c")  # outside 7d, inside 30d
UNPRICED_JOB = _job_id(NOW - timedelta(days=2), "0d0d0d0d")  # a model of unknown price


# --- driving jobs -----------------------------------------------------------------------------


def _handler(stack: Stack, logical_id: str) -> Callable[[dict[str, Any]], Any]:
    """The function, cold-started once per test (each cold start imports its module anew)."""
    handlers: dict[str, Callable[[dict[str, Any]], Any]] = stack.__dict__.setdefault("_warm", {})
    if logical_id not in handlers:
        handlers[logical_id] = stack.handler(logical_id)
    return handlers[logical_id]


def _submit(stack: Stack, documents: dict[str, str]) -> dict[str, str]:
    """Upload documents and run Submit on their notifications: the job's id and batch id."""
    for key, body in documents.items():
        stack.put_document(key, body)
    records = [
        {
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": stack.bucket}, "object": {"key": key, "size": 1, "eTag": "x"}},
        }
        for key in documents
    ]
    result = _handler(stack, "SubmitFunction")({"Records": records})
    job: dict[str, str] = result["jobs"][0]
    return job


def _poll(stack: Stack) -> None:
    _handler(stack, "PollFunction")(load_event("scheduled.json"))


def _complete(stack: Stack, job: dict[str, str]) -> None:
    event = load_event("batch-ended.json")
    event["detail"].update(job_id=job["job_id"], batch_id=job["batch_id"])
    assert _handler(stack, "CompleteFunction")(event)["status"] == "completed"


def _state_dir(stack: Stack, tmp_path: Path) -> Path:
    """A state file with the keys that LocalStack.info() writes and the commands read."""
    state = {
        "endpoint": stack.endpoint,
        "region": "us-east-1",
        "bucket": stack.bucket,
        "jobs_table": stack.resources.names["JobsTable"],
        "topic_arn": stack.resources.names["NotificationTopic"],
        "event_bus": stack.resources.names["JobEventBus"],
    }
    (tmp_path / "state.json").write_text(json.dumps(state))
    return tmp_path


def _put_job(stack: Stack, job_id: str, created: datetime, **fields: Any) -> None:
    item = {
        "job_id": job_id,
        "status": "completed",
        "manifest_key": f"jobs/{job_id}/manifest.jsonl",
        "created_at": iso(created),
        "updated_at": iso(created + timedelta(hours=1)),
        "completed_at": iso(created + timedelta(hours=1)),
        "attempt": 1,
        **fields,
    }
    stack.table.put_item(Item=item)


def _cost(batch: str, standard: str, complete: bool = True) -> dict[str, Any]:
    return {
        "batch": Decimal(batch),
        "standard": Decimal(standard),
        "savings": Decimal(standard) - Decimal(batch),
        "complete": complete,
    }


@pytest.fixture
def jobs(stack: Stack) -> dict[str, dict[str, str]]:
    """A completed job over two profiles, a job still running, and two job items put by hand."""
    stack.put_document("profiles/summarize.yaml", "model: claude-haiku-4-5\nmax_tokens: 400\n")
    done = _submit(
        stack,
        {
            "inbox/default/notes.txt": "The quarterly numbers: revenue 12, costs 7.",
            "inbox/summarize/memo.txt": "Move the standup to 10:00 from Monday.",
        },
    )
    _poll(stack)
    _complete(stack, done)
    stack.emulator.update_config(processing_delay=3600.0)  # the next batch keeps running
    running = _submit(stack, {"inbox/default/later.txt": "Still being answered."})
    _poll(stack)
    _put_job(
        stack,
        OLD_JOB,
        NOW - timedelta(days=20),
        profiles=["extract"],
        result_counts={"succeeded": 4},
        cost_batch=Decimal("0.5"),
        cost_standard=Decimal("1"),
        cost_complete=True,
        cost_by_profile={"extract": _cost("0.5", "1")},
    )
    _put_job(
        stack,
        UNPRICED_JOB,
        NOW - timedelta(days=2),
        profiles=["default", "extract"],
        result_counts={"succeeded": 2, "errored": 1},
        cost_batch=Decimal("1.25"),
        cost_standard=Decimal("2.5"),
        cost_complete=False,
        cost_by_profile={"default": _cost("1.25", "2.5"), "extract": _cost("0", "0", complete=False)},
    )
    return {"done": done, "running": running}


def _cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def _rows(text: str) -> dict[str, list[str]]:
    """Table rows of the output, by their first cell (a job id or a profile)."""
    return {cells[0]: cells[1:] for cells in map(_cells, text.splitlines()) if len(cells) > 3}


def _fields(out: str) -> dict[str, str]:
    """The ``label  value`` lines of `batchdrop job`."""
    return {cells[0]: cells[1] for cells in map(_cells, out.splitlines()) if len(cells) == 2}


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`batchdrop ARGV`: exit status, stdout, stderr (the handlers' logs before it dropped)."""
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _item(stack: Stack, job_id: str) -> dict[str, Any]:
    item: dict[str, Any] = reports.plain(stack.table.get_item(Key={"job_id": job_id})["Item"])
    return item


# --- batchdrop status -------------------------------------------------------------------------


def test_status_lists_open_jobs_then_recent_ones(
    stack: Stack, jobs: dict[str, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = str(_state_dir(stack, tmp_path))
    done, running = jobs["done"]["job_id"], jobs["running"]["job_id"]
    cost = _item(stack, done)

    code, out, _ = _cli(capsys, "status", "--state-dir", state_dir)

    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Open jobs: 1"
    assert _cells(lines[1]) == list(reports.STATUS_HEADERS)
    # the day a week back (NOW is taken at import: the hour may have turned since)
    assert lines[4].startswith(f"Other jobs created since {iso(datetime.now(UTC) - timedelta(days=7))[:10]}")
    assert lines[4].endswith(": 2")
    # open first, then the others newest first; claims (doc#, batch#) and older jobs left out
    assert [line.split()[0] for line in lines if line] == [
        "Open",
        "JOB",
        running,
        "Other",
        "JOB",
        done,
        UNPRICED_JOB,
    ]
    rows = _rows(out)
    # the running job: the API's counts from the last poll, no cost yet
    assert rows[running][:3] == ["default", "submitted", "0/1"]
    assert re.fullmatch(r"\d+s", rows[running][3])
    assert rows[running][4:] == ["-", "-", "1"]
    # the completed job: what it cost at batch and at standard price
    assert rows[done][:3] == ["default,summarize", "completed", "2/2 succeeded"]
    assert rows[done][4:] == [reports.money(cost["cost_batch"]), reports.money(cost["cost_standard"]), "1"]
    # a model with no known price is never a zero
    assert rows[UNPRICED_JOB] == [
        "default,extract",
        "completed",
        "2/3 succeeded (1 errored)",
        "2d",
        "$1.2500 + unknown",
        "$2.5000 + unknown",
        "1",
    ]

    code, out, _ = _cli(capsys, "status", "--state-dir", state_dir, "--since", "30d")
    assert code == 0
    assert _rows(out)[OLD_JOB] == ["extract", "completed", "4/4 succeeded", "20d", "$0.5000", "$1.0000", "1"]


# --- batchdrop job ----------------------------------------------------------------------------


def test_job_shows_a_job_its_documents_results_and_summary(
    stack: Stack, jobs: dict[str, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = jobs["done"]["job_id"]
    summary = json.loads(stack.get_text(f"jobs/{job_id}/summary.json"))
    cost, by_profile = summary["cost"], summary["cost_by_profile"]

    state_dir = str(_state_dir(stack, tmp_path))

    code, out, _ = _cli(capsys, "job", job_id, "--state-dir", state_dir)

    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"Job {job_id}"
    fields = _fields(out)
    assert fields["status"] == "completed"
    assert fields["profiles"] == "default, summarize"
    assert fields["batch"] == jobs["done"]["batch_id"]
    assert fields["documents"] == "2 (2 requests, 0 rejected)"
    assert fields["results"] == "2/2 succeeded"
    assert fields["attempt"] == "1"
    assert fields["estimate"].endswith(" at batch price (before submitting; output at max_tokens)")
    assert {"created", "batch expires", "ended", "completed"} <= set(fields)
    assert not {"previous attempt", "retried in", "batch status", "progress"} & set(fields)
    assert f"Documents (jobs/{job_id}/manifest.jsonl): 2 (default 1, summarize 1)" in lines
    rows = _rows(out)
    assert rows["inbox/default/notes.txt"] == [
        "default",
        "claude-haiku-5-5",
        "submitted",
        "answer: results/default/notes.txt.md",
    ]
    assert rows["inbox/summarize/memo.txt"][-1] == "answer: results/summarize/memo.txt.md"
    assert f"Summary (jobs/{job_id}/summary.json)" in lines
    tokens = summary["tokens"]
    m = reports.money
    assert fields["tokens"].startswith(
        f"input {tokens['input']:,}, output {tokens['output']:,}, cache write 5m 0"
    )
    assert fields["cost"] == (
        f"{m(cost['batch'])} at batch price, {m(cost['standard'])} at standard price, "
        f"{m(cost['savings'])} saved (50%)"
    )
    assert fields["prices"] == "prices.json checked 2026-11-30"
    for profile in ("default", "summarize"):
        c = by_profile[profile]
        assert rows[profile] == ["1", m(c["batch"]), m(c["standard"]), m(c["savings"])]

    # a job still running: its progress, documents pending, no summary yet
    code, out, _ = _cli(capsys, "job", jobs["running"]["job_id"], "--state-dir", state_dir)

    assert code == 0
    fields = _fields(out)
    assert fields["progress"] == "[....................] 0/1"
    assert fields["status"] == "submitted" and fields["batch status"] == "in_progress"
    assert fields["documents"] == "1 (1 request, 0 rejected)"
    assert not {"completed", "results", "cost"} & set(fields)
    assert _rows(out)["inbox/default/later.txt"][-2:] == ["submitted", "pending"]
    assert "Summary" not in out


def test_job_finds_errors_and_retries_of_a_completed_job(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a job whose only request ended with a transient error: sent again as attempt 2
    stack.emulator.update_config(error_rate=1.0)
    first = _submit(stack, {"inbox/default/flaky.txt": "Try me twice."})
    _poll(stack)
    stack.emulator.update_config(error_rate=0.0)
    _complete(stack, first)
    # and a job with a document rejected at submit
    rejected = _submit(stack, {"inbox/default/empty.txt": " ", "inbox/default/fine.txt": "Fine."})
    _poll(stack)
    _complete(stack, rejected)
    state_dir = str(_state_dir(stack, tmp_path))
    follow_up = f"{first['job_id']}-a2"

    code, out, _ = _cli(capsys, "job", first["job_id"], "--state-dir", state_dir)
    assert code == 0
    fields = _fields(out)
    assert fields["retried in"] == follow_up and fields["results"] == "0/1 succeeded (1 retried)"
    assert _rows(out)["inbox/default/flaky.txt"][-1] == f"retried in {follow_up}"

    code, out, _ = _cli(capsys, "job", follow_up, "--state-dir", state_dir)
    fields = _fields(out)
    assert code == 0 and fields["previous attempt"] == first["job_id"] and fields["attempt"] == "2"

    code, out, _ = _cli(capsys, "job", rejected["job_id"], "--state-dir", state_dir)
    assert code == 0
    assert _fields(out)["results"] == "1/2 succeeded (1 rejected)"
    rows = _rows(out)
    assert rows["inbox/default/empty.txt"][-2:] == [
        "rejected",
        "error: results/default/empty.txt.error.json (rejected)",
    ]
    assert rows["inbox/default/fine.txt"][-1] == "answer: results/default/fine.txt.md"


def test_job_checks_results_with_head_object_when_the_summary_cannot_tell(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = _submit(stack, {"inbox/default/one.txt": "One.", "inbox/default/two.txt": "Two."})
    _poll(stack)
    _complete(stack, job)
    # a summary whose list of errors was cut short, and an answer deleted since
    summary_key = f"jobs/{job['job_id']}/summary.json"
    summary = json.loads(stack.get_text(summary_key))
    stack.put_document(summary_key, json.dumps({**summary, "errors_truncated": True}))
    stack.client("s3").delete_object(Bucket=stack.bucket, Key="results/default/two.txt.md")

    code, out, _ = _cli(capsys, "job", job["job_id"], "--state-dir", str(_state_dir(stack, tmp_path)))

    assert code == 0
    rows = _rows(out)
    assert rows["inbox/default/one.txt"][-1] == "answer: results/default/one.txt.md"
    assert rows["inbox/default/two.txt"][-1] == "neither answer nor error found"


# --- watching ---------------------------------------------------------------------------------


def _frames(out: str, title: str) -> list[str]:
    return [frame for frame in re.split(rf"^{re.escape(title)} at .*$", out, flags=re.M) if frame.strip()]


def test_watch_redraws_until_the_job_is_completed_or_ctrl_c(stack: Stack, tmp_path: Path) -> None:
    first = _submit(stack, {"inbox/default/first.txt": "First."})
    second = _submit(stack, {"inbox/default/second.txt": "Second."})
    state_dir = _state_dir(stack, tmp_path)
    waits: list[float] = []

    def meanwhile(*actions: Callable[[], None]) -> Callable[[float], None]:
        def sleep(seconds: float) -> None:
            waits.append(seconds)
            for action in actions:
                action()

        return sleep

    # job --watch: both batches end and the first job completes between the first and second frame
    out = io.StringIO()
    code = reports.job_command(
        first["job_id"],
        state_dir=state_dir,
        watch=True,
        interval=0.5,
        out=out,
        sleep=meanwhile(lambda: _poll(stack), lambda: _complete(stack, first)),
        max_iterations=5,
    )

    assert code == 0 and waits == [0.5]
    assert "(every 0.5 s; Ctrl-C stops)" in out.getvalue().splitlines()[0]
    before, after = _frames(out.getvalue(), f"batchdrop job {first['job_id']}")
    assert _fields(before)["status"] == "submitted"
    assert _fields(before)["progress"] == "[....................] 0/1"
    assert _fields(after)["status"] == "completed" and _fields(after)["results"] == "1/1 succeeded"
    assert "progress" not in _fields(after)

    # status --watch: the other job's batch has ended too; it completes meanwhile
    out = io.StringIO()
    code = reports.status_command(
        state_dir=state_dir,
        watch=True,
        interval=0.5,
        out=out,
        sleep=meanwhile(lambda: _complete(stack, second)),
        max_iterations=5,
    )

    assert code == 0 and waits == [0.5, 0.5]
    before, after = _frames(out.getvalue(), "batchdrop status")
    assert _rows(before)[second["job_id"]][1:3] == ["ended", "1/1 (batch ended)"]
    assert f"{second['job_id']}  [####################] 1/1" in before.splitlines()
    assert after.strip().splitlines()[0] == "Open jobs: 0"
    assert _rows(after)[second["job_id"]][1:3] == ["completed", "1/1 succeeded"]
    assert "[" not in after  # no progress bars without open jobs

    # Ctrl-C ends a watch at once
    stack.emulator.update_config(processing_delay=3600.0)
    slow = _submit(stack, {"inbox/default/slow.txt": "Slow."})

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    out = io.StringIO()
    code = reports.job_command(slow["job_id"], state_dir=state_dir, watch=True, out=out, sleep=interrupt)

    assert code == 0
    (frame,) = _frames(out.getvalue(), f"batchdrop job {slow['job_id']}")
    assert _fields(frame)["status"] == "submitted"


# --- batchdrop cost ---------------------------------------------------------------------------


def test_cost_per_profile_and_in_total_with_unknown_prices_never_zero(
    stack: Stack, jobs: dict[str, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = str(_state_dir(stack, tmp_path))
    done = _item(stack, jobs["done"]["job_id"])
    by_profile = done["cost_by_profile"]
    m = reports.money

    code, out, _ = _cli(capsys, "cost", "--state-dir", state_dir, "--since", "7d")

    assert code == 0
    lines = out.splitlines()
    assert re.fullmatch(r"Completed jobs since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: 2", lines[0])
    assert _cells(lines[2]) == ["PROFILE", "JOBS", "BATCH PRICE", "STANDARD PRICE", "SAVINGS"]
    rows = _rows(out)
    assert list(rows)[1:] == ["default", "extract", "summarize", "total"]
    assert rows["default"] == [
        "2",
        m(by_profile["default"]["batch"] + 1.25),
        m(by_profile["default"]["standard"] + 2.5),
        m(by_profile["default"]["savings"] + 1.25),
    ]
    assert rows["summarize"] == [
        "1",
        m(by_profile["summarize"]["batch"]),
        m(by_profile["summarize"]["standard"]),
        m(by_profile["summarize"]["savings"]),
    ]
    assert rows["extract"] == ["1", "unknown", "unknown", "unknown"]
    assert rows["total"] == [
        "2",
        f"{m(done['cost_batch'] + 1.25)} + unknown",
        f"{m(done['cost_standard'] + 2.5)} + unknown",
        f"{m(done['cost_standard'] - done['cost_batch'] + 1.25)} + unknown",
    ]
    assert lines[-2:] == [
        "Cost incomplete for 1 job(s): a model with no known price (prices.json); its share is unknown, not zero:",
        f"  {UNPRICED_JOB} (profile extract)",
    ]
    assert jobs["running"]["job_id"] not in out  # only completed jobs count
    assert "Saved" not in out  # no savings claimed on an incomplete total

    month_ago = (NOW - timedelta(days=30)).date().isoformat()
    code, out, _ = _cli(capsys, "cost", "--state-dir", state_dir, "--since", month_ago)
    assert code == 0
    assert out.splitlines()[0] == f"Completed jobs since {month_ago}T00:00:00Z: 3"
    rows = _rows(out)
    assert rows["extract"] == ["2", "$0.5000 + unknown", "$1.0000 + unknown", "$0.5000 + unknown"]
    assert rows["total"][0] == "3"


def test_cost_of_jobs_all_priced_states_the_savings(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a job recorded before costs were kept per profile: counted under its one profile
    created = NOW - timedelta(days=1)
    _put_job(
        stack,
        _job_id(created, "0e0e0e0e"),
        created,
        profiles=["extract"],
        cost_batch=Decimal("1.5"),
        cost_standard=Decimal("3"),
    )
    state_dir = str(_state_dir(stack, tmp_path))

    code, out, _ = _cli(capsys, "cost", "--state-dir", state_dir, "--since", "2d")

    assert code == 0
    lines = out.splitlines()
    assert [_cells(line) for line in lines[2:5]] == [
        ["PROFILE", "JOBS", "BATCH PRICE", "STANDARD PRICE", "SAVINGS"],
        ["extract", "1", "$1.5000", "$3.0000", "$1.5000"],
        ["total", "1", "$1.5000", "$3.0000", "$1.5000"],
    ]
    assert lines[-3:] == [
        "Each job is priced per request when it completes, with the prices.json of its time "
        f"(this version's was checked {PriceTable.bundled().checked}).",
        "",
        "Saved $1.5000 by batching: 50% of the standard price.",
    ]

    # a completed job with no cost recorded at all: unknown, never free
    no_cost = _job_id(NOW - timedelta(hours=5), "0a0a0a0a")
    _put_job(stack, no_cost, NOW - timedelta(hours=5), profiles=["extract"])
    code, out, _ = _cli(capsys, "cost", "--state-dir", state_dir, "--since", "2d")
    assert code == 0
    assert _rows(out)["total"] == ["2", "$1.5000 + unknown", "$3.0000 + unknown", "$1.5000 + unknown"]
    assert out.splitlines()[-1] == f"  {no_cost} (no cost recorded)"

    code, out, _ = _cli(capsys, "cost", "--state-dir", state_dir, "--since", "1h")
    assert code == 0 and out.splitlines()[0].endswith(": 0")

    # jobs that recorded the date of the prices they were priced with: those dates
    _put_job(
        stack,
        _job_id(NOW - timedelta(hours=2), "0b0b0b0b"),
        NOW - timedelta(hours=2),
        prices_checked="2026-11-30",
    )
    _put_job(
        stack,
        _job_id(NOW - timedelta(hours=3), "0c0c0c0c"),
        NOW - timedelta(hours=3),
        prices_checked="2026-10-01",
    )
    code, out, _ = _cli(capsys, "cost", "--state-dir", state_dir, "--since", "4h")
    assert code == 0
    assert (
        "Each job is priced per request when it completes, with prices.json checked 2026-10-01, 2026-11-30."
        in out
    )


# --- finding the stack, and what goes wrong ---------------------------------------------------


def test_stack_name_reads_the_outputs_of_a_deployed_stack(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    created = NOW - timedelta(hours=3)
    job_id = _job_id(created, "0f0f0f0f")
    _put_job(stack, job_id, created, profiles=["extract"], result_counts={"succeeded": 1})
    # moto's CloudFormation stands in for AWS; boto3 finds it through the environment
    for name, value in {
        "AWS_ENDPOINT_URL": stack.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    outputs = {"BucketName": stack.bucket, "JobsTableName": stack.resources.names["JobsTable"]}
    resources = {"Queue": {"Type": "AWS::SQS::Queue"}}
    cloudformation = stack.client("cloudformation")
    cloudformation.create_stack(
        StackName="batchdrop",
        TemplateBody=json.dumps(
            {"Resources": resources, "Outputs": {k: {"Value": v} for k, v in outputs.items()}}
        ),
    )
    cloudformation.create_stack(StackName="other", TemplateBody=json.dumps({"Resources": resources}))

    code, out, _ = _cli(capsys, "job", job_id, "--stack-name", "batchdrop")
    assert code == 0 and out.splitlines()[0] == f"Job {job_id}"
    assert f"Documents: no manifest at s3://{stack.bucket}/jobs/{job_id}/manifest.jsonl" in out
    code, out, _ = _cli(capsys, "status", "--stack-name", "batchdrop")
    assert code == 0 and _rows(out)[job_id][:3] == ["extract", "completed", "1/1 succeeded"]

    assert _cli(capsys, "status", "--stack-name", "nope") == (
        2,
        "",
        "batchdrop status: stack nope: Stack with id nope does not exist\n",
    )
    assert _cli(capsys, "cost", "--stack-name", "other") == (
        2,
        "",
        "batchdrop cost: stack other has no BucketName or JobsTableName output: is it a batchdrop stack?\n",
    )


def test_unknown_job_is_an_error(stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state_dir = str(_state_dir(stack, tmp_path))
    table = stack.resources.names["JobsTable"]
    assert _cli(capsys, "job", "20261125T000000Z-00000000", "--state-dir", state_dir) == (
        2,
        "",
        f"batchdrop job: no job 20261125T000000Z-00000000 in the jobs table {table}\n",
    )
    assert _cli(capsys, "job", "doc#0123abcd", "--state-dir", state_dir) == (
        2,
        "",
        "batchdrop job: doc#0123abcd is the claim of a document version or a batch, not a job\n",
    )


@pytest.mark.parametrize("since", ["7x", "yesterday", "2026-13-01", "-3d", "99999999999d"])
def test_bad_since_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], since: str) -> None:
    # checked before the stack is looked for (there is none in tmp_path)
    for command in ("status", "cost"):
        assert _cli(capsys, command, "--state-dir", str(tmp_path), f"--since={since}") == (
            2,
            "",
            f"batchdrop {command}: bad --since {since!r}: give a duration before now such as 7d, 12h, 2w "
            "or 30m, or a date such as 2026-11-01 (UTC)\n",
        )


def test_no_local_stack_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "status", "--state-dir", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == (
        f"batchdrop status: no local stack is running ({tmp_path / 'state.json'} does not exist): "
        "start it with `make local-up`, or name a deployed stack with --stack-name\n"
    )

    # a state file left behind by a stack that is gone
    state = {"endpoint": "http://127.0.0.1:9", "region": "us-east-1", "bucket": "b", "jobs_table": "t"}
    (tmp_path / "state.json").write_text(json.dumps(state))
    code, out, err = _cli(capsys, "cost", "--state-dir", str(tmp_path))
    assert (code, out) == (2, "")
    assert err.startswith("batchdrop cost: cannot reach the local stack at http://127.0.0.1:9: ")
    assert err.endswith("(is the local stack still running? `make local-up` starts it)\n")


def test_formatting() -> None:
    now = datetime(2026, 11, 25, 15, 36, 16, tzinfo=UTC)
    ages = (timedelta(seconds=5), timedelta(minutes=3, seconds=59), timedelta(hours=2), timedelta(days=9))
    assert [reports.humanise_age(iso(now - age), now) for age in ages] == ["5s", "3m", "2h", "9d"]
    assert reports.progress_bar(7, 12, width=12) == "[#######.....] 7/12"
    assert reports.progress_bar(0, 0) == "[....................] 0/0"
    assert reports.parse_since("7d", now) == now - timedelta(days=7)
    assert reports.parse_since("90m", now) == now - timedelta(minutes=90)
    assert reports.parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
    assert reports.parse_since("2026-11-01T12:00:00+01:00", now) == datetime(2026, 11, 1, 11, tzinfo=UTC)
    assert [reports.money(v) for v in (0, 0.000189, 0.01, 1234.5)] == [
        "$0.0000",
        "$0.000189",
        "$0.0100",
        "$1,234.5000",
    ]
    assert reports.cost_text(0.0, complete=False) == "unknown"
    assert reports.cost_text(0.5, complete=False) == "$0.5000 + unknown"
    assert reports.cost_text(None, complete=True) == "-"


def test_summary_lines_name_the_prices_date_thinking_and_approximate_or_unverified_costs() -> None:
    # Given a summary resumed from a checkpoint written before costs were kept per request (a
    # tiered model: approximate), with an unverified price and thinking tokens
    old_state = {
        "counts": {"succeeded": 1},
        "usage": [["default", "claude-haiku-5-5", {"input_tokens": 200_000, "output_tokens": 10}]],
        "stop_reasons": {"end_turn": 1},
        "documents_by_profile": {"default": 2},
        "errors": [],
    }
    summary = JobSummary.from_state("job-1", None, PriceTable.bundled(), old_state)
    usage = {"input_tokens": 10, "output_tokens": 400, "output_tokens_details": {"thinking_tokens": 300}}
    message = {"model": "claude-fable-5-2", "usage": usage, "stop_reason": "end_turn", "content": []}
    entry = ManifestEntry(
        custom_id="doc-2",
        source_key="inbox/default/b.txt",
        version_id=None,
        etag="e",
        profile="default",
        error_key="results/default/b.txt.error.json",
        result_key="results/default/b.txt.md",
        model="claude-fable-5-2",
    )
    summary.record_result(
        entry, ResultLine.of({"custom_id": "doc-2", "result": {"type": "succeeded", "message": message}})
    )

    lines = reports._summary_lines(summary.to_dict(), "jobs/job-1/summary.json")

    fields = _fields("\n".join(lines))
    assert (
        fields["tokens"]
        == "input 200,010, output 410 (300 thinking), cache write 5m 0, cache write 1h 0, cache read 0"
    )
    assert fields["prices"] == "prices.json checked 2026-11-30"
    assert (
        "  approximate for: claude-haiku-5-5 (tokens counted before costs were kept per request, "
        in "\n".join(lines)
    )
    assert "  unverified price for: claude-fable-5-2 (prices.json)" in lines

    # a summary written before prices.json had a date
    fields = _fields("\n".join(reports._summary_lines({"cost": {}}, "jobs/old/summary.json")))
    assert fields["prices"] == "date not recorded (a summary from before prices.json had one)"
