"""The operator commands' defaults, in a module that imports nothing: the ``batchdrop`` parser
reads them without loading boto3 (the commands load it when they run)."""

from __future__ import annotations

DEFAULT_STATUS_SINCE = "7d"
DEFAULT_COST_SINCE = "30d"
DEFAULT_INTERVAL = 5.0  # seconds between the frames of --watch
