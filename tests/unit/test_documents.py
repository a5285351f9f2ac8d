"""documents: inbox keys, result/error keys, custom ids, metadata overrides and Messages params."""

from __future__ import annotations

import hashlib
import re

import pytest

from batchdrop.domain import documents, keys
from batchdrop.domain.documents import DocumentRejected, custom_id, message_params
from batchdrop.domain.keys import InboxKey, error_key, parse_inbox_key, result_key
from batchdrop.domain.profiles import Profile

CUSTOM_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

MARKDOWN_PROFILE = Profile(
    name="default", model="claude-haiku-4-5", max_tokens=1024, instruction="Summarise."
)
JSON_PROFILE = Profile(
    name="extract", model="claude-sonnet-4-6", max_tokens=2048, instruction="Extract.", output_format="json"
)


def _text_block(text: str, title: str) -> dict[str, object]:
    return {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": text},
        "title": title,
    }


def _doc(key: str) -> InboxKey:
    doc = parse_inbox_key(key)
    assert doc is not None
    return doc


# --- parse_inbox_key ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "profile", "path", "name", "extension"),
    [
        ("inbox/notes.txt", "default", "notes.txt", "notes.txt", ".txt"),
        ("inbox/default/q3/report.txt", "default", "q3/report.txt", "report.txt", ".txt"),
        ("inbox/summarize/a.md", "summarize", "a.md", "a.md", ".md"),
        ("inbox/default/q3/report.pdf", "default", "q3/report.pdf", "report.pdf", ".pdf"),
        ("inbox/default/README", "default", "README", "README", ""),
        ("inbox/default/Upper.TXT", "default", "Upper.TXT", "Upper.TXT", ".txt"),
        (
            "inbox/translate/été/release notes, v2.md",
            "translate",
            "été/release notes, v2.md",
            "release notes, v2.md",
            ".md",
        ),
        ("inbox/default/a/b/c/deep.markdown", "default", "a/b/c/deep.markdown", "deep.markdown", ".markdown"),
    ],
)
def test_parse_inbox_key_splits_profile_and_path(
    key: str, profile: str, path: str, name: str, extension: str
) -> None:
    assert parse_inbox_key(key) == InboxKey(key=key, profile=profile, path=path)
    doc = _doc(key)
    assert doc.name == name
    assert doc.extension == extension


@pytest.mark.parametrize(
    "key",
    [
        "results/default/x.md",
        "results/default/x.txt.error.json",
        "jobs/20261125T090000Z-0a1b2c3d/manifest.jsonl",
        "profiles/default.json",
        "inbox/",
        "inbox/folder/",
        "inbox/default/q3/",
        "inbox",
        "notes.txt",
        "",
        "Inbox/notes.txt",
        "x/inbox/notes.txt",
    ],
)
def test_parse_inbox_key_ignores_everything_but_inbox_documents(key: str) -> None:
    assert parse_inbox_key(key) is None


# --- result_key / error_key ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "profile", "expected"),
    [
        ("inbox/default/q3/report.txt", MARKDOWN_PROFILE, "results/default/q3/report.txt.md"),
        ("inbox/default/q3/report.pdf", MARKDOWN_PROFILE, "results/default/q3/report.pdf.md"),
        ("inbox/notes.txt", MARKDOWN_PROFILE, "results/default/notes.txt.md"),
        ("inbox/extract/invoices/a b.txt", JSON_PROFILE, "results/extract/invoices/a b.txt.json"),
        ("inbox/extract/été.md", JSON_PROFILE, "results/extract/été.md.json"),
    ],
)
def test_result_key_keeps_full_name_and_adds_format_suffix(key: str, profile: Profile, expected: str) -> None:
    assert result_key(_doc(key), profile) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("inbox/default/q3/report.txt", "results/default/q3/report.txt.error.json"),
        ("inbox/notes.txt", "results/default/notes.txt.error.json"),
        ("inbox/extract/été.pdf", "results/extract/été.pdf.error.json"),
    ],
)
def test_error_key(key: str, expected: str) -> None:
    assert error_key(_doc(key)) == expected


