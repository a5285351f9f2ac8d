"""Local Anthropic API emulator: Message Batches, the Models API and token counting on a real
HTTP server the unmodified SDK can use, following the contract of API versions 2023-06-01 and
2026-10-21 (the version rules, the model catalogue in models.json, thinking, structured outputs).

Start one with `EmulatorServer(config=EmulatorConfig(processing_delay=0.5)).start()` (or as a
context manager) and point the SDK at it: `anthropic.Anthropic(base_url=server.url, api_key="local")`.
"""

from batchdrop_local.emulator.catalogue import Catalogue, ModelEntry
from batchdrop_local.emulator.cli import add_admin_arguments, add_cli_arguments, run_admin, run_from_cli
from batchdrop_local.emulator.engine import ApiError, BatchEngine, EmulatorConfig, FailRule
from batchdrop_local.emulator.server import EmulatorServer

__all__ = [
    "ApiError",
    "BatchEngine",
    "Catalogue",
    "EmulatorConfig",
    "EmulatorServer",
    "FailRule",
    "ModelEntry",
    "add_admin_arguments",
    "add_cli_arguments",
    "run_admin",
    "run_from_cli",
]
