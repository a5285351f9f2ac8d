"""Command-line entries: run the emulator in the foreground until SIGINT or SIGTERM
(`run_from_cli`), and steer a running one through its admin paths (`run_admin`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from batchdrop_local.emulator.catalogue import check_overrides
from batchdrop_local.emulator.engine import ARCHIVE_SECONDS, ERRORED_TYPES, EmulatorConfig, FailRule
from batchdrop_local.emulator.faults import ENDPOINTS
from batchdrop_local.emulator.server import ADMIN_PREFIX, EmulatorServer
from batchdrop_local.template import DEFAULT_STATE_DIR

DEFAULT_PORT = 4567
URL_VARIABLE = "BATCHDROP_EMULATOR_URL"
"""Environment variable naming the emulator for `run_admin` when --url is not given."""


def _fail_rule(text: str) -> FailRule:
    try:
        return FailRule.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _model_overrides(text: str) -> dict[str, Any]:
    """--model-overrides: JSON text, or @FILE holding it."""
    try:
        raw = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
        overrides = json.loads(raw)
        return check_overrides(overrides)
    except (OSError, json.JSONDecodeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"model overrides {text!r}: {exc}") from None


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options (--host, --port, --delay, --error-rate, --expire-rate, --api-key,
    --invalid-output-rate, --model-overrides, ...)."""
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
    parser.add_argument(
        "--error-type",
        default="api_error",
        choices=ERRORED_TYPES,
        metavar="TYPE",
        help="error.type of the lines --error-rate makes errored: %(choices)s (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="another seed picks other (repeatable) requests to fail"
    )
    parser.add_argument(
        "--fail-first",
        type=_fail_rule,
        action="append",
        default=[],
        metavar="REGEX=N[:OUTCOME]",
        help="requests whose custom_id matches REGEX end errored (or OUTCOME: expired, or an "
        "error type) the first N times they are submitted, then succeed; repeatable",
    )
    parser.add_argument(
        "--results-ttl",
        type=float,
        default=ARCHIVE_SECONDS,
        help="seconds from creation until a batch's results are archived (default: 29 days)",
    )
    parser.add_argument(
        "--queue-limit",
        type=int,
        default=None,
        help="most requests processing at once; a create past it is a 429 (default: no limit)",
    )
    parser.add_argument(
        "--invalid-output-rate",
        type=float,
        default=0.0,
        help="share of structured-output answers made deliberately invalid against their schema (default: 0)",
    )
    parser.add_argument(
        "--model-overrides",
        type=_model_overrides,
        default={},
        metavar="JSON|@FILE",
        help='fields merged onto catalogue models by id, e.g. \'{"claude-haiku-4-5": {"lifecycle": '
        '"deprecated", "retires_at": "2027-02-01T00:00:00Z"}}\'',
    )
    parser.add_argument(
        "--queue-retry-after",
        type=float,
        default=EmulatorConfig.queue_retry_after,
        help="retry-after seconds of a queue-full 429 (default: %(default)s)",
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
            error_type=args.error_type,
            seed=args.seed,
            fail_first_attempts=tuple(args.fail_first),
            results_ttl=args.results_ttl,
            queue_limit=args.queue_limit,
            queue_retry_after=args.queue_retry_after,
            invalid_output_rate=args.invalid_output_rate,
            model_overrides=args.model_overrides,
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


def add_admin_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the admin commands: stats, fault, cut, clear-faults, archive, queue, config, fail-first,
    model."""
    parser.add_argument(
        "--url",
        default=None,
        help=f"the emulator (default: ${URL_VARIABLE}, else the running local stack's, else "
        f"http://127.0.0.1:{DEFAULT_PORT})",
    )
    parser.add_argument(
        "--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="the running local stack's (for its URL)"
    )
    actions = parser.add_subparsers(dest="admin_command", required=True)
    actions.add_parser("stats", help="calls, batches, submissions per custom_id, refused creates, faults")
    fault = actions.add_parser("fault", help="make the next calls to an endpoint answer an error status")
    fault.add_argument("endpoint", choices=ENDPOINTS)
    fault.add_argument("status", type=int, help="HTTP status, 400..599 (e.g. 429, 500, 502, 504, 529)")
    fault.add_argument("--count", type=int, default=1, help="how many calls (default: 1)")
    fault.add_argument(
        "--after-effect",
        action="store_true",
        help="carry each call out first (a create makes its batch), then answer the error",
    )
    cut = actions.add_parser("cut", help="let the next calls take effect, then drop their answer midway")
    cut.add_argument("endpoint", choices=ENDPOINTS)
    cut.add_argument("--count", type=int, default=1, help="how many calls (default: 1)")
    cut.add_argument("--after-lines", type=int, default=0, help="whole result lines sent first (results)")
    actions.add_parser("clear-faults", help="drop every fault not yet used")
    archive = actions.add_parser("archive", help="archive an ended batch now: its results answer 404")
    archive.add_argument("batch_id")
    queue = actions.add_parser("queue", help="show the processing queue, or switch queue-full on or off")
    queue.add_argument("state", nargs="?", choices=("full", "free"), help="full: refuse every create (429)")
    config = actions.add_parser("config", help="show settings, or change them: NAME=VALUE (JSON values)")
    config.add_argument("changes", nargs="*", metavar="NAME=VALUE")
    fail_first = actions.add_parser(
        "fail-first", help="add fail rules (REGEX=N[:OUTCOME]) to the running ones"
    )
    fail_first.add_argument("rules", nargs="+", type=_fail_rule, metavar="REGEX=N[:OUTCOME]")
    model = actions.add_parser(
        "model",
        help="override catalogue fields of one model (merged onto the running model_overrides), "
        "e.g. model claude-haiku-4-5 lifecycle=deprecated retires_at=2027-02-01T00:00:00Z",
    )
    model.add_argument("model_id")
    model.add_argument("fields", nargs="*", metavar="NAME=VALUE", help="JSON values; none: drop its override")


def run_admin(args: argparse.Namespace) -> int:
    """Send one admin command to a running emulator and print its JSON answer.

    0 on success, 1 when the emulator refuses the command (its message goes to stderr), 2 when
    it cannot be reached or the command line is wrong.
    """
    base = (args.url or os.environ.get(URL_VARIABLE) or _stack_url(args.state_dir)).rstrip("/")
    try:
        method, path, body = _admin_request(args, base)
        answer = _call(method, base + ADMIN_PREFIX + path, body)
    except ValueError as exc:
        print(f"emulator admin: {exc}", file=sys.stderr)
        return 2
    except urllib.error.HTTPError as exc:
        print(f"emulator admin: {exc.code}: {_error_message(exc)}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"emulator admin: cannot reach {base}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(answer, indent=2))
    return 0


def _admin_request(args: argparse.Namespace, base: str) -> tuple[str, str, Any]:
    """(method, path under /_emulator/, JSON body or None) for the command."""
    command = args.admin_command
    if command == "stats":
        return "GET", "stats", None
    if command == "fault":
        spec = {"endpoint": args.endpoint, "status": args.status, "count": args.count}
        return "POST", "faults", {**spec, "after_effect": True} if args.after_effect else spec
    if command == "cut":
        return (
            "POST",
            "faults",
            {"endpoint": args.endpoint, "count": args.count, "cut_after_lines": args.after_lines},
        )
    if command == "clear-faults":
        return "DELETE", "faults", None
    if command == "archive":
        return "POST", f"batches/{args.batch_id}/archive", None
    if command == "queue":
        return (
            ("GET", "queue", None)
            if args.state is None
            else ("POST", "queue", {"full": args.state == "full"})
        )
    if command == "config":
        if not args.changes:
            return "GET", "config", None
        return "POST", "config", dict(_setting(change) for change in args.changes)
    running = _call("GET", base + ADMIN_PREFIX + "config", None)
    if command == "model":
        overrides = dict(running["model_overrides"])
        if args.fields:
            fields = dict(_setting(change) for change in args.fields)
            overrides[args.model_id] = {**overrides.get(args.model_id, {}), **fields}
        else:
            overrides.pop(args.model_id, None)
        return "POST", "config", {"model_overrides": overrides}
    # fail-first: the running rules plus the new ones.
    current = running["fail_first_attempts"]
    return "POST", "config", {"fail_first_attempts": current + [rule.to_dict() for rule in args.rules]}


def _setting(change: str) -> tuple[str, Any]:
    name, sep, text = change.partition("=")
    if not sep or not name:
        raise ValueError(f"{change!r} must look like NAME=VALUE")
    try:
        return name, json.loads(text)
    except json.JSONDecodeError:
        return name, text  # a bare word, e.g. error_type=overloaded_error


def _call(method: str, url: str, body: Any) -> Any:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the emulator URL must be http(s), got {url!r}")
    data = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - checked above
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - checked above
        return json.loads(answer.read())


def _error_message(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read())["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return str(error.reason)


def _stack_url(state_dir: Path) -> str:
    """The emulator of the local stack running from `state_dir`, else the default port."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        info = json.loads((state_dir / "state.json").read_text())
        if info["emulator"]:
            return str(info["anthropic_base_url"])
    return f"http://127.0.0.1:{DEFAULT_PORT}"
