"""``batchdrop``: the local stack, the emulator, the demo, local invocation and cancelling.

batchdrop local up          moto + the Anthropic and Bedrock emulators + the template's functions
batchdrop local emulator    only the Anthropic Message Batches emulator
batchdrop local bedrock-emulator  only the Bedrock batch inference (and InvokeModel) emulator
batchdrop local emulator-admin  faults, archival, queue-full, settings of a running emulator
batchdrop local aws-fault   make calls to the local stack's AWS services fail on cue
batchdrop demo              the whole pipeline on samples/, then stop
batchdrop invoke F EVENT    sam local invoke, or in process against the local stack
batchdrop cancel JOB_ID     cancel a job (writes its jobs/<job-id>/cancel marker)
batchdrop status            jobs open and recent, with progress and cost (--watch)
batchdrop job JOB_ID        one job in detail, with its documents (--watch)
batchdrop cost              spending and savings per profile since a date
batchdrop documents JOB_ID  what happened to each document of a job (also `batchdrop local documents`)

cancel, status, job, cost and documents are the operator commands of batchdrop_ops (they serve
deployed stacks too); this module adds them with the local stack's state directory as default.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from batchdrop_local.aws_faults import add_cli_commands as add_aws_fault_commands
from batchdrop_local.bedrock_emulator import add_command as add_bedrock_emulator_command
from batchdrop_local.bedrock_emulator.cli import parse_durations
from batchdrop_local.emulator import add_admin_arguments as add_emulator_admin_arguments
from batchdrop_local.emulator import add_cli_arguments as add_emulator_arguments
from batchdrop_local.emulator import run_admin as run_emulator_admin
from batchdrop_local.emulator import run_from_cli as run_emulator
from batchdrop_local.template import DEFAULT_STATE_DIR
from batchdrop_ops.cli import add_documents_command, add_operator_commands

DEMO_BEDROCK_MIN_RECORDS = 1
"""The demo's minimum records per Bedrock job, for the emulator and the functions alike."""

if TYPE_CHECKING:  # the stack loads moto and boto3: only the commands that run it import it
    from batchdrop_local.stack import LocalStack, LocalStackOptions


def _wait_for_stop_signal() -> None:
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def add_stack_arguments(parser: argparse.ArgumentParser, default_port: int = 4566) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface for every local endpoint (%(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=default_port, help="AWS (moto) endpoint port (%(default)s)"
    )
    parser.add_argument(
        "--emulator-port", type=int, default=0, help="Anthropic emulator port (default: any free port)"
    )
    parser.add_argument(
        "--batching-window",
        type=float,
        default=2.0,
        help="seconds the ingest queue gathers uploads into one batch (template: 60) (%(default)s)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=2.0,
        help="seconds between polls of open batches (template: rate(5 minutes)) (%(default)s)",
    )
    parser.add_argument(
        "--emulator-delay", type=float, default=3.0, help="seconds until an emulated batch ends (%(default)s)"
    )
    parser.add_argument(
        "--emulator-error-rate", type=float, default=0.0, help="share of emulated requests that end errored"
    )
    parser.add_argument(
        "--real-api",
        action="store_true",
        help="use the real Anthropic API with $ANTHROPIC_API_KEY instead of the emulator (costs money)",
    )
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a template parameter, e.g. --parameter DefaultModel=claude-sonnet-4-5",
    )
    parser.add_argument(
        "--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="where state.json and function logs go"
    )
    parser.add_argument(
        "--function-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for every function, e.g. --function-env BATCHDROP_CRASH_POINTS=...",
    )
    parser.add_argument(
        "--bedrock-port", type=int, default=0, help="Bedrock emulator port (default: any free port)"
    )
    parser.add_argument(
        "--bedrock-durations",
        type=parse_durations,
        default={},
        metavar="STATUS=SECONDS,...",
        help="seconds a local Bedrock job spends in Submitted, Validating, Scheduled, InProgress, "
        "Stopping (defaults: 0.5 each, InProgress 1)",
    )
    parser.add_argument(
        "--bedrock-min-records",
        type=int,
        default=100,
        help="the Bedrock emulator's minimum records per batch job "
        "(%(default)s; Bedrock's quota is 100 by default)",
    )
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=30,
        help="seconds before a failed ingest message is retried (template: 5700) (%(default)s)",
    )


def stack_options(args: argparse.Namespace) -> LocalStackOptions:
    from batchdrop_local.stack import BEDROCK_DURATIONS, LocalStackOptions

    return LocalStackOptions(
        host=args.host,
        port=args.port,
        emulator_port=args.emulator_port,
        batching_window=args.batching_window,
        poll_interval=args.poll_interval,
        emulator_delay=args.emulator_delay,
        emulator_error_rate=args.emulator_error_rate,
        real_api=args.real_api,
        anthropic_api_key=os.environ.get("ANTHROPIC_API_KEY"),
        parameters=_pairs("--parameter", args.parameter),
        state_dir=args.state_dir,
        function_env=_pairs("--function-env", args.function_env),
        visibility_timeout=args.visibility_timeout,
        bedrock_port=args.bedrock_port,
        bedrock_durations={**BEDROCK_DURATIONS, **args.bedrock_durations},
        bedrock_min_records=args.bedrock_min_records,
    )


