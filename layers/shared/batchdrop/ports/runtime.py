"""What a use case needs of its running: the time, and the places a test may make it die."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

Clock = Callable[[], datetime]  # an aware UTC datetime


def system_clock() -> datetime:
    """The deployed clock: now, in UTC. Tests hand a use case (or a handler module) their own."""
    return datetime.now(UTC)


class CrashHook(Protocol):
    def __call__(self, point: str) -> None:
        """Called at each named crash point (e.g. ``complete:halfway``). Deployed: does nothing.
        The local stack and the tests inject one that raises there, as a dying container would."""
        ...


def no_crash(point: str) -> None:
    """The deployed crash hook: nothing happens."""
