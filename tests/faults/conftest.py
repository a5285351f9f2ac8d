"""The fault matrix's table: rows collected by the scenarios, printed at the end of the run
(in pytest's terminal summary, so it shows even when test output is captured).

The matrix runs on two local stacks at once (pytest-xdist, ``make test``): most of a scenario's
time is spent waiting out leases and redeliveries, not computing. Each worker process keeps its
own rows and hands them to the controller when it finishes, which prints them all.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from batchdrop.adapters.anthropic_backend import SDK_MAX_RETRIES

MATRIX = pytest.StashKey[list[dict[str, Any]]]()

COLUMNS = (
    ("scenario", "scenario"),
    ("fault", "fault"),
    ("documents", "docs"),
    ("answered", "answered"),
    ("errors", "errors"),
    ("billed_max", "billed max"),
    ("notifications", "notifications"),
    ("jobs", "jobs"),
    ("failed_invocations", "failed invocations"),
    ("seconds", "seconds"),
    ("verdict", "verdict"),
)


@pytest.fixture(scope="session")
def fault_matrix(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """The rows of the matrix; each scenario appends one, whether it passes or not."""
    return request.config.stash.setdefault(MATRIX, [])


def format_matrix(rows: list[dict[str, Any]]) -> list[str]:
    cells = [[title for _, title in COLUMNS]]
    cells += [[_cell(row.get(name)) for name, _ in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = [
        " | ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)) for line in cells
    ]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return lines


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In an xdist worker: hand this worker's rows to the controller."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["fault_matrix"] = json.dumps(session.config.stash.get(MATRIX, []))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """In the xdist controller: gather a finished worker's rows."""
    rows = json.loads(getattr(node, "workeroutput", {}).get("fault_matrix", "[]"))
    node.config.stash.setdefault(MATRIX, []).extend(rows)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    gathered: list[dict[str, Any]] = config.stash.get(MATRIX, [])
    rows = sorted(gathered, key=lambda row: row.get("index", 0))
    if not rows:
        return
    terminalreporter.write_sep("=", "fault matrix: every document answered once, billed once, one notice")
    for line in format_matrix(rows):
        terminalreporter.write_line(line)
    terminalreporter.write_line(
        f"xN: N calls fail; over {SDK_MAX_RETRIES + 1} outlast the Anthropic SDK's own retries, 3 (DynamoDB 4) "
        "botocore's, so the invocation fails and its event source retries it. billed max: most times one "
        "request succeeded (was billed)."
    )
    total = sum(float(row.get("seconds") or 0) for row in rows)
    failed = [row["scenario"] for row in rows if row.get("verdict") != "ok"]
    documents = sum(int(row.get("documents") or 0) for row in rows)
    answered = sum(int(row.get("answered") or 0) for row in rows)
    errors = sum(int(row.get("errors") or 0) for row in rows)
    terminalreporter.write_line(
        f"{len(rows)} scenarios, {documents} documents ({answered} answered, {errors} with their .error.json), "
        f"{total:.0f} s of pipeline time; "
        + (f"failing: {', '.join(failed)}" if failed else "all hold: 0 lost, 0 billed twice")
    )
