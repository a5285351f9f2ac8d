"""Tables, progress bars and money, as every operator view writes them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

BAR_WIDTH = 20


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


def number(value: Any) -> int:
    """A count as stored (int or float); anything else (absent, None) counts as 0."""
    return int(value) if isinstance(value, int | float) else 0
