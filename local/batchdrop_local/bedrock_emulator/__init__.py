"""Local Amazon Bedrock batch inference emulator: CreateModelInvocationJob, GetModelInvocationJob,
ListModelInvocationJobs and StopModelInvocationJob on a real HTTP server that the unmodified
`boto3.client("bedrock")` can use (endpoint_url, or AWS_ENDPOINT_URL_BEDROCK). Jobs read their
JSONL input from the local stack's S3, move through Bedrock's statuses on an injectable clock,
write `<input>.jsonl.out` and `manifest.json.out` back under `<output>/<job id>/`, and put the
"Batch Inference Job State Change" event on the default bus.

Start one with `BedrockEmulatorServer(config=BedrockConfig(aws_endpoint=moto_url),
clock=ManualClock()).start()` (or as a context manager) and move time with `server.advance(s)`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from batchdrop_local.bedrock_emulator.cli import add_arguments, add_command, run
from batchdrop_local.bedrock_emulator.config import BedrockConfig, ManualClock, SystemClock
from batchdrop_local.bedrock_emulator.errors import BedrockError

if TYPE_CHECKING:
    from batchdrop_local.bedrock_emulator.engine import MIN_RECORDS_MESSAGE, BedrockEngine
    from batchdrop_local.bedrock_emulator.server import BedrockEmulatorServer

_LAZY = {
    "MIN_RECORDS_MESSAGE": "engine",
    "BedrockEngine": "engine",
    "BedrockEmulatorServer": "server",
}
"""Names whose modules load boto3: imported on first use, so `batchdrop`'s parser stays light."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MIN_RECORDS_MESSAGE",
    "BedrockConfig",
    "BedrockEmulatorServer",
    "BedrockEngine",
    "BedrockError",
    "ManualClock",
    "SystemClock",
    "add_arguments",
    "add_command",
    "run",
]
