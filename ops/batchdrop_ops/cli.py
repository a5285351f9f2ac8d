"""The operator commands as argparse subcommands, for the ``batchdrop`` command to add:

batchdrop status            jobs open and recent, with progress and cost (--watch)
batchdrop job JOB_ID        one job in detail, with its documents (--watch)
batchdrop cost              spending and savings per profile since a date
batchdrop documents JOB_ID  what happened to each document of a job
batchdrop cancel JOB_ID     cancel a job (writes its jobs/<job-id>/cancel marker)

Each reads the running local stack (``--state-dir``, whose default the caller gives: the local
stack's) or a deployed stack (``--stack-name``). The commands load boto3 only when they run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from batchdrop_ops.defaults import DEFAULT_COST_SINCE, DEFAULT_INTERVAL, DEFAULT_STATUS_SINCE

if TYPE_CHECKING:
    Subcommands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

JOB_ID_HELP = "the job id (jobs/<job-id>/ in the bucket, or in the notification)"


def cmd_cancel(args: argparse.Namespace) -> int:
    from batchdrop_ops.commands import cancel_command

    return cancel_command(
        args.job_id, stack_name=args.stack_name, bucket=args.bucket, state_dir=args.state_dir
    )


def cmd_status(args: argparse.Namespace) -> int:
    from batchdrop_ops.commands import status_command

    return status_command(
        stack_name=args.stack_name,
        state_dir=args.state_dir,
        since=args.since,
        watch=args.watch,
        interval=args.interval,
    )


def cmd_job(args: argparse.Namespace) -> int:
    from batchdrop_ops.commands import job_command

    return job_command(
        args.job_id,
        stack_name=args.stack_name,
        state_dir=args.state_dir,
        watch=args.watch,
        interval=args.interval,
    )


def cmd_cost(args: argparse.Namespace) -> int:
    from batchdrop_ops.commands import cost_command

    return cost_command(stack_name=args.stack_name, state_dir=args.state_dir, since=args.since)


def cmd_documents(args: argparse.Namespace) -> int:
    from batchdrop_ops.commands import documents_command

    return documents_command(args.job_id, stack_name=args.stack_name, state_dir=args.state_dir)


def _add_stack_arguments(parser: argparse.ArgumentParser, state_dir: Path) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack-name", help="a deployed stack (AWS credentials from the environment)")
    where.add_argument(
        "--state-dir", type=Path, default=state_dir, help="the running local stack's (default)"
    )


def add_cancel_command(commands: Subcommands, state_dir: Path) -> None:
    cancel = commands.add_parser(
        "cancel", help="cancel a job: its batch stops, finished answers are kept, the rest reported canceled"
    )
    cancel.add_argument("job_id", help=JOB_ID_HELP)
    where = cancel.add_mutually_exclusive_group()
    where.add_argument("--stack-name", help="a deployed stack (AWS credentials from the environment)")
    where.add_argument("--bucket", help="the documents bucket of a deployed stack")
    cancel.add_argument("--state-dir", type=Path, default=state_dir, help="the running local stack's")
    cancel.set_defaults(run=cmd_cancel)


def add_documents_command(commands: Subcommands, state_dir: Path) -> None:
    documents = commands.add_parser(
        "documents",
        help="a completed job's documents table: each document's outcome, tokens, cost and result",
    )
    documents.add_argument("job_id", help=JOB_ID_HELP)
    _add_stack_arguments(documents, state_dir)
    documents.set_defaults(run=cmd_documents)


def add_report_commands(commands: Subcommands, state_dir: Path) -> None:
    """status, job, cost and documents: read-only views of a stack's jobs table and bucket."""
    status = commands.add_parser(
        "status",
        help="open jobs, then recent ones: progress, age, cost (scans the jobs table: for operators)",
    )
    status.add_argument(
        "--since",
        default=DEFAULT_STATUS_SINCE,
        help="recent means created since: 7d, 12h, 2w or a date 2026-11-01 (%(default)s)",
    )
    status.add_argument("--watch", action="store_true", help="redraw until no job is open (Ctrl-C stops)")
    status.add_argument(
        "--interval", type=float, default=DEFAULT_INTERVAL, help="seconds between redraws (%(default)s)"
    )
    _add_stack_arguments(status, state_dir)
    status.set_defaults(run=cmd_status)

    job = commands.add_parser("job", help="one job in detail: its record, documents, results and summary")
    job.add_argument("job_id", help=JOB_ID_HELP)
    job.add_argument("--watch", action="store_true", help="redraw until the job is completed (Ctrl-C stops)")
    job.add_argument(
        "--interval", type=float, default=DEFAULT_INTERVAL, help="seconds between redraws (%(default)s)"
    )
    _add_stack_arguments(job, state_dir)
    job.set_defaults(run=cmd_job)

    cost = commands.add_parser(
        "cost",
        help="spending and savings of completed jobs, per profile (scans the jobs table: for operators)",
    )
    cost.add_argument(
        "--since",
        default=DEFAULT_COST_SINCE,
        help="completed since: 30d, 12h, 2w or a date 2026-11-01 (%(default)s)",
    )
    _add_stack_arguments(cost, state_dir)
    cost.set_defaults(run=cmd_cost)
    add_documents_command(commands, state_dir)


def add_operator_commands(commands: Subcommands, state_dir: Path) -> None:
    """Every operator command: cancel, status, job, cost and documents."""
    add_cancel_command(commands, state_dir)
    add_report_commands(commands, state_dir)
