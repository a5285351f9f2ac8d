"""``batchdrop cancel JOB_ID``: ask batchdrop to cancel a job, by writing its marker object.

The marker ``jobs/<job-id>/cancel`` is all it takes (any S3 client can write it); this command
finds the bucket for you: the running local stack's, a deployed stack's (by its name, from its
Outputs), or one you name.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import boto3

from batchdrop_local.reports import ReportError, resolve_stack

_JOB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def request_cancel(s3: Any, bucket: str, job_id: str) -> str:
    if not _JOB_ID_RE.match(job_id):
        raise SystemExit(f"not a job id: {job_id!r} (see jobs/ in the bucket, or the notification)")
    key = f"jobs/{job_id}/cancel"
    s3.put_object(Bucket=bucket, Key=key, Body=b"", ContentType="text/plain")
    return f"s3://{bucket}/{key}"


def cancel_command(job_id: str, *, stack_name: str | None, bucket: str | None, state_dir: Path) -> int:
    if bucket:
        s3, target = boto3.client("s3"), bucket
    else:
        # The local stack (state file) or a deployed one (its Outputs), found as `status` finds it.
        try:
            stack = resolve_stack(stack_name=stack_name, state_dir=state_dir)
        except ReportError as exc:
            print(f"batchdrop cancel: {exc}", file=sys.stderr)
            return 2
        s3, target = stack.client("s3"), stack.bucket
    marker = request_cancel(s3, target, job_id)
    print(
        f"Cancel requested for job {job_id}: wrote {marker}.\n"
        "The batch is canceled within moments; answers that finished are collected as usual and\n"
        "the other documents get an .error.json saying they were canceled."
    )
    return 0
