"""The fault matrix's table: rows collected by the scenarios, printed at the end of the run
(in pytest's terminal summary, so it shows even when test output is captured)."""

from __future__ import annotations

from typing import Any

import pytest

from batchdrop.anthropic_batches import SDK_MAX_RETRIES

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


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    rows = config.stash.get(MATRIX, [])
    if not rows:
        return
    terminalreporter.write_sep("=", "fault matrix: every document answered once, billed once, one notice")
    for line in format_matrix(rows):
        terminalreporter.write_line(line)
    terminalreporter.write_line(
        f"xN: N calls fail; over {SDK_MAX_RETRIES + 1} outlast the SDK's own retries, so the invocation "
        "fails and its event source retries it. billed max: most submissions of one document."
    )
    total = sum(float(row.get("seconds") or 0) for row in rows)
    failed = [row["scenario"] for row in rows if row.get("verdict") != "ok"]
    terminalreporter.write_line(
        f"{len(rows)} scenarios in {total:.0f} s of pipeline time; "
        + (f"failing: {', '.join(failed)}" if failed else "all hold")
    )
