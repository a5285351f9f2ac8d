"""Make moto's DynamoDB conditional writes atomic, as DynamoDB's are.

moto evaluates a ConditionExpression and then writes, with no lock in between; its server
answers requests on several threads, so two concurrent conditional updates can both pass.
batchdrop's exactly-once guarantees rest on that atomicity, so the local stack (and the
tests, which run moto in this process) serialise moto's DynamoDB writes.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

_LOCK = threading.RLock()
_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    locked.__batchdrop_atomic__ = True  # type: ignore[attr-defined]
    return locked


def make_dynamodb_writes_atomic() -> None:
    """Idempotent: wraps each write method of moto's DynamoDB backend once."""
    for name in _WRITES:
        method = getattr(DynamoDBBackend, name, None)
        if method is not None and not getattr(method, "__batchdrop_atomic__", False):
            setattr(DynamoDBBackend, name, _serialised(method))
