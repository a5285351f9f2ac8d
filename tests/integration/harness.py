"""What integration tests work with: the provisioned stack, its clients, and its handlers."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest

from batchdrop_local.emulator import EmulatorServer
from batchdrop_local.provision import LocalStackResources
from batchdrop_local.runtime import LambdaContext, lambda_environment, load_handler
from batchdrop_local.template import PROJECT_ROOT

EVENTS_DIR = PROJECT_ROOT / "events"


def s3_event(bucket: str, keys: list[str]) -> dict[str, Any]:
    """A plain S3 ObjectCreated notification for these keys, URL-encoded as S3 sends them."""
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key, safe="/"), "size": 1}},
            }
            for key in keys
        ]
    }


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event


@dataclass
class Stack:
    """The provisioned resources, boto3 clients on them, and the handlers."""

    endpoint: str
    resources: LocalStackResources
    emulator: EmulatorServer
    monkeypatch: pytest.MonkeyPatch

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    @property
    def bucket(self) -> str:
        return self.resources.names["DocumentsBucket"]

    @property
    def table(self) -> Any:
        return boto3.resource(
            "dynamodb",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).Table(self.resources.names["JobsTable"])

    def handler(self, logical_id: str, **env: str) -> Callable[[dict[str, Any]], Any]:
        """Cold-start the function: its environment from the template (plus ``env``), its module
        imported anew."""
        fn = self.resources.functions[logical_id]
        for name, value in lambda_environment(fn, self.endpoint, env).items():
            self.monkeypatch.setenv(name, value)
        handler = load_handler(fn)
        return lambda event: handler(event, LambdaContext(fn, fn.timeout))

    def handler_at(
        self, logical_id: str, clock: Callable[[], datetime], **env: str
    ) -> Callable[[dict[str, Any]], Any]:
        """As ``handler``, with ``clock`` in place of the handler module's ``clock`` (the time it
        hands its use case), so that a test moves time on instead of waiting for it to pass."""
        invoke = self.handler(logical_id, **env)
        module = sys.modules[self.resources.functions[logical_id].handler.rpartition(".")[0]]
        assert callable(getattr(module, "clock", None)), f"{logical_id} has no clock to replace"
        self.monkeypatch.setattr(module, "clock", clock)
        return invoke

    def put_document(self, key: str, body: bytes | str) -> None:
        self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body)

    def get_text(self, key: str) -> str:
        return str(self.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read().decode())

    def submit(self, documents: dict[str, bytes], **env: str) -> dict[str, Any]:
        """Upload the documents and run Submit on their S3 event; its response."""
        for key, body in documents.items():
            self.put_document(key, body)
        result: dict[str, Any] = self.handler("SubmitFunction", **env)(s3_event(self.bucket, list(documents)))
        return result

    def manifest(self, job_id: str) -> dict[str, dict[str, Any]]:
        """A job's manifest entries by source key (``key#item`` for request-list lines)."""
        lines = self.get_text(f"jobs/{job_id}/manifest.jsonl").splitlines()
        return {
            entry["source_key"] + (f"#{entry['item']}" if entry.get("item") else ""): entry
            for entry in map(json.loads, lines)
        }

    def keys(self, prefix: str) -> list[str]:
        pages = self.client("s3").get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def capture_queue(self, name: str) -> str:
        sqs = self.client("sqs")
        url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
        return url

    def queue_arn(self, url: str) -> str:
        attributes = self.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def drain(self, url: str, wait: int = 1) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        bodies: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get(
                "Messages", []
            )
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
