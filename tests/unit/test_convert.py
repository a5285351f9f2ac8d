"""domain.convert: each kind of document becomes exact content blocks, or an exact reason it cannot."""

from __future__ import annotations

import base64
import codecs
import io
import tracemalloc
import zipfile
from typing import Any

import imagesize
import pypdf
import pytest
from docx import Document
from docx.document import Document as WordDocument
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from batchdrop.domain.convert import (
    SUPPORTED_EXTENSIONS,
    Converted,
    DocumentLimits,
    convert,
    max_source_bytes,
)
from batchdrop.domain.convert import limits as convert_limits
from batchdrop.domain.documents import DocumentRejected
from batchdrop.domain.keys import InboxKey
from tests.fixtures import files

NOT_TEXT = "the document is not valid text in UTF-8 or a recognisable encoding"


def _doc(path: str) -> InboxKey:
    return InboxKey(key=f"inbox/default/{path}", profile="default", path=path)


def _convert(path: str, body: bytes, **limits: Any) -> Converted:
    return convert(_doc(path), body, DocumentLimits(**limits))


def _rejected(path: str, body: bytes, **limits: Any) -> str:
    with pytest.raises(DocumentRejected) as caught:
        _convert(path, body, **limits)
    return str(caught.value)


def _text(converted: Converted) -> str:
    [block] = converted.blocks
    assert block["source"]["type"] == "text"
    return str(block["source"]["data"])


def _docx_bytes(document: WordDocument) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --- dispatch -----------------------------------------------------------------------------------


def test_supported_extensions_cover_every_kind_and_not_manifests() -> None:
    for extension in (".txt", ".md", ".csv", ".json", ".py", ".vue", ".html", ".pdf", ".webp", ".docx"):
        assert extension in SUPPORTED_EXTENSIONS
    assert ".jsonl" not in SUPPORTED_EXTENSIONS
    assert ".doc" not in SUPPORTED_EXTENSIONS
    assert all(ext.startswith(".") and ext == ext.lower() for ext in SUPPORTED_EXTENSIONS)


@pytest.mark.parametrize(("path", "shown"), [("scan.bmp", "'.bmp'"), ("README", "'(no extension)'")])
def test_unsupported_extension_is_named_with_what_is_supported(path: str, shown: str) -> None:
    assert _rejected(path, b"data") == (
        f"unsupported file type {shown}; batchdrop reads text (.txt .md .csv .json .xml .yaml, "
        "source code ...), HTML, PDF, PNG/JPEG/GIF/WebP images and Word .docx"
    )


@pytest.mark.parametrize("path", ["a.txt", "a.html", "a.pdf", "a.png", "a.docx"])
def test_an_empty_file_of_any_kind_is_empty(path: str) -> None:
    assert _rejected(path, b"") == "the document is empty"


def test_the_extension_is_matched_case_insensitively() -> None:
    assert _convert("NOTES.TXT", b"hello").kind == "text"


def test_an_unexpected_failure_becomes_a_rejection_chained_to_its_cause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a library that fails in a way no converter anticipates
    def broken(_: object) -> tuple[int, int]:
        raise RuntimeError("boom")

    monkeypatch.setattr(imagesize, "get", broken)  # what domain.convert.image imports to read an image
    # When / Then: the window gets a rejection, and the logs can still see the original error
    with pytest.raises(DocumentRejected, match=r"^the document could not be converted: boom$") as caught:
        _convert("a.png", files.png())
    assert isinstance(caught.value.__cause__, RuntimeError)


# --- text ---------------------------------------------------------------------------------------


def test_a_utf8_text_file_becomes_a_text_document_block() -> None:
    body = "Zürich, 3 °C\nline two\n".encode()
    converted = _convert("q3/notes.md", body)
    assert converted == Converted(
        kind="text",
        blocks=[
            {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": "Zürich, 3 °C\nline two\n"},
                "title": "notes.md",
            }
        ],
        source_bytes=len(body),
        detail={"encoding": "utf-8", "chars": 22},
    )


@pytest.mark.parametrize("path", ["data.csv", "config.yaml", "main.py", "App.vue", "query.sql"])
def test_data_and_source_code_are_text(path: str) -> None:
    assert _text(_convert(path, b"x = 1\n")) == "x = 1\n"


def test_windows_1252_is_detected() -> None:
    converted = _convert("menu.txt", files.cp1252_text())
    assert _text(converted) == files.CP1252_TEXT
    assert converted.detail == {"encoding": "cp1252", "chars": len(files.CP1252_TEXT)}


