"""Moments as the jobs table, the events and the API's answers carry them: ISO 8601 text in UTC
with a ``Z``. Text of one precision compares (and sorts) as the moments do, which the table's
conditions rely on (``creation_lease_until <= :now``)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    """To the second: every time a job record stores, but its create calls."""
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_ms(moment: datetime) -> str:
    """To the millisecond: create calls of one job may be less than a second apart."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_exact(moment: datetime) -> str:
    """As precise as the moment is (the API's timestamps, passed on unchanged)."""
    return moment.isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """An ISO 8601 moment (``Z`` or an offset) as an aware datetime; one with no offset is UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
