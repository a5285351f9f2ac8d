"""Fixtures for the emulator's contract tests: a running emulator, an SDK client and raw HTTP."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import anthropic
import pytest
from anthropic.types.messages import MessageBatch
from anthropic.types.messages.batch_create_params import Request

from batchdrop_local.emulator import EmulatorConfig, EmulatorServer

API_KEY = "test-key"
DELAY = 0.2
"""Processing delay of the shared fixture: short, and tests poll rather than sleep."""
LONG_DELAY = 3600.0
"""A delay no test outlives, even on a loaded machine, for batches that must stay in progress."""
DEADLINE = 60.0
"""How long a wait for a batch to end may take before the test fails: it bounds a broken
emulator, not the speed of a working one."""


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(config=EmulatorConfig(processing_delay=DELAY)) as server:
        yield server


@pytest.fixture
def client(emulator: EmulatorServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=emulator.url, api_key=API_KEY, max_retries=2, timeout=10) as sdk:
        yield sdk


@pytest.fixture
def raw(emulator: EmulatorServer) -> Iterator[RawHttp]:
    http = RawHttp(emulator.url)
    yield http
    http.close()


def make_request(custom_id: str, text: str = "The quick brown fox jumps.", **params: Any) -> Request:
    """One batch request entry with valid params; keyword arguments override params (even invalidly)."""
    body: dict[str, Any] = {
        "model": "claude-haiku-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": text}],
    }
    body.update(params)
    return cast("Request", {"custom_id": custom_id, "params": body})


def wait_ended(client: anthropic.Anthropic, batch_id: str) -> MessageBatch:
    """Poll until the batch has ended (fails after DEADLINE seconds)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        batch = client.messages.batches.retrieve(batch_id)
        if batch.processing_status == "ended":
            return batch
        assert time.monotonic() < deadline, f"{batch_id} still {batch.processing_status}"
        time.sleep(0.02)


def batch_outcomes(client: anthropic.Anthropic, *requests: Any, **create: Any) -> dict[str, tuple[str, str]]:
    """custom_id -> (result type, or error type for an errored line; its error message) of a
    batch of `requests`, once it has ended."""
    batch = client.messages.batches.create(requests=list(requests), **create)
    wait_ended(client, batch.id)
    lines: dict[str, tuple[str, str]] = {}
    for line in client.messages.batches.results(batch.id):
        if line.result.type == "errored":
            lines[line.custom_id] = (line.result.error.error.type, line.result.error.error.message)
        else:
            lines[line.custom_id] = (line.result.type, "")
    return lines


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RawHttp:
    """Plain HTTP/1.1 against the emulator over one keep-alive connection, for what the SDK hides."""

    def __init__(self, base_url: str) -> None:
        url = urlsplit(base_url)
        self.host, self.port = str(url.hostname), int(url.port or 80)
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=10)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        key: str | None = API_KEY,
        data: bytes | None = None,
    ) -> RawResponse:
        """Send `body` as JSON (or `data` as is) with `x-api-key: key` unless key is None."""
        sent = {"anthropic-version": "2023-06-01"}
        if key is not None:
            sent["x-api-key"] = key
        if body is not None:
            data = json.dumps(body).encode()
            sent["content-type"] = "application/json"
        sent.update(headers or {})
        self.connection.request(method, path, body=data, headers=sent)
        response = self.connection.getresponse()
        payload = response.read()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, payload)

    def close(self) -> None:
        self.connection.close()
