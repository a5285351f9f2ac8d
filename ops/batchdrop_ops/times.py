"""Moments as the operator writes them (``--since 7d``) and reads them (``3m`` ago)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from batchdrop.domain.times import parse_time
from batchdrop_ops.errors import ReportError

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