def test_result_and_error_keys_never_reenter_the_inbox() -> None:
    doc = _doc("inbox/default/q3/report.txt")
    assert parse_inbox_key(result_key(doc, MARKDOWN_PROFILE)) is None
    assert parse_inbox_key(error_key(doc)) is None


# --- custom_id ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sequence", "key", "version_id"),
    [
        (0, "inbox/notes.txt", None),
        (1, "inbox/default/release notes, v2.md", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"),
        (42, "inbox/default/日本語/レポート 第3四半期.txt", None),
        (7, "inbox/default/emoji 🎉 ünïcödé ✓.md", "v1"),
        (99_999, "inbox/default/" + "x" * (1024 - len("inbox/default/")), None),
        (100_000, "inbox/default/" + "é" * 505, "null"),
        (3, "inbox/default/tab\tand\nnewline and slash/ and %2B+", ""),
    ],
)
def test_custom_id_is_always_valid(sequence: int, key: str, version_id: str | None) -> None:
    value = custom_id(sequence, key, version_id)
    assert CUSTOM_ID_RE.match(value), value


def test_custom_id_for_a_1024_byte_key_is_short_and_valid() -> None:
    key = "inbox/default/" + "é" * 505
    assert len(key.encode()) == 1024
    value = custom_id(1, key, None)
    assert CUSTOM_ID_RE.match(value)
    assert len(value) <= 64


def test_custom_id_format_starts_with_padded_sequence() -> None:
    assert re.fullmatch(r"doc-000007-[0-9a-f]{16}", custom_id(7, "inbox/notes.txt", None))


def test_custom_id_is_deterministic() -> None:
    assert custom_id(5, "inbox/default/a.txt", "v1") == custom_id(5, "inbox/default/a.txt", "v1")
    assert custom_id(5, "inbox/default/a.txt", None) == custom_id(5, "inbox/default/a.txt", None)


def test_custom_id_distinct_sequence_numbers_give_distinct_ids() -> None:
    ids = {custom_id(n, "inbox/default/same.txt", "v1") for n in range(1000)}
    assert len(ids) == 1000


def test_custom_id_changes_with_version_and_key() -> None:
    base = custom_id(1, "inbox/default/a.txt", "v1")
    assert custom_id(1, "inbox/default/a.txt", "v2") != base
    assert custom_id(1, "inbox/default/a.txt", None) != base
    assert custom_id(1, "inbox/default/b.txt", "v1") != base


# --- message_params -----------------------------------------------------------------------------


def test_message_params_minimal_profile() -> None:
    doc = _doc("inbox/default/q3/report.txt")
    assert message_params(MARKDOWN_PROFILE, doc, [_text_block("The text.", "report.txt")]) == {
        "model": "claude-haiku-4-5",
        "max_tokens": 1024,
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "The text."},
                        "title": "report.txt",
                    },
                    {"type": "text", "text": "Summarise."},
                ],
            }
        ],
    }


def test_message_params_with_system_prompt_effort_and_thinking() -> None:
    profile = Profile(
        name="summarize",
        model="claude-sonnet-5-5",
        max_tokens=4096,
        instruction="Summarise in three bullets.",
        system_prompt="You are a careful analyst.",
        effort="high",
        thinking={"type": "adaptive"},
    )
    doc = _doc("inbox/summarize/été/notes, v2.md")
    assert message_params(profile, doc, [_text_block("Texte accentué.", "notes, v2.md")]) == {
        "model": "claude-sonnet-5-5",
        "max_tokens": 4096,
        "system": "You are a careful analyst.",
        "output_config": {"effort": "high"},
        "thinking": {"type": "adaptive"},
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "Texte accentué."},
                        "title": "notes, v2.md",
                    },
                    {"type": "text", "text": "Summarise in three bullets."},
                ],
            }
        ],
    }


SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}},
    "required": ["title"],
    "additionalProperties": False,
}


def test_a_schema_profile_sends_output_config_format_and_no_json_reminder() -> None:
    profile = Profile(
        name="x", model="m", max_tokens=10, instruction="Extract.", output_format="json", output_schema=SCHEMA
    )
    params = message_params(profile, _doc("inbox/x/a.txt"), [_text_block("t", "a.txt")])
    assert params["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    assert "system" not in params  # no reminder text: the API itself answers JSON
    assert params["messages"][0]["content"][-1] == {"type": "text", "text": "Extract."}
    assert "temperature" not in params and "thinking" not in params
    assert result_key(_doc("inbox/x/a.txt"), profile) == "results/x/a.txt.json"


def test_unset_effort_thinking_and_schema_send_nothing() -> None:
    params = message_params(MARKDOWN_PROFILE, _doc("inbox/a.txt"), [_text_block("t", "a.txt")])
    assert not {"output_config", "thinking", "temperature", "top_p", "top_k"} & set(params)


def test_message_params_document_comes_before_instruction() -> None:
    params = message_params(MARKDOWN_PROFILE, _doc("inbox/a.txt"), [_text_block("t", "a.txt")])
    content = params["messages"][0]["content"]
    assert [block["type"] for block in content] == ["document", "text"]


def test_instruction_placeholders_name_the_document() -> None:
    profile = Profile(
        name="p", model="m", max_tokens=10, instruction="Summarise ${name} (${path}) from ${key}."
    )
    params = message_params(profile, _doc("inbox/p/q3/r.txt"), [_text_block("t", "r.txt")])
    assert params["messages"][0]["content"][-1] == {
        "type": "text",
        "text": "Summarise r.txt (q3/r.txt) from inbox/p/q3/r.txt.",
    }


def test_json_profile_asks_for_json_in_system_and_instruction() -> None:
    params = message_params(JSON_PROFILE, _doc("inbox/extract/a.txt"), [_text_block("t", "a.txt")])
    assert params["system"] == "Answer with a single valid JSON value only, with no text before or after it."
    assert params["messages"][0]["content"][-1]["text"].startswith(
        "Extract.\n\nAnswer with a single valid JSON"
    )


def test_citations_and_prompt_caching_follow_the_profile() -> None:
    profile = Profile(
        name="p",
        model="m",
        max_tokens=10,
        instruction="Quote.",
        system_prompt="Be exact.",
        citations=True,
        cache_system_prompt=True,
    )
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}
    params = message_params(profile, _doc("inbox/p/a.txt"), [_text_block("t", "a.txt"), image])
    document, picture, _ = params["messages"][0]["content"]
    assert document["citations"] == {"enabled": True}
    assert "citations" not in picture  # images take no citations
    assert params["system"] == [{"type": "text", "text": "Be exact.", "cache_control": {"type": "ephemeral"}}]


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({}, {}),
        ({"batchdrop-model": "claude-opus-4-5"}, {"model": "claude-opus-4-5"}),
        ({"batchdrop-max-tokens": "4096"}, {"max_tokens": 4096}),
        ({"batchdrop-model": " ", "other": "x"}, {}),
        ({"batchdrop-effort": "xhigh"}, {"effort": "xhigh"}),
    ],
)
def test_metadata_overrides(metadata: dict[str, str], expected: dict[str, object]) -> None:
    assert documents.metadata_overrides(metadata) == expected


@pytest.mark.parametrize("value", ["0", "-5", "lots", "200000", "1.5"])
def test_metadata_max_tokens_must_be_in_range(value: str) -> None:
    with pytest.raises(DocumentRejected, match="x-amz-meta-batchdrop-max-tokens must be a whole number"):
        documents.metadata_overrides({"batchdrop-max-tokens": value})


