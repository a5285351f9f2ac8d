"""Run the template's handlers as Lambda would: one process per function ("container"),
its own environment, the handler module imported once (cold start), one invocation at a time,
a timeout that kills the container.
"""

from __future__ import annotations

import contextlib
import importlib.util
import multiprocessing
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any

from batchdrop_local import crash_points
from batchdrop_local.provision import ACCOUNT_ID, REGION, LocalFunction


@dataclass(frozen=True)
class Invocation:
    ok: bool
    payload: Any
    error: str | None
    duration: float


class LambdaContext:
    """The fields of Lambda's context object that handlers and Powertools read."""

    def __init__(self, fn: LocalFunction, timeout: float) -> None:
        self.function_name = fn.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{fn.name}"
        self.memory_limit_in_mb = fn.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


def lambda_environment(
    fn: LocalFunction, aws_endpoint: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The variables Lambda sets, the template's, and the local endpoints."""
    return {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # moto accepts any credentials
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": fn.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
        **fn.environment,
        **(extra or {}),
    }


def bedrock_environment(url: str | None) -> dict[str, str]:
    """The service-specific endpoints that send the SDK's `bedrock` and `bedrock-runtime`
    clients to the local Bedrock emulator (none when there is no emulator)."""
    if not url:
        return {}
    return {"AWS_ENDPOINT_URL_BEDROCK": url, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": url}


def load_handler(fn: LocalFunction) -> Callable[[dict[str, Any], Any], Any]:
    """Import the handler module that the template names, as a fresh module (a cold start).

    The function's CodeUri goes first on sys.path, as /var/task does in Lambda.
    """
    module_name, _, attribute = fn.handler.rpartition(".")
    if str(fn.code_dir) not in sys.path:
        sys.path.insert(0, str(fn.code_dir))
    spec = importlib.util.spec_from_file_location(module_name, fn.module_path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {fn.module_path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # as `import submit` would; a later load replaces it
    spec.loader.exec_module(module)
    crash_points.install(module)  # inert unless BATCHDROP_CRASH_POINTS names a point
    handler = getattr(module, attribute)
    if not callable(handler):
        raise TypeError(f"{fn.handler} is not callable")
    return handler


def _serve(conn: Connection, fn: LocalFunction, env: dict[str, str], log_path: str | None) -> None:
    """The container: set up like Lambda, import once, then answer invocations."""
    if log_path:
        log = open(log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout = sys.stderr = log
    os.environ.update(env)
    init_error: str | None = None
    try:
        handler = load_handler(fn)
    except Exception:
        init_error = "Init error: " + traceback.format_exc()
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        event, timeout = message
        if init_error:
            conn.send((False, None, init_error))
            continue
        try:
            result = handler(event, LambdaContext(fn, timeout))
            conn.send((True, result, None))
        except Exception:
            conn.send((False, None, traceback.format_exc()))


class FunctionWorker:
    """One function's container, restarted after a timeout or a crash."""

    def __init__(self, fn: LocalFunction, env: dict[str, str], log_dir: Path | None = None) -> None:
        self.fn = fn
        self._env = env
        self._log_path = str(log_dir / f"{fn.logical_id}.log") if log_dir else None
        self._lock = threading.Lock()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self.invocations = 0

    def _start(self) -> Connection:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(child, self.fn, self._env, self._log_path),
            name=self.fn.logical_id,
            daemon=True,
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        return parent

    def warm(self) -> None:
        """Start the container now, so its init phase overlaps with the caller's set-up."""
        with self._lock:
            if self._process is None:
                self._start()

    def invoke(self, event: dict[str, Any], timeout: float | None = None) -> Invocation:
        limit = float(timeout if timeout is not None else self.fn.timeout)
        with self._lock:
            alive = self._process is not None and self._process.is_alive()
            conn = self._conn if alive and self._conn is not None else self._start()
            started = time.monotonic()
            self.invocations += 1
            conn.send((event, limit))
            # The first call also waits for the cold start, as Lambda's init phase does not
            # count against the timeout (up to 10 s); allow that on top.
            if not conn.poll(limit + (10.0 if self.invocations == 1 else 0.0)):
                self._kill()
                return Invocation(
                    False, None, f"Task timed out after {limit:.0f} seconds", time.monotonic() - started
                )
            try:
                ok, payload, error = conn.recv()
            except EOFError:
                self._kill()
                return Invocation(False, None, "the function's process exited", time.monotonic() - started)
            return Invocation(ok, payload, error, time.monotonic() - started)

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        self._process = self._conn = None
        self.invocations = 0

    def stop(self) -> None:
        with self._lock:
            if self._process is None or self._conn is None:
                return
            with contextlib.suppress(BrokenPipeError, OSError):
                self._conn.send(None)
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)
            self._process = self._conn = None
