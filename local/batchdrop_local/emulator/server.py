"""HTTP face of the emulator: the Message Batches endpoints, the Models API, token counting,
auth, the API version header, faults and admin paths.

Standard library only (`http.server`). HTTP/1.1 with keep-alive, as the SDK's connection pool
expects; results are streamed with chunked transfer encoding. Admin paths under /_emulator/
need no API key: GET stats, POST faults (an error status, before or after the call took effect,
or a cut answer), DELETE faults, GET or POST config, POST batches/{id}/archive, GET or POST queue
(the queue-full switch). Every API call needs an `anthropic-version` of 2023-06-01 or
2026-10-21 (what the SDK 2.x sends); a batch's requests obey the rules of the version it was
created with.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from batchdrop_local.emulator.engine import (
    DEFAULT_LIST_LIMIT,
    ApiError,
    BatchEngine,
    EmulatorConfig,
    new_id,
)
from batchdrop_local.emulator.faults import ENDPOINTS, Fault, FaultPlan
from batchdrop_local.emulator.rules import API_VERSIONS, parse_betas
from batchdrop_local.http_base import KeepAliveHandler, TrackingHTTPServer

_log = logging.getLogger(__name__)

BATCHES_PATH = "/v1/messages/batches"
MODELS_PATH = "/v1/models"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
ADMIN_PREFIX = "/_emulator/"
RUNTIME_SETTINGS = (
    "processing_delay",
    "error_rate",
    "expire_rate",
    "latency",
    "error_type",
    "seed",
    "fail_first_attempts",
    "results_ttl",
    "queue_limit",
    "queue_retry_after",
    "invalid_output_rate",
    "model_overrides",
)
"""The settings the admin config path reads and changes."""
_BATCH_PATH = re.compile(r"/v1/messages/batches/([^/]+)(/cancel|/results)?")
_MODEL_PATH = re.compile(r"/v1/models/([^/]+)")
_ARCHIVE_PATH = re.compile(r"/_emulator/batches/([^/]+)/archive")
_HOST_HEADER = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")
_RETRYABLE = frozenset({408, 409, 429})
_DRAIN_CHUNK = 1 << 20


class EmulatorServer:
    """A local Anthropic Message Batches API on a real socket, served from a daemon thread.

    The socket is bound on construction, so `url` is known at once (port 0 picks a free port).
    `clock` is the engine's (when batches end, are archived); `sleep` waits out the configured
    latency. Tests pass their own, to move time on or to see the waits, instead of waiting.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        config: EmulatorConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.engine = BatchEngine(config, clock)
        self.sleep = sleep
        self.faults = FaultPlan()
        self._calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()
        self._httpd = TrackingHTTPServer(host, port, self, _Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL for `anthropic.Anthropic(base_url=...)`, e.g. http://127.0.0.1:54321."""
        host, port = self._httpd.server_address[:2]
        host = str(host)
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def start(self) -> EmulatorServer:
        """Serve in a daemon thread; a server starts once."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},  # also how long stop() may wait
            name=f"batches-emulator-{self.url}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open keep-alive connections and close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def inject_fault(self, endpoint: str, status: int, count: int = 1, after_effect: bool = False) -> None:
        """Make the next `count` calls to `endpoint` answer `status` with a matching error body.

        With `after_effect` each call is carried out first, then answers the error, as a gateway
        that timed out on a slow backend does (typically 500, 502, 504, 529): a create has made
        its batch and counted its requests as submitted, a cancel has canceled. The SDK retries
        such statuses, so a retrying create makes a second batch.
        """
        self.faults.add(endpoint, status, count, after_effect)

    def inject_cut(self, endpoint: str, count: int = 1, after_lines: int = 0) -> None:
        """Make the next `count` calls to `endpoint` take effect, then lose their answer halfway.

        The status line and headers go out, then part of the body, then the connection closes:
        on `results`, `after_lines` whole result lines and half of the next; elsewhere half of
        the JSON body. The SDK raises mid-body (httpx2's RemoteProtocolError while streaming
        results; APIConnectionError, after its retries, on the other endpoints).
        """
        self.faults.add_cut(endpoint, count, after_lines)

    def clear_faults(self) -> None:
        """Drop every injected fault not yet used."""
        self.faults.clear()

    def update_config(self, **changes: Any) -> EmulatorConfig:
        """Change settings at run time (delay, rates, fail rules and results_ttl apply to batches
        created afterwards; queue_limit to the next create)."""
        return self.engine.update_config(**changes)

    def archive_batch(self, batch_id: str) -> dict[str, Any]:
        """Archive an ended batch now (as 29 days after creation would); the batch object.

        Raises ApiError 404 for an unknown batch, 400 for one still processing.
        """
        return self.engine.archive_batch(batch_id, self.url)

    def set_queue_full(self, full: bool) -> None:
        """Refuse every create with 429 rate_limit_error (no batch made) until released."""
        self.engine.set_queue_full(full)

    def queue(self) -> dict[str, Any]:
        """{"queue_full", "queue_limit", "requests_processing"} as they stand now."""
        return self.engine.queue()

    def stats(self) -> dict[str, Any]:
        """Engine counts plus HTTP calls per endpoint (faulted ones included) and pending faults."""
        with self._calls_lock:
            calls = {endpoint: self._calls[endpoint] for endpoint in ENDPOINTS}
        return {**self.engine.stats(), "calls": calls, "pending_faults": self.faults.pending()}

    def count_call(self, endpoint: str) -> None:
        """Record one HTTP call to `endpoint`."""
        with self._calls_lock:
            self._calls[endpoint] += 1


class _Handler(KeepAliveHandler):
    server_version = "batchdrop-emulator"
    _request_id = ""

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    @property
    def emulator(self) -> EmulatorServer:
        emulator: EmulatorServer = self.server.emulator
        return emulator

    def _handle(self, method: str) -> None:
        self._request_id = new_id("req_")
        try:
            url = urlsplit(self.path)
            path = url.path.rstrip("/") or "/"
            body = self._read_body()
            if path.startswith(ADMIN_PREFIX):
                self._send_json(200, self._admin(method, path, body))
                return
            endpoint, batch_id = _route(method, path)
            self.emulator.count_call(endpoint)
            latency = self.emulator.engine.config.latency
            if latency:
                self.emulator.sleep(latency)
            if body is None:
                raise ApiError(
                    413, f"Request body exceeds {self.emulator.engine.config.max_body_bytes} bytes"
                )
            fault = self.emulator.faults.take(endpoint)
            if fault is not None and fault.status is not None and not fault.after_effect:
                raise self._fault(fault.status, endpoint)
            query = parse_qs(url.query)
            if fault is not None and fault.status is not None:
                self._act_then_fail(endpoint, batch_id, query, body, fault.status)
            self._authenticate()
            self._check_version()
            self._serve(endpoint, batch_id, query, body, fault)
        except ApiError as error:
            self._send_error(error)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            _log.exception("emulator failed on %s %s", method, self.path)
            self.close_connection = True
            self._send_error(ApiError(500, "Internal error in the emulator"))

    def _serve(
        self, endpoint: str, batch_id: str, query: dict[str, list[str]], body: bytes, cut: Fault | None
    ) -> None:
        """Answer an API call; with a cut fault, its successful answer is cut short (an error is not)."""
        answer = self._carry_out(endpoint, batch_id, query, body)
        if isinstance(answer, tuple):
            self._send_results(answer, cut=cut)
        else:
            self._send_json(200, answer, cut=cut)

    def _carry_out(
        self, endpoint: str, batch_id: str, query: dict[str, list[str]], body: bytes
    ) -> dict[str, Any] | tuple[bytes, ...]:
        """Do what the call asks: the JSON answer, or the result lines for `results`."""
        engine = self.emulator.engine
        base_url = self._base_url()
        if endpoint == "create":
            return engine.create(body, base_url, self._version(), self._betas())
        if endpoint == "list_models":
            lifecycles = [*query.get("lifecycle[]", []), *query.get("lifecycle", [])]
            return engine.list_models(
                limit=_int_param(query, "limit", DEFAULT_LIST_LIMIT),
                after_id=_last(query, "after_id"),
                before_id=_last(query, "before_id"),
                lifecycles=tuple(lifecycles),
            )
        if endpoint == "retrieve_model":
            return engine.retrieve_model(batch_id)
        if endpoint == "count_tokens":
            return engine.count_tokens(body, self._version(), self._betas())
        if endpoint == "retrieve":
            return engine.retrieve(batch_id, base_url)
        if endpoint == "list":
            return engine.list_batches(
                base_url,
                limit=_int_param(query, "limit", DEFAULT_LIST_LIMIT),
                after_id=_last(query, "after_id"),
                before_id=_last(query, "before_id"),
            )
        if endpoint == "cancel":
            return engine.cancel(batch_id, base_url)
        if endpoint == "delete":
            return engine.delete(batch_id)
        return engine.results(batch_id)

    def _act_then_fail(
        self, endpoint: str, batch_id: str, query: dict[str, list[str]], body: bytes, status: int
    ) -> None:
        """Carry the call out as usual, then answer `status` instead (an after_effect fault).

        Whatever the call itself would have answered (success, or its own error such as a 401
        or a queue-full 429) is replaced by the injected error, as a gateway's late answer is.
        """
        try:
            self._authenticate()
            self._check_version()
            self._carry_out(endpoint, batch_id, query, body)
            note = "after the call took effect"
        except ApiError as error:
            note = f"after the call itself failed with {error.status}"
        raise self._fault(status, endpoint, note)

    def _admin(self, method: str, path: str, body: bytes | None) -> dict[str, Any]:
        if body is None:
            raise ApiError(413, "Request body too large")
        if path == "/_emulator/stats" and method == "GET":
            return self.emulator.stats()
        if path == "/_emulator/faults" and method == "POST":
            # {"endpoint", "status", "count", "after_effect"} for an error status (after the call
            # took effect if after_effect), or {"endpoint", "cut_after_lines", "count"} for an
            # answer cut short.
            spec = _json_object(body)
            try:
                unknown = set(spec) - {"endpoint", "status", "count", "after_effect", "cut_after_lines"}
                if unknown:
                    raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
                if "cut_after_lines" in spec:
                    if "status" in spec:
                        raise ValueError("give either status or cut_after_lines, not both")
                    if "after_effect" in spec:
                        raise ValueError("after_effect goes with status; a cut always takes effect")
                    self.emulator.faults.add_cut(
                        spec.get("endpoint"), spec.get("count", 1), spec["cut_after_lines"]
                    )
                else:
                    self.emulator.faults.add(
                        spec.get("endpoint"),
                        spec.get("status"),
                        spec.get("count", 1),
                        spec.get("after_effect", False),
                    )
            except ValueError as exc:
                raise ApiError(400, str(exc)) from exc
            return {"pending_faults": self.emulator.faults.pending()}
        archive = _ARCHIVE_PATH.fullmatch(path)
        if archive is not None and method == "POST":
            return self.emulator.engine.archive_batch(archive.group(1), self._base_url())
        if path == "/_emulator/queue" and method in ("GET", "POST"):
            if method == "POST":
                # {"full": true} refuses every create until {"full": false}.
                spec = _json_object(body)
                if set(spec) != {"full"}:
                    raise ApiError(400, 'give {"full": true} or {"full": false}')
                try:
                    self.emulator.set_queue_full(spec["full"])
                except ValueError as exc:
                    raise ApiError(400, str(exc)) from exc
            return self.emulator.engine.queue()
        if path == "/_emulator/faults" and method == "DELETE":
            self.emulator.clear_faults()
            return {"pending_faults": self.emulator.faults.pending()}
        if path == "/_emulator/config" and method in ("GET", "POST"):
            if method == "POST":
                changes = _json_object(body)
                unknown = set(changes) - set(RUNTIME_SETTINGS)
                if unknown:
                    allowed = ", ".join(RUNTIME_SETTINGS)
                    raise ApiError(
                        400, f"unknown setting(s) {', '.join(sorted(unknown))}; allowed: {allowed}"
                    )
                try:
                    self.emulator.update_config(**changes)
                except ValueError as exc:
                    raise ApiError(400, str(exc)) from exc
            config = self.emulator.engine.config
            settings = {name: getattr(config, name) for name in RUNTIME_SETTINGS}
            settings["fail_first_attempts"] = [rule.to_dict() for rule in config.fail_first_attempts]
            settings["model_overrides"] = dict(config.model_overrides)
            return {**settings, "api_key_required": config.api_key is not None}
        raise ApiError(404, f"No admin endpoint {method} {path}")

    def _fault(self, status: int, endpoint: str, note: str = "") -> ApiError:
        headers = {}
        if status in _RETRYABLE or status >= 500:
            headers["retry-after-ms"] = str(self.emulator.engine.config.fault_retry_after_ms)
        if status == 429:
            headers["retry-after"] = "0"
        where = f"{endpoint}, {note}" if note else endpoint
        return ApiError(status, f"Injected fault for {where} (emulator)", headers=headers)

    def _authenticate(self) -> None:
        key = self.headers.get("x-api-key", "").strip()
        authorization = self.headers.get("Authorization", "")
        if not key and authorization[:7].lower() == "bearer ":
            key = authorization[7:].strip()
        if not key:
            raise ApiError(401, "x-api-key header or Authorization: Bearer header is required")
        expected = self.emulator.engine.config.api_key
        if expected is not None and not hmac.compare_digest(key.encode(), expected.encode()):
            raise ApiError(401, "invalid x-api-key")

    def _check_version(self) -> None:
        """400 unless the call names an API version the API knows."""
        version = self.headers.get("anthropic-version")
        if version is None:
            raise ApiError(400, "anthropic-version: header is required")
        if version.strip() not in API_VERSIONS:
            raise ApiError(
                400,
                f"anthropic-version: {version!r} is not a valid version; "
                f"use one of {', '.join(API_VERSIONS)}",
            )

    def _version(self) -> str:
        return str(self.headers.get("anthropic-version", "")).strip()

    def _betas(self) -> tuple[str, ...]:
        return parse_betas(", ".join(self.headers.get_all("anthropic-beta") or []))

    def _base_url(self) -> str:
        """Where this request was sent, so results_url leads the client back here."""
        host = self.headers.get("Host", "")
        return f"http://{host}" if _HOST_HEADER.fullmatch(host) else self.emulator.url

    def _read_body(self) -> bytes | None:
        """The request body, or None if it exceeds the configured limit (it is then drained)."""
        limit = self.emulator.engine.config.max_body_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        header = self.headers.get("Content-Length")
        if not header:
            return b""
        try:
            length = int(header)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise ApiError(400, f"Invalid Content-Length header {header!r}")
        if length <= limit:
            return self.rfile.read(length)
        while length > 0:
            drained = self.rfile.read(min(length, _DRAIN_CHUNK))
            if not drained:
                break
            length -= len(drained)
        return None

    def _read_chunked(self, limit: int) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise ApiError(400, "Malformed chunked request body") from None
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return None if total > limit else b"".join(parts)
            chunk = self.rfile.read(size)
            self.rfile.readline()
            total += size
            if total > limit:
                parts.clear()
            else:
                parts.append(chunk)

    def _send_json(
        self, status: int, payload: Any, headers: dict[str, str] | None = None, cut: Fault | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self._common_headers(headers or {})
        if cut is None:
            self.wfile.write(data)
            return
        self.wfile.write(data[: len(data) // 2])
        self._hang_up()

    def _send_error(self, error: ApiError) -> None:
        body = {
            "type": "error",
            "error": {"type": error.error_type, "message": error.message},
            "request_id": self._request_id,
        }
        self._send_json(error.status, body, error.headers)

    def _send_results(self, lines: tuple[bytes, ...], cut: Fault | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-jsonl")
        self.send_header("Transfer-Encoding", "chunked")
        self._common_headers({})
        whole = lines if cut is None else lines[: cut.cut_after_lines]
        step = self.emulator.engine.config.results_page_size
        for start in range(0, len(whole), step):
            chunk = b"".join(whole[start : start + step])
            self.wfile.write(b"%X\r\n%s\r\n" % (len(chunk), chunk))
        if cut is None:
            self.wfile.write(b"0\r\n\r\n")
            return
        rest = b"".join(lines[cut.cut_after_lines :])
        if rest:
            # The next chunk is announced in full, but only half of its first line arrives.
            self.wfile.write(b"%X\r\n%s" % (len(rest), rest[: max(1, len(lines[cut.cut_after_lines]) // 2)]))
        self._hang_up()

    def _hang_up(self) -> None:
        """Close the connection now, in the middle of an answer (a cut fault)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _common_headers(self, headers: dict[str, str]) -> None:
        self.send_header("request-id", self._request_id)
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()


def _route(method: str, path: str) -> tuple[str, str]:
    """(endpoint, batch or model id) for an API path; 404 for unknown paths, 405 for wrong methods."""
    model = _MODEL_PATH.fullmatch(path)
    if path == MODELS_PATH:
        allowed = {"GET": "list_models"}
        batch_id = ""
    elif model is not None:
        allowed = {"GET": "retrieve_model"}
        batch_id = model.group(1)
    elif path == COUNT_TOKENS_PATH:
        allowed = {"POST": "count_tokens"}
        batch_id = ""
    elif path == BATCHES_PATH:
        allowed = {"POST": "create", "GET": "list"}
        batch_id = ""
    else:
        match = _BATCH_PATH.fullmatch(path)
        if match is None:
            raise ApiError(404, f"No endpoint at {path}")
        batch_id, suffix = match.group(1), match.group(2)
        if suffix == "/cancel":
            allowed = {"POST": "cancel"}
        elif suffix == "/results":
            allowed = {"GET": "results"}
        else:
            allowed = {"GET": "retrieve", "DELETE": "delete"}
    if method not in allowed:
        raise ApiError(
            405, f"Method {method} is not allowed on {path}", headers={"Allow": ", ".join(allowed)}
        )
    return allowed[method], batch_id


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return payload


def _last(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    value = _last(query, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"{name}: Input should be a valid integer, got {value!r}") from None