def test_other_legacy_encodings_are_detected() -> None:
    text = "Привет, мир! Как дела? Всё хорошо."
    converted = _convert("ru.txt", text.encode("cp1251"))
    assert (_text(converted), converted.detail["encoding"]) == (text, "cp1251")


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        (files.utf16_text(), "utf-16-le"),
        (codecs.BOM_UTF16_BE + files.UTF16_TEXT.encode("utf-16-be"), "utf-16-be"),
        (codecs.BOM_UTF8 + files.UTF16_TEXT.encode(), "utf-8-sig"),
    ],
)
def test_a_byte_order_mark_decides_the_encoding_and_is_dropped(body: bytes, encoding: str) -> None:
    converted = _convert("notepad.txt", body)
    assert _text(converted) == files.UTF16_TEXT
    assert converted.detail["encoding"] == encoding


def test_binary_is_not_text_and_the_first_invalid_byte_is_named() -> None:
    assert _rejected("data.txt", files.invalid_text()) == f"{NOT_TEXT} (first invalid byte 0x80 at offset 16)"


def test_binary_with_nuls_is_not_text_and_its_first_nul_is_named() -> None:
    assert _rejected("data.txt", files.nul_binary()) == (
        "the document is binary data, not text (it holds a NUL byte at offset 4)"
    )


def test_bytes_no_encoding_reads_name_the_first_invalid_byte() -> None:
    body = b"ok " + bytes(range(0x80, 0x100))
    assert _rejected("data.txt", body) == f"{NOT_TEXT} (first invalid byte 0x80 at offset 3)"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_without_a_bom_are_recognised_by_their_nuls(encoding: str) -> None:
    # Given text saved as UTF-16 or UTF-32 with no byte order mark
    body = files.UTF16_TEXT.encode(encoding)
    assert not body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    # Then it is decoded, not sent as bytes full of NULs
    converted = _convert("export.csv", body)
    assert _text(converted) == files.UTF16_TEXT
    assert converted.detail["encoding"] == encoding


def test_wide_text_in_a_non_latin_script_is_recognised() -> None:
    text = "Zürich: 12 °C, 3 Grad weniger als gestern. Morgen Regen.\n" * 20
    assert _text(_convert("a.txt", text.encode("utf-16-le"))) == text


@pytest.mark.parametrize(
    "body",
    [
        files.png(),
        files.docx(),
        b"readable text\x00with a NUL inside",
        "text with a NUL\x00".encode("utf-16-le"),
        bytes(range(256)) * 4,
    ],
)
def test_binary_with_nuls_is_rejected_as_binary(body: bytes) -> None:
    assert _rejected("notes.txt", body).startswith("the document is binary data, not text (it holds a NUL")


def test_text_made_mostly_of_control_characters_is_binary() -> None:
    body = bytes([1, 2, 3, 4, 5, 6, 0x1B, 0x7F]) * 50 + b"some words"
    assert _rejected("a.log", body) == (
        "the document is binary data, not text (400 of its 410 characters are control characters)"
    )


def test_a_log_with_colour_codes_is_still_text() -> None:
    line = "2026-12-01 12:00:00 \x1b[32mINFO\x1b[0m request served in 12 ms\n"
    assert _text(_convert("app.log", (line * 100).encode())) == line * 100


def test_invalid_offsets_count_from_the_start_of_the_file_including_the_bom() -> None:
    body = codecs.BOM_UTF8 + b"ok \xff"
    assert _rejected("a.txt", body) == f"{NOT_TEXT} (first invalid byte 0xff at offset 6)"


def test_a_guess_that_would_decode_to_control_characters_is_refused() -> None:
    # Given bytes that are not UTF-8 and hold control characters no text file has
    body = b"\x01\x02\x03 caf\xe9 \x04"
    # Then the guess of a single-byte code page is not taken for text
    assert _rejected("a.txt", body) == f"{NOT_TEXT} (first invalid byte 0xe9 at offset 7)"


@pytest.mark.parametrize("body", [b" \n\t\r\n ", codecs.BOM_UTF8, codecs.BOM_UTF8 + b"\n\n"])
def test_whitespace_only_text_is_empty(body: bytes) -> None:
    assert _rejected("a.txt", body) == "the document is empty"


