"""The command line: `add_command` for `batchdrop local bedrock-emulator`, and `python -m`."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys

from batchdrop_local.bedrock_emulator import add_command
from tests.bedrock_emulator.conftest import bedrock_client
from tests.bedrock_emulator.test_invoke import runtime_client


def test_add_command_hooks_the_emulator_into_a_subcommand_group():
    parser = argparse.ArgumentParser(prog="batchdrop local")
    add_command(parser.add_subparsers(dest="local_command", required=True))
    args = parser.parse_args(
        [
            "bedrock-emulator",
            "--port",
            "0",
            "--aws-endpoint",
            "http://127.0.0.1:5000",
            "--durations",
            "InProgress=30,Submitted=0.5",
            "--min-records",
            "10",
            "--error-records",
            "DOC1.*",
        ]
    )
    assert args.local_command == "bedrock-emulator"
    assert (args.port, args.aws_endpoint, args.min_records) == (0, "http://127.0.0.1:5000", 10)
    assert args.durations == {"InProgress": 30.0, "Submitted": 0.5}
    assert args.error_records == ["DOC1.*"]
    assert callable(args.run)


def test_python_m_serves_until_sigterm(moto_endpoint):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "batchdrop_local.bedrock_emulator",
            "--port",
            "0",
            "--aws-endpoint",
            moto_endpoint,
            "--manual-clock",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert "AWS_ENDPOINT_URL_BEDROCK" in process.stdout.readline()
        assert bedrock_client(url).list_model_invocation_jobs()["invocationJobSummaries"] == []
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_sdk_finds_the_emulator_through_aws_endpoint_url_bedrock(emulator, monkeypatch):
    # What the local stack's functions do: configuration only, no endpoint_url in the code.
    import boto3

    from tests.bedrock_emulator.conftest import CREDENTIALS, REGION

    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", emulator.url)
    client = boto3.client("bedrock", region_name=REGION, **CREDENTIALS)
    assert client.meta.endpoint_url == emulator.url
    assert client.list_model_invocation_jobs()["invocationJobSummaries"] == []
    assert emulator.stats()["calls"]["list"] == 1


def test_batchdrop_local_bedrock_emulator_is_the_emulator_command():
    from batchdrop_local.bedrock_emulator import run
    from batchdrop_local.cli import build_parser

    args = build_parser().parse_args(["local", "bedrock-emulator", "--port", "4570", "--min-records", "5"])
    assert (args.local_command, args.port, args.min_records, args.run) == ("bedrock-emulator", 4570, 5, run)


def test_batchdrop_local_bedrock_emulator_serves_both_clients_until_sigterm(moto_endpoint):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "batchdrop_local.cli",
            "local",
            "bedrock-emulator",
            "--port",
            "0",
            "--aws-endpoint",
            moto_endpoint,
            "--manual-clock",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert bedrock_client(url).list_model_invocation_jobs()["invocationJobSummaries"] == []
        runtime = runtime_client(url)
        body = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 32,
            "messages": [{"role": "user", "content": "Hi"}],
        }
        answer = runtime.invoke_model(
            modelId="anthropic.claude-sonnet-4-5-20250929-v1:0", body=json.dumps(body)
        )
        assert json.loads(answer["body"].read())["type"] == "message"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
