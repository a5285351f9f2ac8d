"""Which stack a command reads: the running local stack (its ``state.json``) or a deployed
stack (its CloudFormation Outputs), and the adapters that reach its jobs table and bucket."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from batchdrop.adapters.dynamodb_jobs import JobStore
from batchdrop.adapters.s3_bucket import DocumentStore
from batchdrop_ops.errors import ReportError


@dataclass(frozen=True)
class StackTarget:
    """Where a batchdrop stack keeps its jobs, and how to reach it."""

    bucket: str
    jobs_table: str
    endpoint: str | None = None  # the local stack's moto endpoint; None: AWS itself
    region: str | None = None
    description: str = ""

    def _session_args(self) -> dict[str, Any]:
        if not self.endpoint:
            return {}
        return {
            "endpoint_url": self.endpoint,
            "region_name": self.region,
            "aws_access_key_id": "local",
            "aws_secret_access_key": "local",  # moto accepts any credentials
            # A stopped local stack should say so at once, not after minutes of retries.
            "config": Config(connect_timeout=2, read_timeout=30, retries={"max_attempts": 2}),
        }

    def client(self, service: str) -> Any:
        return boto3.client(service, **self._session_args())  # type: ignore[call-overload]

    def jobs(self) -> JobStore:
        """The jobs table, through the functions' own adapter."""
        return JobStore(boto3.resource("dynamodb", **self._session_args()).Table(self.jobs_table))

    def store(self) -> DocumentStore:
        """The bucket, through the functions' own adapter."""
        return DocumentStore(self.client("s3"), self.bucket)


def resolve_stack(*, stack_name: str | None, state_dir: Path) -> StackTarget:
    """The deployed stack named ``stack_name`` (its Outputs), else the local stack of ``state_dir``."""
    if stack_name:
        return deployed_stack(stack_name)
    state_file = state_dir / "state.json"
    if not state_file.exists():
        raise ReportError(
            f"no local stack is running ({state_file} does not exist): start it with `make local-up`, "
            "or name a deployed stack with --stack-name"
        )
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read {state_file}: {exc}") from exc
    missing = [key for key in ("endpoint", "region", "bucket", "jobs_table") if not state.get(key)]
    if missing:
        raise ReportError(f"{state_file} has no {', '.join(missing)}: restart the local stack")
    return StackTarget(
        bucket=str(state["bucket"]),
        jobs_table=str(state["jobs_table"]),
        endpoint=str(state["endpoint"]),
        region=str(state["region"]),
        description=f"the local stack at {state['endpoint']}",
    )


def deployed_stack(stack_name: str) -> StackTarget:
    """The bucket and jobs table of a deployed stack, from its ``BucketName`` and ``JobsTableName``
    Outputs (AWS credentials and region from the environment)."""
    try:
        stacks = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise ReportError(f"stack {stack_name}: {exc.response['Error'].get('Message', exc)}") from exc
    except BotoCoreError as exc:
        raise ReportError(f"stack {stack_name}: {exc}") from exc
    outputs = {o["OutputKey"]: str(o["OutputValue"]) for o in stacks[0].get("Outputs", [])}
    missing = [name for name in ("BucketName", "JobsTableName") if name not in outputs]
    if missing:
        raise ReportError(
            f"stack {stack_name} has no {' or '.join(missing)} output: is it a batchdrop stack?"
        )
    return StackTarget(
        bucket=outputs["BucketName"],
        jobs_table=outputs["JobsTableName"],
        description=f"stack {stack_name}",
    )
