"""Named places where the resilience tests make a function die, as a Lambda container can.

The use cases call a crash hook (batchdrop.ports.runtime.CrashHook) at each named point; a
deployed function's hook does nothing. The local stack injects this one into every handler it
loads (``install``): a point fires only when ``BATCHDROP_CRASH_POINTS`` names it
(comma-separated), read at each call. With ``BATCHDROP_CRASH_ONCE_DIR`` set, each point fires
once (a marker file remembers it), so the retry that follows runs through.

A point named in ``BATCHDROP_HOLD_POINTS`` holds the function there instead, until the file
``release-<point>`` appears in ``BATCHDROP_HOLD_DIR`` (at most HOLD_MAX_SECONDS): a test makes
something happen while the function is at that point, whatever the machine's speed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import ModuleType


class SimulatedCrash(BaseException):
    """The function dies here. A BaseException, so no ``except Exception`` can swallow it."""


# A held function goes on after this long even unreleased: a test that forgot fails, never hangs.
HOLD_MAX_SECONDS = 60.0


def hold_point(name: str) -> None:
    """Wait at ``name`` until the test releases it (see the module's docstring)."""
    if name not in os.environ.get("BATCHDROP_HOLD_POINTS", "").split(","):
        return
    folder = Path(os.environ["BATCHDROP_HOLD_DIR"])
    (folder / f"held-{name}").touch()
    release = folder / f"release-{name}"
    deadline = time.monotonic() + HOLD_MAX_SECONDS
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def crash_point(name: str) -> None:
    hold_point(name)
    points = os.environ.get("BATCHDROP_CRASH_POINTS", "")
    if not points or name not in points.split(","):
        return
    once_dir = os.environ.get("BATCHDROP_CRASH_ONCE_DIR")
    if once_dir:
        marker = Path(once_dir) / f"crashed-{name}"
        if marker.exists():
            return
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    raise SimulatedCrash(name)


def install(module: ModuleType) -> None:
    """Give a loaded handler module this crash hook (its ``crash_hook``, passed to its use case
    at each invocation). A module without one has no crash points."""
    if hasattr(module, "crash_hook"):
        setattr(module, "crash_hook", crash_point)  # noqa: B010 - a loaded module, typed as any