def test_text_over_the_character_limit_is_rejected_not_truncated() -> None:
    assert _text(_convert("a.txt", b"x" * 100, max_text_chars=100)) == "x" * 100
    assert _rejected("a.txt", b"x" * 101, max_text_chars=100) == (
        "the document has 101 characters of text; batchdrop accepts at most 100 (it never truncates a document)"
    )


# --- HTML ---------------------------------------------------------------------------------------


def test_a_web_page_becomes_its_readable_text_titled_by_its_title() -> None:
    converted = _convert("site/menu.html", files.html_page())
    assert converted.kind == "html"
    assert converted.blocks == [
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": files.HTML_TEXT},
            "title": files.HTML_TITLE,
        }
    ]
    assert converted.detail == {"encoding": "utf-8", "chars": len(files.HTML_TEXT)}
    assert converted.source_bytes == len(files.html_page())


def test_html_structure_becomes_light_markdown() -> None:
    page = b"""<html><body>
      <h3>Steps</h3>
      <ol><li>Mix</li><li>Bake <b>well</b></li></ol>
      <div>One</div><div>Two</div>
      <blockquote>Quoted   text</blockquote>
      <pre>
def f():
    return 1
</pre>
      <hr>
      <table><tr><td></td><td>b</td></tr></table>
      <template><p>never shown</p></template>
      <p>a &copy; &#x263A; &quot;q&quot;</p>
    </body></html>"""
    assert _text(_convert("page.htm", page)) == (
        "### Steps\n"
        "\n"
        "- Mix\n"
        "- Bake well\n"
        "\n"
        "One\n"
        "Two\n"
        "\n"
        "Quoted text\n"
        "\n"
        "def f():\n"
        "    return 1\n"
        "\n"
        "| b\n"
        "\n"
        'a © ☺ "q"'
    )


def test_an_unclosed_head_ends_where_the_content_starts() -> None:
    converted = _convert("a.html", b"<html><head><title>T</title><meta name=x><h2>Body</h2>text")
    assert (_text(converted), converted.blocks[0]["title"]) == ("## Body\n\ntext", "T")


def test_html_without_a_title_is_titled_by_its_file_name() -> None:
    [block] = _convert("page.xhtml", b"<p>Hi</p>").blocks
    assert block["title"] == "page.xhtml"


def test_a_meta_charset_is_honoured() -> None:
    page = '<html><head><meta charset="windows-1252"></head><body>10 €</body></html>'.encode("cp1252")
    converted = _convert("a.html", page)
    assert (_text(converted), converted.detail["encoding"]) == ("10 €", "cp1252")


def test_a_meta_charset_of_latin_1_is_read_as_windows_1252_like_browsers_do() -> None:
    page = b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"><p>\x93quoted\x94</p>'
    converted = _convert("a.html", page)
    assert (_text(converted), converted.detail["encoding"]) == ("\u201cquoted\u201d", "cp1252")


def test_a_wrong_meta_charset_falls_back_to_detection() -> None:
    page = b'<meta charset="utf-8"><p>' + files.cp1252_text() + b"</p>"
    converted = _convert("a.html", page)
    assert (_text(converted), converted.detail["encoding"]) == (files.CP1252_TEXT, "cp1252")


@pytest.mark.parametrize(
    "page",
    [
        b"<html><head><title>Only a title</title><script>x()</script></head><body> </body></html>",
        b"<style>p { color: red }</style><noscript>Enable JS</noscript>",
        b"   \n",
    ],
)
def test_html_without_visible_text_is_empty(page: bytes) -> None:
    assert _rejected("a.html", page) == "the document is empty"


# --- PDF ----------------------------------------------------------------------------------------


def test_the_fixture_pdf_has_real_text() -> None:
    reader = pypdf.PdfReader(io.BytesIO(files.pdf(pages=2, text="Quarterly")))
    assert [page.extract_text() for page in reader.pages] == ["Quarterly (page 1)", "Quarterly (page 2)"]


def test_a_pdf_goes_to_claude_as_a_base64_document() -> None:
    body = files.pdf(pages=3)
    converted = _convert("q3/report.pdf", body)
    assert converted == Converted(
        kind="pdf",
        blocks=[
            {
                "type": "document",
                "source": {
                    "type": "base64",
                    "media_type": "application/pdf",
                    "data": base64.b64encode(body).decode("ascii"),
                },
                "title": "report.pdf",
            }
        ],
        source_bytes=len(body),
        detail={"pages": 3},
    )
    assert base64.b64decode(converted.blocks[0]["source"]["data"]) == body


