"""Fixtures for the Bedrock batch backend's integration tests: the Bedrock emulator (a real HTTP
server, on a manual clock) over the integration tier's moto server, the real boto3 `bedrock`
and `s3` clients, and the adapter built from them as a wiring would."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from batchdrop.adapters.bedrock_backend import BedrockBatches, bedrock_batches
from batchdrop_local.bedrock_emulator import BedrockConfig, BedrockEmulatorServer, ManualClock
from tests.bedrock_emulator.conftest import BUCKET, FAST, MODEL_ID, ROLE_ARN, aws, bedrock_client

JOB_ID = "20261202T120000Z-0a1b2c3d"


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    reset = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")  # noqa: S310 - loopback
    urllib.request.urlopen(reset).close()  # noqa: S310
    client = aws("s3", moto_endpoint)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_800_000_000.0)


@pytest.fixture
def bedrock_emulator(moto_endpoint: str, s3: Any, clock: ManualClock) -> Iterator[BedrockEmulatorServer]:
    config = BedrockConfig(aws_endpoint=moto_endpoint, durations=dict(FAST), publish_events=False)
    with BedrockEmulatorServer(config=config, clock=clock) as server:
        yield server


@pytest.fixture
def backend(bedrock_emulator: BedrockEmulatorServer, s3: Any) -> BedrockBatches:
    """The adapter on a client without retries: every fault reaches it."""
    return bedrock_batches(bedrock_client(bedrock_emulator.url), s3, BUCKET, ROLE_ARN, model_id=None)


def requests(count: int, model: str = MODEL_ID, **params: Any) -> list[dict[str, Any]]:
    """Messages requests as Submit builds them (custom_ids of domain.documents.custom_id)."""
    built = []
    for number in range(count):
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": 256,
            "system": "Answer briefly.",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": f"Document number {number}."}]}
            ],
        }
        body.update(params)
        built.append({"custom_id": f"doc-{number:06d}-{number:016x}", "params": body})
    return built
