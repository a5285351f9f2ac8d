"""Redrawing a view every few seconds until nothing it shows is still open (``--watch``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from batchdrop.domain.times import iso
from batchdrop_ops.defaults import DEFAULT_INTERVAL


def watch_loop(
    frame: Callable[[], tuple[str, bool]],
    *,
    title: str,
    interval: float = DEFAULT_INTERVAL,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_iterations: int | None = None,
) -> int:
    """Draw ``frame`` every ``interval`` seconds until it says nothing is open, or Ctrl-C.

    On a terminal each frame replaces the last; otherwise frames follow one another, each under a
    heading with the time. ``max_iterations`` bounds the frames (for tests).
    """
    out = out or sys.stdout
    clear = out.isatty()
    iterations = 0
    try:
        while True:
            text, more = frame()
            iterations += 1
            heading = f"{title} at {iso(datetime.now(UTC))}" + (
                f" (every {interval:g} s; Ctrl-C stops)" if more else ""
            )
            if clear:
                out.write("\x1b[H\x1b[2J")
            elif iterations > 1:
                out.write("\n")
            out.write(f"{heading}\n\n{text}\n")
            out.flush()
            if not more or (max_iterations is not None and iterations >= max_iterations):
                return 0
            sleep(interval)
    except KeyboardInterrupt:
        out.write("\n")
        return 0