def test_a_pdf_without_pages_is_empty() -> None:
    assert _rejected("a.pdf", files.pdf(pages=0)) == "the document is empty"


def test_an_encrypted_pdf_is_rejected() -> None:
    assert _rejected("a.pdf", files.encrypted_pdf()) == (
        "the PDF is encrypted; the API does not accept encrypted PDFs"
    )


@pytest.mark.parametrize("body", [files.corrupt_pdf(), files.pdf(pages=2)[:-200]])
def test_a_corrupt_pdf_is_rejected(body: bytes) -> None:
    assert _rejected("a.pdf", body) == "the PDF could not be read: Stream has ended unexpectedly"


def test_a_file_that_is_not_a_pdf_is_rejected_with_its_first_bytes() -> None:
    assert _rejected("a.pdf", b"<html>Not found</html>") == (
        "the file is not a PDF (its first bytes are 3c 68 74 6d 6c 3e 4e 6f '<html>No')"
    )


def test_a_pdf_over_the_page_limit_is_rejected() -> None:
    assert _convert("a.pdf", files.pdf(pages=2), max_pdf_pages=2).detail == {"pages": 2}
    assert _rejected("a.pdf", files.pdf(pages=3), max_pdf_pages=2) == (
        "the PDF has 3 pages; the model accepts at most 2 pages"
    )


def test_a_pdf_over_the_request_size_is_rejected_at_its_base64_size() -> None:
    body = files.pdf()
    encoded = len(base64.b64encode(body))
    assert encoded > len(body)
    _convert("a.pdf", body, max_request_bytes=encoded)  # exactly at the limit is fine
    assert _rejected("a.pdf", body, max_request_bytes=encoded - 1) == (
        f"the PDF is 0.0 MB ({encoded:,} bytes) as sent to the API; "
        f"a request may be at most 0.0 MB ({encoded - 1:,} bytes)"
    )


def test_the_default_request_limit_is_shown_in_megabytes() -> None:
    with pytest.raises(DocumentRejected, match=r"a request may be at most 32\.0 MB \(33,554,432 bytes\)$"):
        convert_limits.check_request_size("the PDF", 33_554_433, DocumentLimits())


# --- images -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "media_type"),
    [
        (files.png, "image/png"),
        (files.jpeg, "image/jpeg"),
        (files.gif, "image/gif"),
        (files.webp, "image/webp"),
    ],
)
@pytest.mark.parametrize("path", ["photo.png", "photo.JPG", "photo.webp"])
def test_an_image_type_comes_from_its_bytes_not_its_name(build, media_type: str, path: str) -> None:
    body = build(40, 30)
    converted = _convert(path, body)
    assert converted == Converted(
        kind="image",
        blocks=[
            {
                "type": "image",
                "source": {
                    "type": "base64",
                    "media_type": media_type,
                    "data": base64.b64encode(body).decode(),
                },
            }
        ],
        source_bytes=len(body),
        detail={"media_type": media_type, "width": 40, "height": 30},
    )


@pytest.mark.parametrize(("width", "height"), [(51, 10), (10, 51)])
def test_an_image_over_the_side_limit_is_rejected(width: int, height: int) -> None:
    assert _convert("a.png", files.png(50, 50), max_image_side=50).detail["width"] == 50
    assert _rejected("a.png", files.png(width, height), max_image_side=50) == (
        f"the image is {width}x{height} px; the API accepts at most 50x50 px"
    )


def test_an_image_over_the_request_size_is_rejected() -> None:
    body = files.png(8, 8)
    encoded = len(base64.b64encode(body))
    assert _rejected("a.png", body, max_request_bytes=100) == (
        f"the image is 0.0 MB ({encoded:,} bytes) as sent to the API; a request may be at most 0.0 MB (100 bytes)"
    )


def test_a_file_that_is_no_image_is_rejected_with_its_first_bytes() -> None:
    assert _rejected("cat.jpg", b"%PDF-1.7\n") == (
        "the file is not a PNG, JPEG, GIF or WebP image (its first bytes are 25 50 44 46 2d 31 2e 37 '%PDF-1.7')"
    )


def test_an_image_without_a_readable_size_is_rejected() -> None:
    assert _rejected("a.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 4) == (
        "the PNG image could not be read (no size found)"
    )


# --- Word ---------------------------------------------------------------------------------------


