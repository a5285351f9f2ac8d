"""adapters.secrets.api_key_from_secret: the secret as a plain string or as JSON."""

from __future__ import annotations

import json

import pytest

from batchdrop.adapters.secrets import api_key_from_secret

KEY = "sk-ant-api03-test-key"


@pytest.mark.parametrize(
    "secret",
    [
        KEY,
        f"  {KEY}\n",
        json.dumps({"api_key": KEY}),
        json.dumps({"api_key": f" {KEY} "}),
        json.dumps({"ANTHROPIC_API_KEY": KEY}),
        json.dumps({"apiKey": KEY}),
        json.dumps({"other": "x", "api_key": KEY}),
        json.dumps({"api_key": KEY, "ANTHROPIC_API_KEY": "not-this-one"}),
        json.dumps({"api_key": "", "ANTHROPIC_API_KEY": KEY}),
        "\n  " + json.dumps({"api_key": KEY}, indent=2) + "\n",
    ],
)
def test_api_key_from_secret(secret: str) -> None:
    assert api_key_from_secret(secret) == KEY


@pytest.mark.parametrize(
    "secret",
    [
        "{}",
        json.dumps({"key": KEY}),
        json.dumps({"api_key": ""}),
        json.dumps({"api_key": None}),
    ],
)
def test_json_without_api_key_is_an_error(secret: str) -> None:
    with pytest.raises(ValueError, match=r"^the Anthropic secret is JSON but has no api_key field$"):
        api_key_from_secret(secret)


@pytest.mark.parametrize("secret", ["", "   ", "\n\t"])
def test_empty_secret_is_an_error(secret: str) -> None:
    with pytest.raises(ValueError, match=r"^the Anthropic secret is empty$"):
        api_key_from_secret(secret)


def test_malformed_json_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Expecting"):
        api_key_from_secret('{"api_key": ')


def test_error_messages_never_contain_the_key() -> None:
    with pytest.raises(ValueError, match="has no api_key field") as info:
        api_key_from_secret(json.dumps({"wrong_name": KEY}))
    assert KEY not in str(info.value)
