"""Secrets Manager: the Anthropic API key, read through Powertools parameters (cached, refreshed
on demand), as the provider MessageBatches takes. Powertools' parameters load on the first read."""

from __future__ import annotations

import json

from batchdrop.adapters.anthropic_backend import ApiKeyProvider

__all__ = ["ApiKeyProvider", "api_key_from_secret", "secret_api_key"]


def api_key_from_secret(secret_value: str) -> str:
    """The secret holds the key as a plain string or as JSON ``{"api_key": ...}``."""
    text = secret_value.strip()
    if text.startswith("{"):
        data = json.loads(text)
        for name in ("api_key", "ANTHROPIC_API_KEY", "apiKey"):
            if data.get(name):
                return str(data[name]).strip()
        raise ValueError("the Anthropic secret is JSON but has no api_key field")
    if not text:
        raise ValueError("the Anthropic secret is empty")
    return text


def secret_api_key(secret_name: str, max_age_seconds: int = 300) -> ApiKeyProvider:
    """A provider reading the key from Secrets Manager through Powertools, cached for
    ``max_age_seconds``: a rotated key is picked up within that time, or at once with
    ``refresh=True`` (after the API refused the old key), never needing a cold start."""

    def provide(refresh: bool = False) -> str:
        from aws_lambda_powertools.utilities import parameters

        value = parameters.get_secret(secret_name, max_age=max_age_seconds, force_fetch=refresh)
        return api_key_from_secret(value if isinstance(value, str) else bytes(value).decode())

    return provide
