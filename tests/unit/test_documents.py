"""documents: inbox keys, result/error keys, custom ids, text decoding and Messages params."""

from __future__ import annotations

import re

import pytest

from batchdrop import documents
from batchdrop.documents import (
    DocumentRejected,
    InboxKey,
    custom_id,
    decode_text,
    error_key,
    message_params,
    parse_inbox_key,
    result_key,
)
from batchdrop.profiles import Profile

CUSTOM_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
SUPPORTED = ".markdown, .md, .text, .txt"

MARKDOWN_PROFILE = Profile(
    name="default", model="claude-haiku-4-5", max_tokens=1024, instruction="Summarise."
)
JSON_PROFILE = Profile(
    name="extract", model="claude-sonnet-4-5", max_tokens=2048, instruction="Extract.", output_format="json"
)


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


# --- decode_text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("inbox/default/report.pdf", "'.pdf'"),
        ("inbox/default/photo.PNG", "'.png'"),
        ("inbox/default/data.csv", "'.csv'"),
        ("inbox/default/README", "'(no extension)'"),
    ],
)
def test_decode_text_rejects_unsupported_extension(key: str, shown: str) -> None:
    with pytest.raises(DocumentRejected) as info:
        decode_text(_doc(key), b"some text")
    assert str(info.value) == f"unsupported file type {shown}; supported: {SUPPORTED}"


@pytest.mark.parametrize(
    "body", [b"", b" ", b"\n\n", b" \t\r\n \x0b\x0c"], ids=["empty", "space", "newlines", "mixed"]
)
def test_decode_text_rejects_empty_and_whitespace_only(body: bytes) -> None:
    with pytest.raises(DocumentRejected, match=r"^the document is empty$"):
        decode_text(_doc("inbox/default/a.txt"), body)


@pytest.mark.parametrize(
    "body", [b"\xef\xbb\xbf", b"\xef\xbb\xbf  \r\n"], ids=["bom-only", "bom-and-whitespace"]
)
def test_decode_text_rejects_a_bom_only_document_as_empty(body: bytes) -> None:
    # A file saved "empty" as UTF-8 with BOM (e.g. by Notepad) holds only the BOM.
    with pytest.raises(DocumentRejected, match=r"^the document is empty$"):
        decode_text(_doc("inbox/default/a.txt"), body)


def test_decode_text_rejects_oversize_document(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "MAX_TEXT_BYTES", 1000)
    doc = _doc("inbox/default/big.txt")
    assert decode_text(doc, b"a" * 1000) == "a" * 1000
    with pytest.raises(DocumentRejected) as info:
        decode_text(doc, b"a" * 1001)
    assert str(info.value) == "the document is 1,001 bytes; text documents are limited to 1,000 bytes"


def test_decode_text_default_limit_is_8_mib() -> None:
    assert documents.MAX_TEXT_BYTES == 8 * 1024 * 1024


@pytest.mark.parametrize(
    ("body", "byte", "offset"),
    [
        (b"\xff", "0xff", 0),
        (b"ab\xffcd", "0xff", 2),
        (b"caf\xe9 latin-1", "0xe9", 3),
        (b"ok\xc3", "0xc3", 2),
    ],
)
def test_decode_text_rejects_invalid_utf8_with_byte_and_offset(body: bytes, byte: str, offset: int) -> None:
    with pytest.raises(DocumentRejected) as info:
        decode_text(_doc("inbox/default/a.txt"), body)
    assert str(info.value) == f"the document is not valid UTF-8 (invalid byte {byte} at offset {offset})"


def test_decode_text_invalid_utf8_after_bom_reports_offset_in_the_file() -> None:
    # The offset is the position in the uploaded file (the BOM is 3 bytes), and the byte is the bad one.
    with pytest.raises(DocumentRejected) as info:
        decode_text(_doc("inbox/default/a.txt"), b"\xef\xbb\xbfab\xffcd")
    assert str(info.value) == "the document is not valid UTF-8 (invalid byte 0xff at offset 5)"


def test_decode_text_strips_utf8_bom() -> None:
    assert decode_text(_doc("inbox/default/a.md"), b"\xef\xbb\xbf# Title\n") == "# Title\n"


def test_decode_text_only_strips_a_leading_bom() -> None:
    body = "a\ufeffb".encode()
    assert decode_text(_doc("inbox/default/a.md"), body) == "a\ufeffb"


@pytest.mark.parametrize(
    "text",
    ["Café, naïve, 日本語, emoji 🎉\n", "  leading and trailing whitespace kept  \n", "line1\r\nline2"],
)
def test_decode_text_preserves_unicode_and_whitespace(text: str) -> None:
    assert decode_text(_doc("inbox/default/a.txt"), text.encode()) == text


@pytest.mark.parametrize("key", ["inbox/a.txt", "inbox/default/a.md", "inbox/x/a.MARKDOWN", "inbox/x/a.text"])
def test_decode_text_accepts_every_text_extension(key: str) -> None:
    assert decode_text(_doc(key), b"hello") == "hello"


# --- message_params -----------------------------------------------------------------------------


def test_message_params_minimal_profile() -> None:
    doc = _doc("inbox/default/q3/report.txt")
    assert message_params(MARKDOWN_PROFILE, doc, "The text.") == {
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


def test_message_params_with_system_prompt_and_temperature() -> None:
    profile = Profile(
        name="summarize",
        model="claude-sonnet-4-5",
        max_tokens=4096,
        instruction="Summarise in three bullets.",
        system_prompt="You are a careful analyst.",
        temperature=0.2,
    )
    doc = _doc("inbox/summarize/été/notes, v2.md")
    assert message_params(profile, doc, "Texte accentué.") == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "system": "You are a careful analyst.",
        "temperature": 0.2,
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


def test_message_params_temperature_zero_is_sent() -> None:
    profile = Profile(name="p", model="m", max_tokens=10, instruction="i", temperature=0.0)
    params = message_params(profile, _doc("inbox/p/a.txt"), "t")
    assert params["temperature"] == 0.0
    assert "system" not in params


def test_message_params_document_comes_before_instruction() -> None:
    params = message_params(MARKDOWN_PROFILE, _doc("inbox/a.txt"), "t")
    content = params["messages"][0]["content"]
    assert [block["type"] for block in content] == ["document", "text"]
