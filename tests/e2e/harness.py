"""End-to-end helpers: the local stack as a separate process, and plain boto3 clients on it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from batchdrop_local.template import PROJECT_ROOT

# These bound how long a broken stack can hang a test, never what a working one must achieve: on a
# shared, loaded machine the pipeline (three cold starts, a batching window, the emulator's delay,
# Poll's interval) can take minutes. A test waits for the event it needs, then asserts on it.
DEADLINE = 300.0
"""For the pipeline to answer the documents a test dropped."""
START_DEADLINE = 180.0
"""For `batchdrop local up` to write its state file."""
STOP_DEADLINE = 60.0
"""For the stack to stop after Ctrl-C."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def processes_with_marker(marker: str) -> list[int]:
    """Processes whose environment carries the marker: the stack's and all its children."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


@contextmanager
def running_local_stack(state_dir: Path) -> Iterator[dict[str, Any]]:
    """`batchdrop local up` in its own process, as a user starts it; stopped with Ctrl-C after."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "batchdrop_local.cli",
            "local",
            "up",
            "--port",
            str(free_port()),
            "--batching-window",
            # long enough that a test's uploads land in one window even on a loaded machine
            "10",
            "--poll-interval",
            "1",
            "--emulator-delay",
            "2",
            "--state-dir",
            str(state_dir),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "BATCHDROP_E2E_MARKER": f"stack-{os.getpid()}"},
    )
    state_file = state_dir / "state.json"
    deadline = time.monotonic() + START_DEADLINE
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"the local stack did not start:\n{output}")
        time.sleep(0.2)
    state = json.loads(state_file.read_text())
    try:
        yield {**state, "process": process, "state_dir": state_dir, "marker": f"stack-{os.getpid()}"}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_DEADLINE)
            except subprocess.TimeoutExpired:
                process.kill()
                raise


def client(state: dict[str, Any], service: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=state["endpoint"],
        region_name=state["region"],
        aws_access_key_id="anything",
        aws_secret_access_key="anything",
    )
