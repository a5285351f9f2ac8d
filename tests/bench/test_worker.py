"""The benchmark workers at a small size: they drive the real handlers and check their work,
so `make bench` cannot rot between runs. Figures are not asserted (they belong to make bench)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from batchdrop_local.bench.__main__ import configure, emulator
from batchdrop_local.bench.worker import POWERTOOLS_BASELINE


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with emulator() as url:
        configure(url, processing_delay=0, latency=0)
        yield url


def _run(spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "batchdrop_local.bench.worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_submit_submits_every_document_with_one_get_each(emulator_url: str) -> None:
    result = _run({"bench": "submit", "n": 30, "emulator": emulator_url, "s3_get": 0.001})
    assert result["batches"] == 1
    assert result["calls"]["s3:GetObject"] == 30
    assert result["calls"]["dynamodb:TransactWriteItems"] == 1  # 30 claims in one transaction
    assert result["batchdrop"]["seconds"] > 0 and result["baseline"]["seconds"] > 0


def test_complete_writes_every_result_object(emulator_url: str) -> None:
    result = _run({"bench": "complete", "n": 30, "emulator": emulator_url})
    assert result["objects_written"] == 30
    assert result["mean_object_bytes"] > 0


def test_an_idle_poll_is_one_query_and_never_loads_the_sdk(emulator_url: str) -> None:
    result = _run({"bench": "poll", "open_jobs": 0, "emulator": emulator_url})
    assert result["aws_calls"] == {"dynamodb:Query": 1}
    assert result["api_calls"] == {}
    assert result["anthropic_imported"] is False


def test_a_poll_of_open_jobs_retrieves_each_batch_once(emulator_url: str) -> None:
    configure(emulator_url, processing_delay=3600)
    try:
        result = _run({"bench": "poll", "open_jobs": 3, "emulator": emulator_url})
    finally:
        configure(emulator_url, processing_delay=0)
    assert result["seen"] == 3 and result["api_calls"] == {"retrieve": 3}
    assert result["aws_calls"] == {"dynamodb:Query": 1, "dynamodb:UpdateItem": 3}


def test_no_handler_loads_the_sdk_converters_or_schema_libraries_at_cold_start() -> None:
    for target in ("SubmitFunction", "PollFunction", "CompleteFunction"):
        result = _run({"bench": "import", "target": target})
        assert result["lazy_loaded"] == [], target
        assert result["anthropic"] is False, target


def test_the_cold_start_baseline_creates_logger_metrics_and_tracer() -> None:
    result = _run({"bench": "import", "target": "powertools"})
    assert "Logger()" in POWERTOOLS_BASELINE and "Metrics()" in POWERTOOLS_BASELINE
    assert "Tracer()" in POWERTOOLS_BASELINE
    assert result["seconds"] > 0 and result["cpu_seconds"] > 0
