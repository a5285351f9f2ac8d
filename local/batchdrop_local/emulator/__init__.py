"""Local Anthropic Message Batches API emulator: a real HTTP server the unmodified SDK can use.

Start one with `EmulatorServer(config=EmulatorConfig(processing_delay=0.5)).start()` (or as a
context manager) and point the SDK at it: `anthropic.Anthropic(base_url=server.url, api_key="local")`.
"""

from batchdrop_local.emulator.cli import add_admin_arguments, add_cli_arguments, run_admin, run_from_cli
from batchdrop_local.emulator.engine import ApiError, BatchEngine, EmulatorConfig, FailRule
from batchdrop_local.emulator.server import EmulatorServer

__all__ = [
    "ApiError",
    "BatchEngine",
    "EmulatorConfig",
    "EmulatorServer",
    "FailRule",
    "add_admin_arguments",
    "add_cli_arguments",
    "run_admin",
    "run_from_cli",
]
