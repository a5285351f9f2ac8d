"""Command-line entry: run the emulator in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from types import FrameType

from batchdrop_local.emulator.engine import EmulatorConfig
from batchdrop_local.emulator.server import EmulatorServer

DEFAULT_PORT = 4567


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options (--host, --port, --delay, --error-rate, --expire-rate, --api-key)."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="TCP port, 0 picks a free one (default: %(default)s)"
    )
    parser.add_argument(
        "--delay",
        type=float,
        default=EmulatorConfig.processing_delay,
        help="seconds from create until a batch ends (default: %(default)s)",
    )
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="share of requests that end errored (default: 0)"
    )
    parser.add_argument(
        "--expire-rate", type=float, default=0.0, help="share of requests that end expired (default: 0)"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds added before every API answer (default: 0)"
    )
    parser.add_argument(
        "--api-key", default=None, help="accept only this API key (default: any non-empty key)"
    )


def run_from_cli(args: argparse.Namespace) -> int:
    """Start the emulator, print its URL and a usage line, serve until SIGINT/SIGTERM; 0 on a clean stop."""
    try:
        config = EmulatorConfig(
            processing_delay=args.delay,
            error_rate=args.error_rate,
            expire_rate=args.expire_rate,
            api_key=args.api_key,
            latency=args.latency,
        )
        server = EmulatorServer(args.host, args.port, config)
    except (ValueError, OSError) as exc:
        print(f"batches emulator: {exc}", file=sys.stderr)
        return 2
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Signal handlers can only be installed from the main thread; elsewhere the caller stops us.
        with contextlib.suppress(ValueError):
            previous[signum] = signal.signal(signum, request_stop)
    try:
        with server:
            key_hint = "the configured API key" if args.api_key else "any non-empty API key"
            print(server.url, flush=True)
            print(
                f"Message Batches emulator: set ANTHROPIC_BASE_URL={server.url} and use {key_hint}; "
                f"stats at {server.url}/_emulator/stats; Ctrl-C stops it.",
                flush=True,
            )
            while not stopping.wait(0.5):
                pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
