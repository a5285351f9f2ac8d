"""Named places where the resilience tests make a function die, as a Lambda container can.

The use cases call a crash hook (batchdrop.ports.runtime.CrashHook) at each named point; a
deployed function's hook does nothing. The local stack injects this one into every handler it
loads (``install``): a point fires only when ``BATCHDROP_CRASH_POINTS`` names it
(comma-separated), read at each call. With ``BATCHDROP_CRASH_ONCE_DIR`` set, each point fires
once (a marker file remembers it), so the retry that follows runs through.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType


class SimulatedCrash(BaseException):
    """The function dies here. A BaseException, so no ``except Exception`` can swallow it."""


def crash_point(name: str) -> None:
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
