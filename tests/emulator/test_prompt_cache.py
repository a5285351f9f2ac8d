"""The emulator's prompt cache: a marked system prefix is written once per batch, then read."""

from typing import Any

from batchdrop_local.emulator.answers import MIN_CACHEABLE_TOKENS, answer
from batchdrop_local.emulator.catalogue import Catalogue

HAIKU_4_5 = Catalogue.build()["claude-haiku-4-5"]


def _params(system_text: str, marked: bool = True) -> dict[str, Any]:
    block: dict[str, object] = {"type": "text", "text": system_text}
    if marked:
        block["cache_control"] = {"type": "ephemeral"}
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 50,
        "system": [block],
        "messages": [{"role": "user", "content": "Summarise."}],
    }


def test_a_long_marked_prefix_is_written_then_read() -> None:
    cache: set[str] = set()
    long_text = "x" * (MIN_CACHEABLE_TOKENS * 4 + 40)
    first = answer(_params(long_text), "msg_1", HAIKU_4_5, cache)["usage"]
    second = answer(_params(long_text), "msg_2", HAIKU_4_5, cache)["usage"]
    assert first["cache_creation_input_tokens"] == MIN_CACHEABLE_TOKENS + 10
    assert first["cache_read_input_tokens"] == 0
    assert second["cache_read_input_tokens"] == MIN_CACHEABLE_TOKENS + 10
    assert second["cache_creation_input_tokens"] == 0
    # what is cached is not counted again as plain input
    assert second["input_tokens"] == first["input_tokens"]


def test_short_or_unmarked_prefixes_are_not_cached() -> None:
    cache: set[str] = set()
    for params in (_params("short"), _params("y" * 8000, marked=False)):
        usage = answer(params, "msg", HAIKU_4_5, cache)["usage"]
        assert (usage["cache_creation_input_tokens"], usage["cache_read_input_tokens"]) == (0, 0)