def test_a_word_document_becomes_text_in_document_order() -> None:
    body = files.docx()
    converted = _convert("minutes/q3.docx", body)
    assert converted == Converted(
        kind="docx",
        blocks=[
            {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": files.DOCX_TEXT},
                "title": "q3.docx",
            }
        ],
        source_bytes=len(body),
        detail={"chars": len(files.DOCX_TEXT)},
    )


def test_word_lists_are_numbered_and_nested() -> None:
    # Given numbered and nested lists, by style and by direct numbering (numIds of python-docx's
    # default template: 1 is a bullet list, 5 a decimal one)
    document = Document()
    document.add_heading("Steps", level=3)
    for text in ("Mix", "Bake"):
        document.add_paragraph(text, style="List Number")
    document.add_paragraph("Gently", style="List Bullet 2")
    document.add_paragraph("Serve", style="List Number")
    for text, num_id, level in (("First", "5", "0"), ("Nested", "1", "1"), ("Second", "5", "0")):
        paragraph = document.add_paragraph(text, style="List Paragraph")
        num_pr = OxmlElement("w:numPr")
        for tag, value in (("w:ilvl", level), ("w:numId", num_id)):
            child = OxmlElement(tag)
            child.set(qn("w:val"), value)
            num_pr.append(child)
        paragraph._p.get_or_add_pPr().append(num_pr)
    # Then
    assert _text(_convert("a.docx", _docx_bytes(document))) == (
        "\n".join(
            [
                "### Steps",
                "",
                "1. Mix",
                "2. Bake",
                "  - Gently",
                "3. Serve",
                "1. First",
                "  - Nested",
                "2. Second",
            ]
        )
    )


def test_merged_word_table_cells_are_shown_once() -> None:
    document = Document()
    table = document.add_table(rows=3, cols=3)
    table.cell(0, 0).merge(table.cell(0, 2)).text = "Totals | 2024"
    table.cell(1, 0).merge(table.cell(2, 0)).text = "EMEA"
    for row in (1, 2):
        table.cell(row, 1).text = f"Q{row}"
        table.cell(row, 2).text = f"{row}.0\nM€"
    assert _text(_convert("a.docx", _docx_bytes(document))) == (
        "| Totals \\| 2024 | | |\n| --- | --- | --- |\n| EMEA | Q1 | 1.0 M€ |\n| | Q2 | 2.0 M€ |"
    )


def test_an_empty_word_document_is_empty() -> None:
    document = Document()
    document.add_paragraph("   ")
    document.add_table(rows=1, cols=2)
    assert _rejected("a.docx", _docx_bytes(document)) == "the document is empty"


def _rezip(body: bytes, change: dict[str, bytes | None]) -> bytes:
    """``body`` (a zip) with members replaced, or dropped where the new content is None."""
    source = zipfile.ZipFile(io.BytesIO(body))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = change.get(info.filename, source.read(info.filename))
            if data is not None:
                target.writestr(info, data)
    return out.getvalue()


def _spreadsheet_types() -> bytes:
    types = zipfile.ZipFile(io.BytesIO(files.docx())).read("[Content_Types].xml")
    return types.replace(b"wordprocessingml.document.main+xml", b"spreadsheetml.sheet.main+xml")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"PK\x03\x04 truncated", "it is not a .docx (Office Open XML) file"),
        (files.pdf(), "it is not a .docx (Office Open XML) file"),
        (files.docx()[:3000], "it is not a .docx (Office Open XML) file"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
            "it is an old binary .doc file; save it as .docx",
        ),
        (
            _rezip(files.docx(), {"[Content_Types].xml": None}),
            "There is no item named '[Content_Types].xml' in the archive",
        ),
        (
            _rezip(files.docx(), {"[Content_Types].xml": _spreadsheet_types()}),
            "it is not a Word document (its content type is "
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml)",
        ),
    ],
)
def test_a_corrupt_word_document_is_rejected(body: bytes, reason: str) -> None:
    assert _rejected("a.docx", body) == f"the Word document could not be read: {reason}"


# --- sizes and hostile files --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("a.pdf", 24 * 1024 * 1024),  # 32 MB once base64-encoded
        ("a.png", 24 * 1024 * 1024),
        ("a.txt", 8_000_004),  # 2,000,000 characters of up to 4 bytes, and a BOM
        ("a.py", 8_000_004),
        ("a.html", 32 * 1024 * 1024),
        ("a.docx", 64 * 1024 * 1024),
        ("list.jsonl", 64 * 1024 * 1024),
    ],
)
def test_each_kind_has_a_largest_readable_size(path: str, limit: int) -> None:
    assert max_source_bytes(_doc(path)) == limit


