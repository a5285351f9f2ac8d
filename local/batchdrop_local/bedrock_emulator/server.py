"""HTTP face of the Bedrock emulator: the four batch inference operations as botocore's `bedrock`
service model (rest-json, 2023-04-20) sends and reads them, on-demand InvokeModel as its
`bedrock-runtime` model (rest-json, 2023-09-30) does, and the admin paths under /_bedrock/.

Standard library only (`http.server`), HTTP/1.1 with keep-alive for botocore's connection pool.
Requests are signed by the SDK but the signature is not checked: its credential scope only
names the region of new job ARNs. Errors answer the service model's status, the exception name
in `x-amzn-ErrorType` and `{"message": ...}`. Admin paths: see `admin`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from batchdrop_local.bedrock_emulator.admin import ADMIN_PREFIX, handle_admin
from batchdrop_local.bedrock_emulator.config import BedrockConfig, Clock, ManualClock
from batchdrop_local.bedrock_emulator.engine import BedrockEngine
from batchdrop_local.bedrock_emulator.errors import BedrockError, validation
from batchdrop_local.bedrock_emulator.faults import OPERATIONS, FaultPlan
from batchdrop_local.bedrock_emulator.on_demand import INVOKE_PATH, OnDemand
from batchdrop_local.bedrock_emulator.on_demand import MAX_BODY_BYTES as MAX_INVOKE_BYTES
from batchdrop_local.bedrock_emulator.requests import parse_create, parse_list_query
from batchdrop_local.http_base import KeepAliveHandler, TrackingHTTPServer

_log = logging.getLogger(__name__)

__all__ = ["ADMIN_PREFIX", "BedrockEmulatorServer"]
_JOB_PATH = re.compile(r"/model-invocation-job/([^/]+)(/stop)?")
_SCOPE_REGION = re.compile(r"Credential=[^/,]+/\d{8}/([a-z0-9-]+)/bedrock/")
MAX_BODY_BYTES = 1 << 20
"""The largest request body of the control plane and the admin paths (InvokeModel's: 25 MB)."""
TICK_INTERVAL = 0.1
"""Seconds between the ticker thread's ticks in real time."""


class BedrockEmulatorServer:
    """A local Bedrock batch inference control plane on a real socket, served from a daemon thread.

    With a ManualClock, time moves only by `advance` (or POST /_bedrock/advance); with the system
    clock a ticker thread moves jobs along in real time. Port 0 picks a free port.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        config: BedrockConfig | None = None,
        clock: Clock | None = None,
        s3: Any | None = None,
        events: Any | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.engine = BedrockEngine(config, clock, s3=s3, events=events)
        self.sleep = sleep  # how an answer waits out the configured latency (tests pass their own)
        self.on_demand = OnDemand()
        self.faults = FaultPlan()
        self._calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()
        self._httpd = TrackingHTTPServer(host, port, self, _Handler)
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        """The endpoint_url for `boto3.client("bedrock", endpoint_url=...)`."""
        host, port = self._httpd.server_address[:2]
        host = str(host)
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def manual_clock(self) -> bool:
        return isinstance(self.engine.clock, ManualClock)

    def start(self) -> BedrockEmulatorServer:
        if self._threads:
            raise RuntimeError("the Bedrock emulator is already running")
        serve = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="bedrock-emulator",
            daemon=True,
        )
        self._threads.append(serve)
        if not self.manual_clock:
            self._threads.append(
                threading.Thread(target=self._tick_forever, name="bedrock-ticker", daemon=True)
            )
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._threads:
            self._httpd.shutdown()
            for thread in self._threads:
                thread.join()
            self._threads = []
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> BedrockEmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _tick_forever(self) -> None:
        while not self._stopping.wait(TICK_INTERVAL):
            try:
                self.engine.tick()
            except Exception:
                _log.exception("the Bedrock emulator's ticker failed")

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the manual clock forward and every job with it; the stats after."""
        clock = self.engine.clock
        if not isinstance(clock, ManualClock):
            raise ValueError("advance needs the manual clock; this emulator runs in real time")
        clock.advance(seconds)
        self.engine.tick()
        return self.stats()

    def inject_fault(
        self,
        operation: str,
        status: int | None = None,
        count: int = 1,
        after_effect: bool = False,
        code: str | None = None,
    ) -> None:
        """Make the next `count` calls to `operation` (create, get, list, stop,
        invoke) answer an error."""
        self.faults.add(operation, status, count, after_effect, code)

    def update_config(self, **changes: Any) -> BedrockConfig:
        return self.engine.update_config(**changes)

    def count_call(self, operation: str) -> None:
        with self._calls_lock:
            self._calls[operation] += 1

    def stats(self) -> dict[str, Any]:
        """Calls per operation (faulted ones included), pending faults, jobs and events."""
        with self._calls_lock:
            calls = {operation: self._calls[operation] for operation in OPERATIONS}
        return {
            **self.engine.stats(),
            "invocations": self.on_demand.stats(),
            "calls": calls,
            "pending_faults": self.faults.pending(),
        }


class _Handler(KeepAliveHandler):
    server_version = "batchdrop-bedrock-emulator"

    @property
    def emulator(self) -> BedrockEmulatorServer:
        emulator: BedrockEmulatorServer = self.server.emulator
        return emulator

    def _handle(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            operation, identifier = (
                ("admin", "") if url.path.startswith(ADMIN_PREFIX) else _route(method, url.path)
            )
            body = self._read_body(MAX_INVOKE_BYTES if operation == "invoke" else MAX_BODY_BYTES)
            if operation == "admin":
                self._send(200, handle_admin(self.emulator, method, url.path.rstrip("/"), body))
                return
            self.emulator.count_call(operation)
            latency = self.emulator.engine.config.latency
            if latency:
                self.emulator.sleep(latency)
            fault = self.emulator.faults.take(operation)
            if fault is not None and not fault.after_effect:
                raise fault.error(operation)
            try:
                answer, headers = self._carry_out(operation, identifier, parse_qs(url.query), body)
            except BedrockError:
                if fault is None:
                    raise
            if fault is not None:
                raise fault.error(operation)
            self._send(200, answer, headers)
        except BedrockError as error:
            self._send(error.status, {"message": error.message}, {"x-amzn-ErrorType": error.code})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            _log.exception("the Bedrock emulator failed on %s %s", method, self.path)
            self.close_connection = True
            self._send(
                500,
                {"message": "Internal error in the emulator"},
                {"x-amzn-ErrorType": "InternalServerException"},
            )

    def _carry_out(
        self, operation: str, identifier: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The answer of one API call and its extra headers; BedrockError if refused."""
        engine = self.emulator.engine
        if operation == "invoke":
            return self.emulator.on_demand.invoke(
                identifier, body, self.headers.get("Content-Type"), self.headers.get("Accept")
            )
        if operation == "create":
            return engine.create(parse_create(body), self._region()), {}
        if operation == "get":
            return engine.get(identifier), {}
        if operation == "stop":
            return engine.stop(identifier), {}
        return engine.list_jobs(**parse_list_query(query)), {}

    def _region(self) -> str | None:
        match = _SCOPE_REGION.search(self.headers.get("Authorization", ""))
        return match.group(1) if match else None

    def _read_body(self, limit: int) -> bytes:
        header = self.headers.get("Content-Length")
        if not header:
            return b""
        try:
            length = int(header)
        except ValueError:
            length = -1
        if not 0 <= length <= limit:
            self.close_connection = True
            raise validation(f"Invalid or too large Content-Length {header!r}")
        return self.rfile.read(length)

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


def _route(method: str, path: str) -> tuple[str, str]:
    """(operation, job identifier) of an API path; UnknownOperationException otherwise."""
    if path == "/model-invocation-job" and method == "POST":
        return "create", ""
    if path == "/model-invocation-jobs" and method == "GET":
        return "list", ""
    invoke = INVOKE_PATH.fullmatch(path)
    if invoke is not None and method == "POST":
        return "invoke", unquote(invoke.group(1))
    match = _JOB_PATH.fullmatch(path)
    if match is not None:
        identifier = unquote(match.group(1))
        if match.group(2) and method == "POST":
            return "stop", identifier
        if not match.group(2) and method == "GET":
            return "get", identifier
    raise BedrockError("UnknownOperationException", f"No operation at {method} {path}", 404)
