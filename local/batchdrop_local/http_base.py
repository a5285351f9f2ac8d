"""What both local emulators' HTTP servers share (the Claude API's and Bedrock's): a threading
server that binds without a DNS lookup, keeps track of its keep-alive connections so that a stop
can close them, and does not log a client hanging up between requests; and a keep-alive handler
that routes every method to one ``_handle``."""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_log = logging.getLogger("batchdrop_local.http")


class TrackingHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its emulator and its open connections."""

    daemon_threads = True
    request_queue_size = 128  # the listen backlog; the default 5 drops bursts of new connections

    def __init__(self, host: str, port: int, emulator: Any, handler: type[BaseHTTPRequestHandler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((host, port), handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, a DNS lookup an emulator has no use for.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up between keep-alive requests is no error worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class KeepAliveHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive; GET, POST and DELETE go to ``_handle(method)``; its connection tracked."""

    protocol_version = "HTTP/1.1"
    timeout = 60
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: TrackingHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s %s", self.address_string(), format % args)

    def _handle(self, method: str) -> None:
        """Each emulator's handler answers here; a handler that does not is not implemented."""
        self.send_error(501, f"{method} is not served here")