def test_an_unsupported_type_is_rejected_before_it_is_read() -> None:
    with pytest.raises(DocumentRejected, match=r"^unsupported file type '\.zip'; batchdrop reads text"):
        max_source_bytes(_doc("archive.zip"))


def test_a_text_document_over_its_source_limit_is_rejected_by_size() -> None:
    limits = {"max_text_chars": 10}  # at most 44 bytes
    assert _text(_convert("a.txt", b"x" * 10, **limits)) == "x" * 10
    assert _rejected("a.txt", b"x" * 45, **limits) == (
        "the document is 0.0 MB (45 bytes); batchdrop reads documents of this kind up to 0.0 MB (44 bytes)"
    )


def test_a_docx_bomb_is_refused_by_its_declared_size_without_inflating_it() -> None:
    # Given a ~210 KiB .docx whose text inflates to 176 MB
    bomb = files.docx_bomb()
    assert len(bomb) < 256 * 1024
    # When it is converted, memory is watched
    tracemalloc.start()
    try:
        reason = _rejected("bomb.docx", bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Then it is refused with a clear reason, having held little more than the file itself
    declared = _declared_text_bytes(bomb)
    assert declared > 176 * 1024 * 1024
    assert reason == (
        f"the Word document could not be read: its text parts inflate to {declared / 2**20:.1f} MB "
        f"({declared:,} bytes); batchdrop reads at most 64.0 MB (67,108,864 bytes) (a zip bomb?)"
    )
    assert peak < 16 * 1024 * 1024


def _declared_text_bytes(body: bytes) -> int:
    infos = zipfile.ZipFile(io.BytesIO(body)).infolist()
    return sum(i.file_size for i in infos if i.filename.endswith((".xml", ".rels")))


def test_a_docx_bomb_that_understates_its_size_is_never_inflated_past_its_claim() -> None:
    # Given the same bomb, whose zip headers claim the text is 1,000 bytes
    bomb = files.understated_docx_bomb()
    tracemalloc.start()
    try:
        reason = _rejected("bomb.docx", bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Then inflating stops at the claim (the data does not match it) and memory stays small
    assert reason == "the Word document could not be read: Bad CRC-32 for file 'word/document.xml'"
    assert peak < 16 * 1024 * 1024


def test_a_docx_whose_text_inflates_past_a_lower_cap_is_refused() -> None:
    bomb = files.docx_bomb(inflated_bytes=3 * 1024 * 1024)
    assert _rejected("a.docx", bomb, max_docx_inflated_bytes=2 * 1024 * 1024).startswith(
        "the Word document could not be read: its text parts inflate to 3."
    )
    # and under the default cap the same file is a (mostly blank) document whose text is read
    assert _text(_convert("a.docx", bomb)) == files.DOCX_TEXT


def test_a_docx_with_too_many_parts_is_refused_before_its_directory_is_read() -> None:
    body = files.docx_with_parts(50)
    assert _rejected("a.docx", body, max_docx_parts=40).startswith(
        "the Word document could not be read: it has 6"
    )
    assert _text(_convert("a.docx", body)) == files.DOCX_TEXT


def test_pictures_in_a_docx_are_not_inflated_and_its_text_is_still_read() -> None:
    document = Document()
    document.add_paragraph("Caption above.")
    document.add_picture(io.BytesIO(files.png(400, 300)))
    assert _text(_convert("a.docx", _docx_bytes(document))) == "Caption above."


def test_a_pdf_claiming_more_pages_than_allowed_is_refused_from_its_page_count() -> None:
    assert _rejected("a.pdf", files.pdf_claiming_pages(1_000_000)) == (
        "the PDF has 1,000,000 pages; the model accepts at most 100 pages"
    )


def test_a_docx_that_takes_too_long_to_inflate_is_refused() -> None:
    # Given a .docx within every byte limit, and no time at all to inflate it
    body = files.docx_bomb(inflated_bytes=3 * 1024 * 1024)
    # Then it is refused for the time it would take, not converted
    assert _rejected("a.docx", body, max_inflate_seconds=0.0) == (
        "the Word document could not be read: inflating its parts took longer than 0 s (a zip bomb?)"
    )
