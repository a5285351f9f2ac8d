"""Steering the emulator from another process: admin HTTP paths and the command line."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest

from batchdrop_local.emulator import EmulatorServer, add_cli_arguments, run_from_cli

from .conftest import DEADLINE, RawHttp, make_request

BATCHES = "/v1/messages/batches"


def test_faults_can_be_injected_over_http_without_a_key(raw: RawHttp, emulator: EmulatorServer) -> None:
    injected = raw.request(
        "POST", "/_emulator/faults", {"endpoint": "create", "status": 529, "count": 2}, key=None
    )

    assert injected.status == 200
    assert injected.json()["pending_faults"]["create"] == [{"status": 529, "remaining": 2}]
    statuses = [raw.request("POST", BATCHES, {"requests": [make_request("a")]}).status for _ in range(3)]
    assert statuses == [529, 529, 200]


@pytest.mark.parametrize(
    "spec",
    [
        {"endpoint": "upload", "status": 500},
        {"endpoint": "create", "status": 200},
        {"endpoint": "create", "status": "500"},
        {"endpoint": "create", "status": 500, "count": 0},
        {"endpoint": "results", "cut_after_lines": -1},
        {"endpoint": "results", "cut_after_lines": True},
        {"endpoint": "results", "cut_after_lines": 1, "status": 500},
        {"endpoint": "upload", "cut_after_lines": 1},
    ],
)
def test_invalid_fault_specs_are_400(raw: RawHttp, spec: dict[str, object]) -> None:
    response = raw.request("POST", "/_emulator/faults", spec, key=None)

    assert response.status == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_cuts_can_be_injected_and_faults_cleared_over_http(raw: RawHttp, emulator: EmulatorServer) -> None:
    raw.request("POST", "/_emulator/faults", {"endpoint": "results", "status": 500}, key=None)
    injected = raw.request(
        "POST", "/_emulator/faults", {"endpoint": "results", "cut_after_lines": 3, "count": 2}, key=None
    )

    assert injected.status == 200
    assert injected.json()["pending_faults"]["results"] == [
        {"status": 500, "remaining": 1},
        {"cut_after_lines": 3, "remaining": 2},
    ]
    cleared = raw.request("DELETE", "/_emulator/faults", key=None)
    assert cleared.status == 200
    assert cleared.json()["pending_faults"]["results"] == []
    assert emulator.stats()["pending_faults"]["results"] == []


def test_stats_over_http(raw: RawHttp) -> None:
    raw.request("POST", BATCHES, {"requests": [make_request("a"), make_request("b")]})
    raw.request("GET", BATCHES)
    raw.request("GET", BATCHES)

    stats = raw.request("GET", "/_emulator/stats", key=None).json()

    assert stats["batches_created"] == 1
    assert stats["requests_by_custom_id"] == {"a": 1, "b": 1}
    assert stats["calls"] == {"create": 1, "retrieve": 0, "list": 2, "cancel": 0, "delete": 0, "results": 0}


def test_config_can_be_changed_over_http(raw: RawHttp) -> None:
    changed = raw.request("POST", "/_emulator/config", {"processing_delay": 0, "error_rate": 1}, key=None)
    assert changed.json() == {
        "processing_delay": 0,
        "error_rate": 1,
        "expire_rate": 0.0,
        "latency": 0.0,
        "error_type": "api_error",
        "seed": None,
        "fail_first_attempts": [],
        "results_ttl": 29 * 24 * 3600,
        "queue_limit": None,
        "queue_retry_after": 60.0,
        "api_key_required": False,
    }
    batch_id = raw.request("POST", BATCHES, {"requests": [make_request("a")]}).json()["id"]

    batch = raw.request("GET", f"{BATCHES}/{batch_id}").json()

    assert batch["processing_status"] == "ended"
    assert batch["request_counts"]["errored"] == 1
    assert raw.request("GET", "/_emulator/config", key=None).json()["error_rate"] == 1


def test_added_latency_delays_api_answers_not_admin_ones(raw: RawHttp) -> None:
    raw.request("POST", "/_emulator/config", {"latency": 0.2}, key=None)
    started = time.monotonic()
    raw.request("GET", BATCHES)
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    raw.request("GET", "/_emulator/stats", key=None)
    assert time.monotonic() - started < 0.2


@pytest.mark.parametrize(
    "change", [{"latency": -1}, {"error_rate": 2}, {"api_key": "x"}, {"processing_delay": "soon"}]
)
def test_invalid_config_changes_are_400(raw: RawHttp, change: dict[str, object]) -> None:
    assert raw.request("POST", "/_emulator/config", change, key=None).status == 400


def test_unknown_admin_path_is_404(raw: RawHttp) -> None:
    assert raw.request("GET", "/_emulator/nothing", key=None).status == 404


def test_cli_arguments_and_defaults() -> None:
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)

    defaults = parser.parse_args([])
    assert (defaults.host, defaults.port, defaults.delay) == ("127.0.0.1", 4567, 2.0)
    assert (defaults.error_rate, defaults.expire_rate, defaults.api_key) == (0.0, 0.0, None)
    given = parser.parse_args(
        ["--delay", "0.5", "--error-rate", "0.1", "--expire-rate", "0.2", "--api-key", "k"]
    )
    assert (given.delay, given.error_rate, given.expire_rate, given.api_key) == (0.5, 0.1, 0.2, "k")


def test_run_from_cli_refuses_a_bad_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)

    assert (
        run_from_cli(parser.parse_args(["--port", "0", "--error-rate", "0.7", "--expire-rate", "0.7"])) == 2
    )
    assert "error_rate and expire_rate" in capsys.readouterr().err


@pytest.mark.timeout(60)
def test_run_from_cli_serves_until_sigterm() -> None:
    script = (
        "import argparse, sys\n"
        "from batchdrop_local.emulator import add_cli_arguments, run_from_cli\n"
        "parser = argparse.ArgumentParser()\n"
        "add_cli_arguments(parser)\n"
        "sys.exit(run_from_cli(parser.parse_args(sys.argv[1:])))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, "--port", "0", "--delay", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        usage = process.stdout.readline()
        assert url.startswith("http://127.0.0.1:")
        assert "ANTHROPIC_BASE_URL" in usage
        raw = RawHttp(url)
        assert raw.request("GET", "/_emulator/stats", key=None).status == 200
        raw.close()

        process.send_signal(signal.SIGTERM)

        assert process.wait(timeout=DEADLINE) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    port = urlsplit(url).port
    assert port is not None
    EmulatorServer(port=port).stop()  # the port was released


def test_run_from_cli_reports_a_busy_port(
    emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)
    busy_port = str(urlsplit(emulator.url).port)

    assert run_from_cli(parser.parse_args(["--port", busy_port])) == 2
    assert "batches emulator:" in capsys.readouterr().err
