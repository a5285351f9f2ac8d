"""``batchdrop cancel JOB_ID``: ask batchdrop to cancel a job, by writing its marker object.

The marker ``jobs/<job-id>/cancel`` is all it takes (any S3 client can write it); this command
finds the bucket for you: the running local stack's, a deployed stack's (by its name, from its
Outputs), or one you name.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import boto3

_JOB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def stack_bucket(stack_name: str) -> str:
    """The BucketName output of a deployed batchdrop stack."""
    stacks = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    for output in stacks[0].get("Outputs", []):
        if output["OutputKey"] == "BucketName":
            return str(output["OutputValue"])
    raise SystemExit(f"stack {stack_name} has no BucketName output: is it a batchdrop stack?")


def request_cancel(s3: Any, bucket: str, job_id: str) -> str:
    if not _JOB_ID_RE.match(job_id):
        raise SystemExit(f"not a job id: {job_id!r} (see jobs/ in the bucket, or the notification)")
    key = f"jobs/{job_id}/cancel"
    s3.put_object(Bucket=bucket, Key=key, Body=b"", ContentType="text/plain")
    return f"s3://{bucket}/{key}"


def cancel_command(job_id: str, *, stack_name: str | None, bucket: str | None, state_dir: Path) -> int:
    if stack_name or bucket:
        s3 = boto3.client("s3")
        target = bucket or stack_bucket(str(stack_name))
    else:
        state_file = state_dir / "state.json"
        if not state_file.exists():
            print(
                "batchdrop cancel: name the deployed stack (--stack-name) or bucket (--bucket), "
                "or start the local stack (make local-up)",
                file=sys.stderr,
            )
            return 2
        state = json.loads(state_file.read_text())
        s3 = boto3.client(
            "s3",
            endpoint_url=state["endpoint"],
            region_name=state["region"],
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
        )
        target = state["bucket"]
    marker = request_cancel(s3, target, job_id)
    print(
        f"Cancel requested for job {job_id}: wrote {marker}.\n"
        "The batch is canceled within moments; answers that finished are collected as usual and\n"
        "the other documents get an .error.json saying they were canceled."
    )
    return 0
