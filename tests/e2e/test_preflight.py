"""End to end through the local stack: preflight refuses, before submission, a profile with
``temperature`` and a profile on a retired model (each document gets its .error.json and no batch
request is made for it), and submits a deprecated model's documents with its retirement date."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from tests.e2e.harness import DEADLINE, client, running_local_stack

pytestmark = pytest.mark.e2e

RETIRES_AT = "2027-02-01T00:00:00Z"


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_local_stack(tmp_path_factory.mktemp("preflight") / "state") as state:
        yield state


def _emulator_config(state: dict[str, Any], changes: dict[str, Any]) -> None:
    request = urllib.request.Request(  # noqa: S310 - the local emulator on loopback
        f"{state['anthropic_base_url']}/_emulator/config",
        data=json.dumps(changes).encode(),
        headers={"content-type": "application/json", "x-api-key": "local-emulator-key"},
        method="POST",
    )
    urllib.request.urlopen(request).close()  # noqa: S310


def _wait_for(s3: Any, bucket: str, keys: set[str], timeout: float = DEADLINE) -> set[str]:
    deadline = time.monotonic() + timeout
    found: set[str] = set()
    while time.monotonic() < deadline:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        found = {obj["Key"] for page in pages for obj in page.get("Contents", [])}
        if keys <= found:
            break
        time.sleep(1)
    return found


def test_temperature_and_a_retired_model_are_refused_and_a_deprecated_model_goes_out(
    local_stack: dict[str, Any],
) -> None:
    s3 = client(local_stack, "s3")
    bucket = local_stack["bucket"]
    # Given Haiku 4.5 deprecated in the emulator's catalogue, and three profiles
    _emulator_config(
        local_stack,
        {"model_overrides": {"claude-haiku-4-5": {"lifecycle": "deprecated", "retires_at": RETIRES_AT}}},
    )
    profiles = {
        "profiles/warm.yaml": "model: claude-haiku-5-5\ntemperature: 0\n",
        "profiles/old.yaml": "model: claude-sonnet-4-5\n",
        "profiles/legacy.yaml": "model: claude-haiku-4-5\n",
    }
    for key, text in profiles.items():
        s3.put_object(Bucket=bucket, Key=key, Body=text.encode())

    # When a document is dropped under each (two under the retired model's)
    for key in ("inbox/warm/a.txt", "inbox/old/b.txt", "inbox/old/c.txt", "inbox/legacy/d.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=f"The document {key}.".encode())

    # Then the refused documents get their .error.json, and the deprecated model's its answer
    errors = {"results/warm/a.txt.error.json", "results/old/b.txt.error.json", "results/old/c.txt.error.json"}
    found = _wait_for(s3, bucket, {*errors, "results/legacy/d.txt.md"})
    assert errors | {"results/legacy/d.txt.md"} <= found, sorted(found)

    def reason(key: str) -> str:
        return str(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())["reason"])

    warm = reason("results/warm/a.txt.error.json")
    assert "temperature: removed in Claude API version 2026-10-21" in warm
    assert "steer with effort (low|medium|high|xhigh|max) and the prompt instead" in warm
    for key in ("results/old/b.txt.error.json", "results/old/c.txt.error.json"):
        retired = reason(key)
        assert retired.startswith("model claude-sonnet-4-5 (Claude Sonnet 4.5) was retired on 2026-11-30")
        assert "claude-sonnet-5-5" in retired

    # and no batch request was made for the refused ones: the API saw the one document only
    api = anthropic.Anthropic(api_key="local-emulator-key", base_url=local_stack["anthropic_base_url"])
    batches = list(api.messages.batches.list())
    counts = [b.request_counts for b in batches]
    assert sum(c.processing + c.succeeded + c.errored + c.canceled + c.expired for c in counts) == 1

    # and the deprecated model's manifest entry carries its retirement date
    manifests = [k for k in found if k.endswith("/manifest.jsonl")]
    entries = [
        json.loads(line)
        for key in manifests
        for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
    ]
    (legacy,) = [e for e in entries if e["source_key"] == "inbox/legacy/d.txt"]
    assert legacy["status"] == "submitted" and legacy["model_retires_at"] == RETIRES_AT
    assert {e["status"] for e in entries if e["source_key"] != "inbox/legacy/d.txt"} == {"rejected"}