def _pairs(option: str, items: list[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"{option} takes NAME=VALUE, got {item!r}")
        pairs[name] = value
    return pairs


def print_stack_info(stack: LocalStack) -> None:
    info = stack.info()
    api = f"{info['anthropic_base_url']} (" + (
        f"emulator; batches end after {stack.options.emulator_delay:g} s)"
        if info["emulator"]
        else "REAL API: billed)"
    )
    print("batchdrop local stack is up", flush=True)
    for label, value in (
        ("AWS endpoint", f"{info['endpoint']}  (any credentials, region {info['region']})"),
        ("bucket", f"{info['bucket']}  (drop files under s3://{info['bucket']}/inbox/)"),
        ("topic", info["topic_arn"]),
        ("jobs table", info["jobs_table"]),
        ("event bus", info["event_bus"]),
        ("Anthropic API", api),
        ("Bedrock", _bedrock_line(stack)),
        (
            "timing",
            f"batching window {stack.options.batching_window:g} s, "
            f"poll every {stack.options.poll_interval:g} s",
        ),
        ("function logs", info["logs"]),
    ):
        print(f"  {label:<14} {value}")
    print(
        f"Try: aws --endpoint-url {info['endpoint']} "
        f"s3 cp samples/inbox s3://{info['bucket']}/inbox --recursive\n"
        "Ctrl-C stops the stack.",
        flush=True,
    )


def _bedrock_line(stack: LocalStack) -> str:
    assert stack.bedrock is not None
    durations = stack.bedrock.engine.config.durations
    return (
        f"{stack.info()['bedrock_url']}  (emulator of batch jobs and InvokeModel; a job ends after "
        f"{sum(durations.values()) - durations.get('Stopping', 0):g} s, minimum "
        f"{stack.options.bedrock_min_records} records; the functions reach it as AWS_ENDPOINT_URL_BEDROCK)"
    )


def cmd_local_up(args: argparse.Namespace) -> int:
    from batchdrop_local.stack import LocalStack

    stack = LocalStack(stack_options(args), report=lambda line: print(f"  > {line}", flush=True))
    try:
        stack.start()
    except OSError as exc:
        stack.stop()
        print(
            f"batchdrop: could not start the local stack: {exc} (is port {args.port} in use? try --port)",
            file=sys.stderr,
        )
        return 1
    except ValueError as exc:
        stack.stop()
        print(f"batchdrop: {exc}", file=sys.stderr)
        return 2
    try:
        print_stack_info(stack)
        _wait_for_stop_signal()
        print("stopping the local stack...", flush=True)
    finally:
        stack.stop()
    print("stopped.", flush=True)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from batchdrop_local.demo import run_demo

    return run_demo(stack_options(args), samples=args.samples, output=args.output, timeout=args.timeout)


def cmd_invoke(args: argparse.Namespace) -> int:
    from batchdrop_local.invoke import invoke

    return invoke(args.function, args.event, state_dir=args.state_dir, force_local=args.in_process)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="batchdrop", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="run batchdrop on this machine").add_subparsers(
        dest="local_command", required=True
    )
    up = local.add_parser("up", help="start the local stack (moto, the emulator, the functions)")
    add_stack_arguments(up)
    up.set_defaults(run=cmd_local_up)
    emulator = local.add_parser("emulator", help="start only the Anthropic Message Batches emulator")
    add_emulator_arguments(emulator)
    emulator.set_defaults(run=run_emulator)
    add_bedrock_emulator_command(local)
    emulator_admin = local.add_parser(
        "emulator-admin", help="steer a running emulator (faults, archive, queue, settings, models)"
    )
    add_emulator_admin_arguments(emulator_admin)
    emulator_admin.set_defaults(run=run_emulator_admin)
    add_aws_fault_commands(local, DEFAULT_STATE_DIR)
    add_documents_command(local, DEFAULT_STATE_DIR)  # batchdrop local documents JOB_ID: the same command

    demo = commands.add_parser("demo", help="run the whole pipeline locally on the sample documents")
    add_stack_arguments(demo, default_port=0)
    demo.add_argument("--samples", type=Path, default=Path("samples"), help="folder mirrored into the bucket")
    demo.add_argument("--output", type=Path, default=Path("demo-results"), help="where results are copied")
    demo.add_argument("--timeout", type=float, default=180.0, help="give up after this many seconds")
    # The samples make a Bedrock job of a few documents: far below Bedrock's minimum of 100.
    demo.set_defaults(
        run=cmd_demo, state_dir=DEFAULT_STATE_DIR / "demo", bedrock_min_records=DEMO_BEDROCK_MIN_RECORDS
    )

    invoke = commands.add_parser(
        "invoke",
        help="sam local invoke where a container runtime exists, else in process against the local stack",
    )
    invoke.add_argument("function", help="logical id in template.yaml, e.g. SubmitFunction")
    invoke.add_argument("event", type=Path, help="event file, e.g. events/s3-put.json")
    invoke.add_argument(
        "--in-process", action="store_true", help="skip sam even if a container runtime exists"
    )
    invoke.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="the running local stack's")
    invoke.set_defaults(run=cmd_invoke)

    add_operator_commands(commands, DEFAULT_STATE_DIR)  # cancel, status, job, cost, documents
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
