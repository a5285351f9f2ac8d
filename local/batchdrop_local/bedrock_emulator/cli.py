"""Command line: run the Bedrock emulator in the foreground until SIGINT or SIGTERM.

`python -m batchdrop_local.bedrock_emulator --port N --aws-endpoint URL`, or, once hooked in with
`add_command(subparsers)`, `batchdrop local bedrock-emulator --port N`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from types import FrameType

from batchdrop_local.bedrock_emulator.admin import ADMIN_PREFIX
from batchdrop_local.bedrock_emulator.config import (
    DEFAULT_DURATIONS,
    TIMED_STATUSES,
    BedrockConfig,
    ManualClock,
)

DEFAULT_PORT = 4568


def parse_durations(text: str) -> dict[str, float]:
    """--durations: JSON {"InProgress": 10, ...}, or STATUS=SECONDS,STATUS=SECONDS."""
    try:
        if text.lstrip().startswith("{"):
            value = json.loads(text)
        else:
            value = {
                name: float(seconds) for name, _, seconds in (part.partition("=") for part in text.split(","))
            }
        BedrockConfig(durations=value)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"durations {text!r}: {exc}") from None
    return dict(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The emulator's options: --host, --port, --aws-endpoint, --durations, --min-records, ..."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="TCP port, 0 for any (default: %(default)s)"
    )
    parser.add_argument(
        "--aws-endpoint",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="the local AWS endpoint (moto) holding the inputs, outputs and the event bus "
        "(default: $AWS_ENDPOINT_URL)",
    )
    parser.add_argument(
        "--region", default=BedrockConfig.region, help="region of job ARNs (default: %(default)s)"
    )
    parser.add_argument(
        "--account", default=BedrockConfig.account, help="account of job ARNs (default: %(default)s)"
    )
    parser.add_argument(
        "--durations",
        type=parse_durations,
        default={},
        metavar="STATUS=SECONDS,...",
        help=f"seconds in each of {', '.join(TIMED_STATUSES)} (defaults: "
        + ", ".join(f"{name}={seconds:g}" for name, seconds in DEFAULT_DURATIONS.items())
        + ")",
    )
    parser.add_argument(
        "--min-records",
        type=int,
        default=BedrockConfig.min_records,
        help="minimum records per job (%(default)s)",
    )
    parser.add_argument(
        "--min-records-check",
        choices=("create", "validation"),
        default=BedrockConfig.min_records_check,
        help="refuse a small job at create (ValidationException) or fail it while validating (%(default)s)",
    )
    parser.add_argument(
        "--record-error-rate", type=float, default=0.0, help="share of records that end with an error (0)"
    )
    parser.add_argument(
        "--error-records",
        action="append",
        default=[],
        metavar="REGEX",
        help="records whose recordId matches REGEX end with an error; repeatable",
    )
    parser.add_argument(
        "--expiry-speedup",
        type=float,
        default=1.0,
        help="divide timeoutDurationInHours by this (3600: an hour of timeout lasts a second)",
    )
    parser.add_argument("--seed", type=int, default=0, help="another seed draws other records to fail")
    parser.add_argument(
        "--manual-clock", action="store_true", help='time moves only by POST /_bedrock/advance {"seconds": N}'
    )
    parser.add_argument("--no-events", action="store_true", help="do not put state-change events on the bus")


def add_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add `bedrock-emulator` to a subcommand group (e.g. `batchdrop local`); its parser."""
    parser = subparsers.add_parser(
        "bedrock-emulator", help="start only the Bedrock batch inference emulator (model invocation jobs)"
    )
    add_arguments(parser)
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Start the emulator, print its URL and a usage line, serve until SIGINT/SIGTERM; 0 on a clean stop."""
    from batchdrop_local.bedrock_emulator.server import BedrockEmulatorServer  # loads the SDK

    try:
        config = BedrockConfig(
            durations=args.durations,
            min_records=args.min_records,
            min_records_check=args.min_records_check,
            record_error_rate=args.record_error_rate,
            error_records=tuple(args.error_records),
            expiry_speedup=args.expiry_speedup,
            seed=args.seed,
            region=args.region,
            account=args.account,
            aws_endpoint=args.aws_endpoint,
            publish_events=not args.no_events,
        )
        clock = ManualClock() if args.manual_clock else None
        server = BedrockEmulatorServer(args.host, args.port, config, clock)
    except (ValueError, OSError) as exc:
        print(f"bedrock emulator: {exc}", file=sys.stderr)
        return 2
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # only the main thread may install handlers
            previous[signum] = signal.signal(signum, request_stop)
    try:
        with server:
            print(server.url, flush=True)
            where = args.aws_endpoint or "boto3's default AWS endpoint"
            print(
                f"Bedrock batch emulator: set AWS_ENDPOINT_URL_BEDROCK={server.url}; jobs read and write S3 "
                f"at {where}; stats at {server.url}{ADMIN_PREFIX}stats; Ctrl-C stops it.",
                flush=True,
            )
            while not stopping.wait(0.5):
                pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m batchdrop_local.bedrock_emulator", description=__doc__.split("\n")[0]
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
