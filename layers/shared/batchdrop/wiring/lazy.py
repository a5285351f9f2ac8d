"""AWS clients made on first use: a cold start pays for none it does not call."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Lazy:
    """Stands in for the object ``make`` returns, made the first time one of its attributes
    is read (from any thread; made once)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._made: Any = None

    @property
    def made(self) -> bool:
        return self._made is not None

    def __getattr__(self, name: str) -> Any:
        made = self._made
        if made is None:
            with self._lock:
                if self._made is None:
                    self._made = self._make()
                made = self._made
        return getattr(made, name)


class LazySession:
    """The functions' boto3 session (adapters.sessions), made with its first client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._session: Any = None

    def _get(self) -> Any:
        with self._lock:
            if self._session is None:
                from batchdrop.adapters import sessions

                self._session = sessions.session()
            return self._session

    def client(self, service: str, **kwargs: Any) -> Any:
        """A client of ``service``, made on first use."""
        return Lazy(lambda: self._get().client(service, **kwargs))

    def table(self, name: str) -> Any:
        """A DynamoDB Table resource, made on first use."""
        return Lazy(lambda: self._get().resource("dynamodb").Table(name))
