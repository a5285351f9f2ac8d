"""Integration fixtures: a moto server and the Anthropic emulator on loopback, the resources of
template.yaml created in moto by the local stack's provisioning, and the real handlers loaded
through the module paths that template.yaml names."""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from batchdrop_local.emulator import EmulatorConfig, EmulatorServer
from batchdrop_local.moto_atomic import make_dynamodb_writes_atomic
from batchdrop_local.provision import provision
from batchdrop_local.template import PROJECT_ROOT
from tests.integration.harness import Stack


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    make_dynamodb_writes_atomic()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{server._server.server_port}"  # type: ignore[union-attr]
    server.stop()


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    # One per test: reconciliation lists the API's batches, which must be this test's alone.
    with EmulatorServer(config=EmulatorConfig(processing_delay=0.0, keep_requests=True)) as server:
        yield server


@pytest.fixture
def stack(moto_endpoint: str, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Stack:
    # A clean moto for every test; the names match the events/ files (bucket batchdrop-local).
    reset = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")  # noqa: S310 - loopback
    urllib.request.urlopen(reset).close()  # noqa: S310
    emulator.update_config(processing_delay=0.0, error_rate=0.0, expire_rate=0.0)
    # Documents get the same custom_ids in every test (moto's versions start anew): their
    # attempts must too, or a fail rule's first attempt was another test's.
    emulator.engine.forget_submissions()
    resources = provision(moto_endpoint, parameters={"AnthropicBaseUrl": emulator.url})
    return Stack(moto_endpoint, resources, emulator, monkeypatch)


@pytest.fixture
def sample_documents() -> dict[str, bytes]:
    """The sample documents that the events/ files name, by key."""
    root = PROJECT_ROOT / "samples"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