@pytest.mark.parametrize(
    ("header", "name"),
    [("batchdrop-temperature", "temperature"), ("batchdrop-top-p", "top_p"), ("batchdrop-top-k", "top_k")],
)
def test_a_sampling_override_is_refused_with_why_and_what_instead(header: str, name: str) -> None:
    with pytest.raises(DocumentRejected) as refused:
        documents.metadata_overrides({header: "0"})
    message = str(refused.value)
    assert message.startswith(f"x-amz-meta-{header}: {name}: removed in Claude API version 2026-10-21")
    assert "steer with effort (low|medium|high|xhigh|max) and the prompt instead" in message


def test_an_unknown_effort_override_is_refused_with_the_levels() -> None:
    with pytest.raises(DocumentRejected, match="must be one of low, medium, high, xhigh, max, not 'extreme'"):
        documents.metadata_overrides({"batchdrop-effort": "extreme"})


def test_a_list_lines_settings_hash_ignores_the_messages_only() -> None:
    base = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "a"}]}
    same = documents.params_settings_hash({**base, "messages": [{"role": "user", "content": "b"}]})
    assert documents.params_settings_hash(base) == same
    assert documents.params_settings_hash({**base, "max_tokens": 11}) != same


def test_a_cached_instruction_comes_first_and_is_marked() -> None:
    profile = Profile(name="p", model="m", max_tokens=10, instruction="Same for all.", cache_instruction=True)
    params = message_params(profile, _doc("inbox/p/a.txt"), [_text_block("t", "a.txt")])
    first, document = params["messages"][0]["content"]
    assert first == {"type": "text", "text": "Same for all.", "cache_control": {"type": "ephemeral"}}
    assert document["type"] == "document"


# --- keys near S3's 1,024-byte limit ------------------------------------------------------------


def _utf8(key: str) -> int:
    return len(key.encode())


