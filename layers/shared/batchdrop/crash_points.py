"""Named places where the resilience tests make a function die, as a Lambda container can.

Inert in a deployed stack: a crash point fires only when ``BATCHDROP_CRASH_POINTS`` names it
(comma-separated). With ``BATCHDROP_CRASH_ONCE_DIR`` set, each point fires once (a marker file
remembers it), so the retry that follows runs through.
"""

from __future__ import annotations

import os
from pathlib import Path


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
