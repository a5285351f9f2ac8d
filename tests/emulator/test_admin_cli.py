"""Steering the emulator from another process: admin HTTP paths and the command line."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from batchdrop_local.cli import build_parser
from batchdrop_local.emulator import EmulatorConfig, EmulatorServer, FailRule, add_cli_arguments, run_from_cli

from .conftest import DEADLINE, DELAY, RawHttp, make_request

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
    assert stats["calls"] == {
        "create": 1,
        "retrieve": 0,
        "list": 2,
        "cancel": 0,
        "delete": 0,
        "results": 0,
        "list_models": 0,
        "retrieve_model": 0,
        "count_tokens": 0,
    }


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
        "invalid_output_rate": 0.0,
        "model_overrides": {},
        "api_key_required": False,
    }
    batch_id = raw.request("POST", BATCHES, {"requests": [make_request("a")]}).json()["id"]

    batch = raw.request("GET", f"{BATCHES}/{batch_id}").json()

    assert batch["processing_status"] == "ended"
    assert batch["request_counts"]["errored"] == 1
    assert raw.request("GET", "/_emulator/config", key=None).json()["error_rate"] == 1


def test_added_latency_delays_api_answers_not_admin_ones() -> None:
    waits: list[float] = []
    with EmulatorServer(sleep=waits.append) as emulator:
        raw = RawHttp(emulator.url)
        raw.request("POST", "/_emulator/config", {"latency": 0.2}, key=None)
        assert waits == []
        raw.request("GET", BATCHES)
        assert waits == [0.2]
        raw.request("GET", "/_emulator/stats", key=None)
        assert waits == [0.2]
        raw.close()


def test_added_latency_is_slept(raw: RawHttp) -> None:
    raw.request("POST", "/_emulator/config", {"latency": 0.2}, key=None)
    started = time.monotonic()
    raw.request("GET", BATCHES)
    assert time.monotonic() - started >= 0.2  # a lower bound: a loaded machine only adds to it


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


def test_cli_fault_arguments_and_defaults() -> None:
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)

    defaults = parser.parse_args([])
    assert (defaults.error_type, defaults.seed, defaults.fail_first) == ("api_error", None, [])
    assert (defaults.results_ttl, defaults.queue_limit, defaults.queue_retry_after) == (
        29 * 24 * 3600,
        None,
        60.0,
    )
    given = parser.parse_args(
        [
            "--error-type",
            "overloaded_error",
            "--seed",
            "4",
            "--fail-first",
            "doc-1=2",
            "--fail-first",
            "doc-2=1:expired",
            "--results-ttl",
            "60",
            "--queue-limit",
            "100",
            "--queue-retry-after",
            "0.5",
        ]
    )
    assert given.fail_first == [FailRule("doc-1", 2), FailRule("doc-2", 1, "expired")]
    assert (given.error_type, given.seed, given.results_ttl) == ("overloaded_error", 4, 60.0)
    assert (given.queue_limit, given.queue_retry_after) == (100, 0.5)


@pytest.mark.parametrize("argv", [["--fail-first", "doc"], ["--fail-first", "(=1"], ["--error-type", "oops"]])
def test_cli_refuses_bad_fault_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)

    with pytest.raises(SystemExit) as refused:
        parser.parse_args(argv)

    assert refused.value.code == 2
    assert f"argument {argv[0]}:" in capsys.readouterr().err


def test_run_from_cli_refuses_a_bad_queue_limit(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)

    assert run_from_cli(parser.parse_args(["--port", "0", "--queue-limit", "0"])) == 2
    assert "queue_limit" in capsys.readouterr().err


def admin(
    capsys: pytest.CaptureFixture[str], url: str | None, *argv: str, state_dir: Path | None = None
) -> tuple[int, Any, str]:
    """Run `batchdrop local emulator-admin` with argv; (exit code, printed JSON or None, stderr)."""
    options = [] if url is None else ["--url", url]
    if state_dir is not None:
        options += ["--state-dir", str(state_dir)]
    args = build_parser().parse_args(["local", "emulator-admin", *options, *argv])
    code = args.run(args)
    out, err = capsys.readouterr()
    return code, json.loads(out) if out else None, err


def test_admin_cli_injects_faults(emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, answer, _ = admin(capsys, emulator.url, "fault", "create", "504", "--after-effect", "--count", "2")
    assert code == 0
    assert answer["pending_faults"]["create"] == [{"status": 504, "after_effect": True, "remaining": 2}]
    admin(capsys, emulator.url, "fault", "list", "529")
    code, answer, _ = admin(capsys, emulator.url, "cut", "results", "--after-lines", "3")
    assert answer["pending_faults"]["results"] == [{"cut_after_lines": 3, "remaining": 1}]
    assert answer["pending_faults"]["list"] == [{"status": 529, "remaining": 1}]

    code, answer, _ = admin(capsys, emulator.url, "clear-faults")
    assert (code, answer["pending_faults"]["create"], answer["pending_faults"]["results"]) == (0, [], [])


def test_admin_cli_archives_a_batch(capsys: pytest.CaptureFixture[str]) -> None:
    now = [time.time()]
    config = EmulatorConfig(processing_delay=DELAY)
    with EmulatorServer(config=config, clock=lambda: now[0]) as emulator:
        raw = RawHttp(emulator.url)
        batch_id = raw.request("POST", "/v1/messages/batches", {"requests": [make_request("a")]}).json()["id"]

        code, _, err = admin(capsys, emulator.url, "archive", batch_id)
        assert code == 1 and "has not ended" in err
        now[0] += DELAY  # the batch's processing delay has gone by
        assert raw.request("GET", f"/v1/messages/batches/{batch_id}").json()["processing_status"] == "ended"
        code, answer, _ = admin(capsys, emulator.url, "archive", batch_id)

        assert code == 0 and answer["id"] == batch_id and answer["archived_at"] is not None
        assert raw.request("GET", f"/v1/messages/batches/{batch_id}/results").status == 404
        raw.close()


def test_admin_cli_switches_the_queue(emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, answer, _ = admin(capsys, emulator.url, "queue", "full")
    assert (code, answer["queue_full"]) == (0, True)
    raw = RawHttp(emulator.url)
    assert raw.request("POST", "/v1/messages/batches", {"requests": [make_request("a")]}).status == 429

    code, answer, _ = admin(capsys, emulator.url, "queue")
    assert answer == {"queue_full": True, "queue_limit": None, "requests_processing": 0}
    admin(capsys, emulator.url, "queue", "free")
    assert raw.request("POST", "/v1/messages/batches", {"requests": [make_request("a")]}).status == 200
    _, stats, _ = admin(capsys, emulator.url, "stats")
    assert (stats["creates_refused"], stats["batches_created"]) == (1, 1)
    raw.close()


def test_admin_cli_changes_settings_and_adds_fail_rules(
    emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, answer, _ = admin(
        capsys,
        emulator.url,
        "config",
        "error_type=overloaded_error",
        "queue_limit=500",
        "seed=9",
        "results_ttl=60",
    )
    assert code == 0
    assert (answer["error_type"], answer["queue_limit"], answer["seed"], answer["results_ttl"]) == (
        "overloaded_error",
        500,
        9,
        60,
    )
    admin(capsys, emulator.url, "fail-first", "doc-1=2")
    code, answer, _ = admin(capsys, emulator.url, "fail-first", "doc-2=1:expired", "doc-3=1:rate_limit_error")

    assert [FailRule.parse(rule) for rule in answer["fail_first_attempts"]] == [
        FailRule("doc-1", 2),
        FailRule("doc-2", 1, "expired"),
        FailRule("doc-3", 1, "errored", "rate_limit_error"),
    ]
    assert emulator.engine.config.fail_first_attempts[0] == FailRule("doc-1", 2)
    code, answer, _ = admin(capsys, emulator.url, "config", "fail_first_attempts=[]")
    assert (code, answer["fail_first_attempts"]) == (0, [])
    code, _, err = admin(capsys, emulator.url, "config", "queue_limit=-1")
    assert code == 1 and "queue_limit" in err
    code, _, err = admin(capsys, emulator.url, "config", "just-a-word")
    assert code == 2 and "NAME=VALUE" in err


def test_admin_cli_finds_the_local_stacks_emulator_or_reports_none(
    emulator: EmulatorServer,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BATCHDROP_EMULATOR_URL", raising=False)
    (tmp_path / "state.json").write_text(json.dumps({"emulator": True, "anthropic_base_url": emulator.url}))

    code, stats, _ = admin(capsys, None, "stats", state_dir=tmp_path)
    assert code == 0 and stats["batches_created"] == 0

    monkeypatch.setenv("BATCHDROP_EMULATOR_URL", emulator.url)
    assert admin(capsys, None, "stats", state_dir=tmp_path / "none")[0] == 0
    emulator.stop()
    code, _, err = admin(capsys, None, "stats", state_dir=tmp_path)
    assert code == 2 and "cannot reach" in err