def _long_doc(path_bytes: int, char: str = "é", profile: str = "default") -> InboxKey:
    """A document whose inbox key is exactly ``path_bytes`` + the prefix long (at most 1,024)."""
    prefix = f"inbox/{profile}/"
    width = len(char.encode())
    path = "a" * ((path_bytes - 4) % width) + char * ((path_bytes - 4) // width) + ".txt"
    key = prefix + path
    assert _utf8(key) == len(prefix) + path_bytes <= 1024
    return _doc(key)


def test_keys_that_fit_are_unchanged_and_not_reported() -> None:
    # Given a document whose result key is exactly 1,024 bytes
    doc = _long_doc(1024 - len("results/default/") - len(".md"))
    key = result_key(doc, MARKDOWN_PROFILE)
    assert _utf8(key) == 1024
    assert key == f"results/default/{doc.path}.md"
    # Then only its (longer) error key is shortened, and reported as such
    assert keys.shortened_keys(doc, MARKDOWN_PROFILE) == {
        "error_key": f"results/default/{doc.path}.error.json"
    }
    assert keys.shortened_keys(_doc("inbox/default/a.txt"), MARKDOWN_PROFILE) == {}


@pytest.mark.parametrize("char", ["x", "é", "日", "🎉"])
def test_a_derived_key_over_1024_bytes_is_cut_at_a_character_and_keeps_prefix_and_suffix(char: str) -> None:
    # Given a source key of 1,024 bytes, the longest S3 allows
    doc = _long_doc(1024 - len("inbox/default/"), char)
    full = keys.full_result_key(doc, MARKDOWN_PROFILE)
    assert _utf8(full) > 1024
    # When its result and error keys are derived
    for key, suffix in ((result_key(doc, MARKDOWN_PROFILE), ".md"), (error_key(doc), ".error.json")):
        # Then each fits, is valid UTF-8 cut between characters, and reads like the layout
        assert _utf8(key) <= 1024
        assert _utf8(key) > 1024 - 4  # cut as late as possible (a character is at most 4 bytes)
        assert key.startswith("results/default/")
        assert re.search(rf"~[0-9a-f]{{16}}{re.escape(suffix)}$", key)
        cut = key.removeprefix("results/default/").rsplit("~", 1)[0]
        assert doc.path.startswith(cut)
        assert parse_inbox_key(key) is None  # never back into the inbox


def test_shortened_keys_are_deterministic_and_distinct_for_distinct_documents() -> None:
    # Given two documents whose keys differ only after the point where a key is cut
    stem = "inbox/default/" + "x" * 1000
    first, second = _doc(stem + "-1.txt"), _doc(stem + "-2.txt")
    # Then their shortened keys differ, and the same document always gets the same key
    assert result_key(first, MARKDOWN_PROFILE) != result_key(second, MARKDOWN_PROFILE)
    assert error_key(first) != error_key(second)
    assert result_key(first, MARKDOWN_PROFILE) == result_key(_doc(stem + "-1.txt"), MARKDOWN_PROFILE)
    # And the digest is of the full would-be key
    full = keys.full_result_key(first, MARKDOWN_PROFILE)
    digest = hashlib.sha256(full.encode()).hexdigest()[:16]
    assert result_key(first, MARKDOWN_PROFILE).endswith(f"~{digest}.md")
    assert keys.shortened_keys(first, MARKDOWN_PROFILE) == {
        "result_key": full,
        "error_key": keys.full_error_key(first),
    }


def test_a_request_list_item_keeps_its_name_when_the_list_path_is_cut() -> None:
    doc = _doc("inbox/default/" + "q" * 1000 + ".jsonl")
    key = result_key(doc, JSON_PROFILE, "question-7")
    assert _utf8(key) <= 1024
    assert key.startswith("results/extract/")
    assert re.search(r"~[0-9a-f]{16}/question-7\.json$", key)
    assert re.search(r"~[0-9a-f]{16}/question-7\.error\.json$", error_key(doc, "question-7", "extract"))
    assert result_key(doc, JSON_PROFILE, "question-7") != result_key(doc, JSON_PROFILE, "question-8")


def test_the_next_stage_key_is_shortened_when_the_next_profile_name_is_longer() -> None:
    # Given an answer whose key fits under a short profile name
    path = "é" * 500 + ".md"
    answer = f"results/a/{path}"
    assert _utf8(answer) <= 1024
    # When it goes on to a profile with a long name
    key = keys.next_stage_key(answer, "a", "x" * 64)
    # Then the next stage's document key fits, keeps its folder and extension, and is an inbox key
    assert _utf8(key) <= 1024
    assert keys.full_next_stage_key(answer, "a", "x" * 64) == f"inbox/{'x' * 64}/{path}"
    assert re.search(r"~[0-9a-f]{16}\.md$", key)
    parsed = parse_inbox_key(key)
    assert parsed is not None and parsed.profile == "x" * 64 and parsed.extension == ".md"
    # And a key that fits goes on unchanged
    assert keys.next_stage_key("results/draft/q3/r.pdf.md", "draft", "check") == "inbox/check/q3/r.pdf.md"


def test_fit_key_refuses_a_suffix_the_key_does_not_have() -> None:
    with pytest.raises(ValueError, match="does not end with"):
        keys.fit_key("results/p/" + "x" * 1100, ".md")


def test_a_cancel_marker_key_names_its_job() -> None:
    from batchdrop.domain.keys import cancel_key, cancel_marker_job

    assert cancel_key("20261202T094654Z-309b7fde") == "jobs/20261202T094654Z-309b7fde/cancel"
    assert cancel_marker_job(cancel_key("20261202T094654Z-309b7fde")) == "20261202T094654Z-309b7fde"
    assert cancel_marker_job("jobs/x/manifest.jsonl") is None
