"""Converters: one document's bytes become Messages content blocks, or a reason it cannot.

Text-like files (plain text, markup, data and source code) become a text document block; HTML
and Word ``.docx`` are reduced to readable text first; PDFs and PNG/JPEG/GIF/WebP images go to
Claude natively as base64 document and image blocks. Everything the API would refuse (over its
size, page or pixel limits, encrypted, corrupt) is rejected here with ``DocumentRejected`` and a
reason a person understands, so one bad file never fails a whole batch.

Pure functions only: no AWS, no HTTP.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import io
import re
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

from batchdrop.domain.documents import DocumentRejected
from batchdrop.domain.keys import InboxKey

# The format libraries load when a document of their format first arrives, not at cold start.
if TYPE_CHECKING:
    import pypdf
    from docx.document import Document as WordDocument
    from docx.table import Table
    from docx.text.paragraph import Paragraph

# The extension of request lists (batchdrop.domain.request_lists), which are not converted but read.
LIST_EXTENSION = ".jsonl"

_MB = 1024 * 1024


@dataclass(frozen=True)
class DocumentLimits:
    """What one document may be. The defaults are the Message Batches API's own limits."""

    # Per request; binary blocks count at their base64-encoded size.
    max_request_bytes: int = 32 * _MB
    # 100 for models with a 200k-token context window, 600 for larger ones.
    max_pdf_pages: int = 100
    # Pixels, for width and for height.
    max_image_side: int = 8000
    # A longer text document is rejected, never truncated.
    max_text_chars: int = 2_000_000
    # Objects larger than these are rejected before they are read (see max_source_bytes).
    max_html_bytes: int = 32 * _MB  # markup, scripts and styles around at most max_text_chars
    max_docx_bytes: int = 64 * _MB  # the .docx file itself, pictures included
    max_list_bytes: int = 64 * _MB  # a .jsonl request list
    # A .docx is a zip: its XML parts together may inflate to at most this, and it may have at
    # most this many parts (a zip bomb is refused before it inflates, not after).
    max_docx_inflated_bytes: int = 64 * _MB
    max_docx_parts: int = 10_000
    # Inflating a .docx's parts may take at most this long (seconds): with the byte cap, this
    # bounds the CPU a hostile document can cost the invocation and the documents after it.
    max_inflate_seconds: float = 20.0


@dataclass(frozen=True)
class Converted:
    """A document ready to go into a request."""

    kind: str  # "text" | "html" | "pdf" | "image" | "docx"
    blocks: list[dict[str, Any]]  # content blocks that go before the instruction in the user message
    source_bytes: int  # len(body)
    detail: dict[str, Any]  # facts for the manifest and logs


_TEXT_EXTENSIONS = frozenset(
    {
        # prose, markup and data
        *(".txt", ".md", ".markdown", ".text", ".csv", ".tsv", ".json", ".xml", ".yaml", ".yml"),
        *(".rst", ".log", ".ini", ".toml", ".cfg", ".tex", ".sql"),
        # source code
        *(".py", ".js", ".ts", ".tsx", ".jsx", ".java", ".c", ".h", ".cpp", ".hpp", ".cs", ".go"),
        *(".rs", ".rb", ".php", ".swift", ".kt", ".scala", ".sh", ".bash", ".ps1", ".r", ".m"),
        *(".pl", ".lua", ".css", ".scss", ".vue"),
    }
)
_HTML_EXTENSIONS = frozenset({".html", ".htm", ".xhtml"})
_PDF_EXTENSIONS = frozenset({".pdf"})
_IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})
_DOCX_EXTENSIONS = frozenset({".docx"})
SUPPORTED_EXTENSIONS: frozenset[str] = (
    _TEXT_EXTENSIONS | _HTML_EXTENSIONS | _PDF_EXTENSIONS | _IMAGE_EXTENSIONS | _DOCX_EXTENSIONS
)

_EMPTY = "the document is empty"


def max_source_bytes(doc: InboxKey, limits: DocumentLimits = DocumentLimits()) -> int:
    """The largest object of this document's kind that could become a request: a larger one is
    rejected without being read (``DocumentStore.get_document(max_bytes=...)``).

    Raises DocumentRejected for an unsupported file type, so that it is not read at all.
    PDFs and images go to the API base64-encoded (4 bytes for 3), text can take up to 4 bytes a
    character (UTF-32).
    """
    extension = doc.extension
    if extension == LIST_EXTENSION:
        return limits.max_list_bytes
    if extension not in _CONVERTERS:
        raise DocumentRejected(_unsupported(extension))
    if extension in _PDF_EXTENSIONS or extension in _IMAGE_EXTENSIONS:
        return limits.max_request_bytes * 3 // 4
    if extension in _HTML_EXTENSIONS:
        return limits.max_html_bytes
    if extension in _DOCX_EXTENSIONS:
        return limits.max_docx_bytes
    return min(limits.max_request_bytes, 4 * limits.max_text_chars + len(codecs.BOM_UTF32_LE))


def _unsupported(extension: str) -> str:
    return (
        f"unsupported file type {extension or '(no extension)'!r}; batchdrop reads text "
        "(.txt .md .csv .json .xml .yaml, source code ...), HTML, PDF, PNG/JPEG/GIF/WebP images "
        "and Word .docx"
    )


def too_large(size: int, limit: int) -> str:
    """The reason for a document of ``size`` bytes over the ``limit`` of its kind."""
    return (
        f"the document is {_megabytes(size)}; batchdrop reads documents of this kind up to "
        f"{_megabytes(limit)}"
    )


def convert(doc: InboxKey, body: bytes, limits: DocumentLimits = DocumentLimits()) -> Converted:
    """The content blocks for one document, or DocumentRejected with a reason a person understands.

    Dispatches on the file extension. Whatever goes wrong inside a converter becomes a
    rejection (chained to the original exception, for the logs): a document never crashes the
    function that handles a whole window of them.
    """
    extension = doc.extension
    converter = _CONVERTERS.get(extension)
    if converter is None:
        raise DocumentRejected(_unsupported(extension))
    if not body:
        raise DocumentRejected(_EMPTY)
    limit = max_source_bytes(doc, limits)
    if len(body) > limit and extension not in _PDF_EXTENSIONS | _IMAGE_EXTENSIONS:
        # (PDFs and images are measured more exactly, at their base64 size, by their converters.)
        raise DocumentRejected(too_large(len(body), limit))
    try:
        return converter(doc, body, limits)
    except DocumentRejected:
        raise
    except Exception as exc:
        raise DocumentRejected(f"the document could not be converted: {_short(exc)}") from exc


# --- text ---------------------------------------------------------------------------------------

# BOMs decide the encoding. UTF-32 LE is checked before UTF-16 LE, whose BOM is its prefix.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16-be"),
)
# Control characters no text file holds (all of C0 and C1 except tab, line feed, vertical tab,
# form feed and carriage return). A guessed encoding that produces one is not the right guess.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# Without a BOM, "UTF-16" and "UTF-32" are what any run of bytes decodes to.
_IMPLAUSIBLE_GUESSES = ("utf_16", "utf_32")
# Short Western texts decode identically (or equally well) in several legacy code pages;
# Windows-1252 is by far the most common of them, so it wins a tie.
_PREFERRED_GUESS = "cp1252"


def _convert_text(doc: InboxKey, body: bytes, limits: DocumentLimits) -> Converted:
    text, encoding = _decode(body)
    if not text.strip():
        raise DocumentRejected(_EMPTY)
    return _text_document("text", doc.name, text, body, limits, {"encoding": encoding})


def _decode(body: bytes, declared: str | None = None) -> tuple[str, str]:
    """The text of ``body`` and the name of its encoding, or DocumentRejected.

    A byte order mark decides; otherwise the ``declared`` encoding (an HTML ``<meta charset>``)
    if it decodes the whole body; otherwise, when the body holds NUL bytes, UTF-16 or UTF-32
    recognised by where its NULs fall (else it is binary); otherwise strict UTF-8; otherwise
    the guess of charset-normalizer, if it decodes the whole body strictly into plausible text.
    Text made mostly of control characters is binary, whatever decoded it.
    """
    for bom, codec, name in _BOMS:
        if body.startswith(bom):
            try:
                return _plausible(body[len(bom) :].decode(codec)), name
            except UnicodeDecodeError as exc:
                raise _not_text(body, len(bom) + exc.start) from None
    if declared:
        decoded = _decode_declared(body, declared)
        if decoded is not None:
            return _plausible(decoded[0]), decoded[1]
    nul = body.find(b"\x00")
    if nul >= 0:
        wide = _wide_encoding(body)
        if wide is not None:
            try:
                return _plausible(body.decode(wide)), wide
            except UnicodeDecodeError:
                pass
        raise DocumentRejected(f"the document is binary data, not text (it holds a NUL byte at offset {nul})")
    try:
        return _plausible(body.decode("utf-8")), "utf-8"
    except UnicodeDecodeError as exc:
        first_invalid = exc.start
    guessed = _guess(body)
    if guessed is None:
        raise _not_text(body, first_invalid)
    return guessed


# Text is binary when more than this share of its characters are control characters (ANSI
# colour codes in a log stay well below it) or when it holds a NUL.
_MAX_CONTROL_SHARE = 0.1
# Bytes looked at to recognise UTF-16 or UTF-32 without a BOM.
_WIDE_SAMPLE = 64 * 1024


def _plausible(text: str) -> str:
    """``text``, unless it is really binary data (DocumentRejected)."""
    nul = text.find("\x00")
    if nul >= 0:
        raise DocumentRejected(
            f"the document is binary data, not text (it holds a NUL character at position {nul})"
        )
    controls = len(text) - len(_CONTROL_RE.sub("", text))
    if controls > len(text) * _MAX_CONTROL_SHARE:
        raise DocumentRejected(
            f"the document is binary data, not text ({controls:,} of its {len(text):,} characters "
            "are control characters)"
        )
    return text


def _wide_encoding(body: bytes) -> str | None:
    """UTF-32 or UTF-16 (LE or BE) without a BOM, recognised by its NUL bytes, else None.

    In UTF-32 every character has a zero high byte (all of Unicode is below 0x110000) and
    nearly every one a zero second byte (the Basic Multilingual Plane); in UTF-16, Latin text
    has a NUL in every other byte and never in the other half.
    """
    sample = body[:_WIDE_SAMPLE]
    if len(body) % 4 == 0 and len(sample) >= 4:
        sample = sample[: len(sample) - len(sample) % 4]
        quarters = [_zero_share(sample[i::4]) for i in range(4)]
        if quarters[3] == 1.0 and quarters[2] >= 0.9 and quarters[0] < 0.5:
            return "utf-32-le"
        if quarters[0] == 1.0 and quarters[1] >= 0.9 and quarters[3] < 0.5:
            return "utf-32-be"
    if len(body) % 2 == 0 and len(sample) >= 2:
        sample = sample[: len(sample) - len(sample) % 2]
        even, odd = _zero_share(sample[0::2]), _zero_share(sample[1::2])
        if odd >= 0.2 and even <= 0.01:
            return "utf-16-le"
        if even >= 0.2 and odd <= 0.01:
            return "utf-16-be"
    return None


def _zero_share(data: bytes) -> float:
    return data.count(0) / len(data) if data else 0.0


def _decode_declared(body: bytes, declared: str) -> tuple[str, str] | None:
    try:
        name = codecs.lookup(declared).name
    except LookupError:
        return None
    if name.startswith(("utf-16", "utf-32")):
        # A page that can declare its encoding in ASCII is not UTF-16 (the HTML standard agrees).
        return None
    if name in {"ascii", "iso8859-1"}:
        # Browsers read both as Windows-1252 (WHATWG Encoding), and so do the pages' authors.
        name = "cp1252"
    try:
        return body.decode(name), name
    except UnicodeDecodeError:
        return None


def _guess(body: bytes) -> tuple[str, str] | None:
    import charset_normalizer

    plausible = [
        match
        for match in charset_normalizer.from_bytes(body)
        if not match.encoding.startswith(_IMPLAUSIBLE_GUESSES)
    ]
    if not plausible:
        return None
    best = plausible[0]
    tied = [m for m in plausible if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    candidates = [best.encoding]
    if any(_PREFERRED_GUESS in m.could_be_from_charset for m in tied):
        candidates.insert(0, _PREFERRED_GUESS)
    for encoding in candidates:
        try:
            text = body.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        if "\ufffd" not in text and not _CONTROL_RE.search(text):
            return text, codecs.lookup(encoding).name
    return None


def _not_text(body: bytes, offset: int) -> DocumentRejected:
    return DocumentRejected(
        "the document is not valid text in UTF-8 or a recognisable encoding "
        f"(first invalid byte 0x{body[offset]:02x} at offset {offset})"
    )


def _text_document(
    kind: str, title: str, text: str, body: bytes, limits: DocumentLimits, detail: dict[str, Any]
) -> Converted:
    if len(text) > limits.max_text_chars:
        raise DocumentRejected(
            f"the document has {len(text):,} characters of text; "
            f"batchdrop accepts at most {limits.max_text_chars:,} (it never truncates a document)"
        )
    _check_request_size("the text", len(text.encode("utf-8", "surrogatepass")), limits)
    block = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": text},
        "title": title,
    }
    return Converted(kind, [block], len(body), {**detail, "chars": len(text)})


# --- HTML ---------------------------------------------------------------------------------------

_META_CHARSET_RE = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_SKIPPED = frozenset({"script", "style", "noscript", "template"})
_HEAD_ELEMENTS = frozenset({"title", "meta", "link", "base", "style", "script", "noscript", "template"})
# Block elements that stand on lines of their own, and those that also get a blank line around.
_LINE_BLOCKS = frozenset(
    {"div", "br", "li", "tr", "dt", "dd", "header", "footer", "nav", "main", "aside", "form", "caption"}
    | {"figure", "figcaption", "address", "details", "summary", "dl", "center"}
)
_PARAGRAPH_BLOCKS = frozenset({"p", "section", "article", "table", "ul", "ol", "pre", "blockquote", "hr"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}


def _convert_html(doc: InboxKey, body: bytes, limits: DocumentLimits) -> Converted:
    declared = _META_CHARSET_RE.search(body[:4096])
    markup, encoding = _decode(body, declared.group(1).decode("ascii") if declared else None)
    parser = _ReadableText()
    parser.feed(markup)
    parser.close()
    text = parser.text()
    if not text:
        raise DocumentRejected(_EMPTY)
    return _text_document("html", parser.title() or doc.name, text, body, limits, {"encoding": encoding})


class _ReadableText(HTMLParser):
    """The text a reader sees in an HTML page, with its structure in light Markdown."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._lines: list[str] = []
        self._line = ""
        self._blank_pending = False
        self._skip_depth = 0
        self._in_head = False
        self._in_title = False
        self._title: list[str] = []
        self._title_done = False
        self._pre_depth = 0
        self._cells: list[int] = []  # cells seen in the current row, one entry per open table

    # -- parser callbacks

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip_depth += 1
        elif tag == "head":
            self._in_head = True
        elif tag == "body":
            self._in_head = False
        elif tag == "title":
            self._in_title = not self._title_done
        elif self._in_head and tag not in _HEAD_ELEMENTS:
            self._in_head = False  # an unclosed <head> ends where the content starts
        if self._hidden():
            return
        if tag in _HEADINGS:
            self._break(blank=True)
            self._line = "#" * _HEADINGS[tag] + " "
        elif tag == "li":
            self._break()
            self._line = "- "
        elif tag == "table":
            self._break(blank=True)
            self._cells.append(0)
        elif tag == "tr":
            self._break()
            if self._cells:
                self._cells[-1] = 0
        elif tag in {"td", "th"}:
            if self._cells:
                if self._cells[-1]:
                    self._line = (self._line.rstrip() + " | ").lstrip()
                self._cells[-1] += 1
        elif tag in _PARAGRAPH_BLOCKS:
            self._break(blank=True)
            if tag == "pre":
                self._pre_depth += 1
        elif tag in _LINE_BLOCKS:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if tag == "head":
            self._in_head = False
        elif tag == "title" and self._in_title:
            self._in_title = False
            self._title_done = True
        if self._hidden():
            return
        if tag in _HEADINGS or tag in _PARAGRAPH_BLOCKS:
            self._break(blank=True)
            if tag == "pre":
                self._pre_depth = max(0, self._pre_depth - 1)
            elif tag == "table" and self._cells:
                self._cells.pop()
        elif tag in _LINE_BLOCKS:
            self._break()

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._in_title:
            self._title.append(data)
            return
        if self._in_head:
            return
        if self._pre_depth:
            first, *rest = data.split("\n")
            self._write(first, verbatim=True)
            for line in rest:
                self._end_line()
                self._write(line, verbatim=True)
        else:
            self._write(re.sub(r"\s+", " ", data))

    # -- results

    def title(self) -> str:
        return re.sub(r"\s+", " ", "".join(self._title)).strip()

    def text(self) -> str:
        self._end_line()
        return "\n".join(self._lines).strip("\n")

    # -- building lines

    def _hidden(self) -> bool:
        return bool(self._skip_depth) or self._in_head

    def _write(self, text: str, verbatim: bool = False) -> None:
        if not verbatim and (not self._line or self._line.endswith(" ")):
            text = text.lstrip()
        if not text:
            return
        if self._blank_pending:
            if self._lines and self._lines[-1]:
                self._lines.append("")
            self._blank_pending = False
        self._line += text

    def _end_line(self) -> None:
        line = self._line.rstrip()
        self._line = ""
        if line and line not in {"-", "#" * len(line)}:  # an empty list item or heading says nothing
            self._lines.append(line)

    def _break(self, blank: bool = False) -> None:
        self._end_line()
        if blank and self._lines:
            self._blank_pending = True


# --- PDF ----------------------------------------------------------------------------------------


def _convert_pdf(doc: InboxKey, body: bytes, limits: DocumentLimits) -> Converted:
    if not body.startswith(b"%PDF-"):
        raise DocumentRejected(f"the file is not a PDF (its first bytes are {_first_bytes(body)})")
    _check_request_size("the PDF", _base64_size(len(body)), limits)
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(body))
        encrypted = reader.is_encrypted
        # The page tree's own /Count first: a PDF claiming a million pages is refused before
        # its tree is walked. The walk then gives the true count.
        declared = None if encrypted else _declared_pages(reader)
        pages: int | None
        if declared is not None and declared > limits.max_pdf_pages:
            pages = declared
        else:
            pages = None if encrypted else len(reader.pages)
    except Exception as exc:
        raise DocumentRejected(f"the PDF could not be read: {_short(exc)}") from exc
    if encrypted:
        raise DocumentRejected("the PDF is encrypted; the API does not accept encrypted PDFs")
    if not pages:
        raise DocumentRejected(_EMPTY)
    if pages > limits.max_pdf_pages:
        raise DocumentRejected(
            f"the PDF has {pages:,} pages; the model accepts at most {limits.max_pdf_pages:,} pages"
        )
    block = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": _base64(body)},
        "title": doc.name,
    }
    return Converted("pdf", [block], len(body), {"pages": pages})


def _declared_pages(reader: pypdf.PdfReader) -> int | None:
    """The page tree's /Count, None when it has none (the walk of the tree then decides)."""
    try:
        count = reader.root_object["/Pages"].get_object()["/Count"]  # type: ignore[index]
    except Exception:  # a malformed tree: len(reader.pages) reports it
        return None
    return int(count) if isinstance(count, int) and count >= 0 else None


# --- images -------------------------------------------------------------------------------------


def _convert_image(doc: InboxKey, body: bytes, limits: DocumentLimits) -> Converted:
    media_type = _image_media_type(body)
    if media_type is None:
        raise DocumentRejected(
            f"the file is not a PNG, JPEG, GIF or WebP image (its first bytes are {_first_bytes(body)})"
        )
    import imagesize

    width, height = imagesize.get(io.BytesIO(body))
    if width <= 0 or height <= 0:
        raise DocumentRejected(f"the {_image_kind(media_type)} image could not be read (no size found)")
    if max(width, height) > limits.max_image_side:
        raise DocumentRejected(
            f"the image is {width}x{height} px; the API accepts at most "
            f"{limits.max_image_side}x{limits.max_image_side} px"
        )
    _check_request_size("the image", _base64_size(len(body)), limits)
    block = {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": _base64(body)}}
    detail = {"media_type": media_type, "width": width, "height": height}
    return Converted("image", [block], len(body), detail)


def _image_media_type(body: bytes) -> str | None:
    """The media type of a PNG, JPEG, GIF or WebP image from its first bytes, else None."""
    if body.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if body.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if body.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if body.startswith(b"RIFF") and body[8:12] == b"WEBP":
        return "image/webp"
    return None


def _image_kind(media_type: str) -> str:
    return {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WebP"}[media_type]


# --- Word ---------------------------------------------------------------------------------------

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADING_STYLE_RE = re.compile(r"^Heading (\d)$")
_LIST_LEVEL_RE = re.compile(r" (\d)$")
# python-docx: "file '<_io.BytesIO ...>' is not a Word file, content type is '...'"
_CONTENT_TYPE_RE = re.compile(r"is not a Word file, content type is '([^']+)'")


def _convert_docx(doc: InboxKey, body: bytes, limits: DocumentLimits) -> Converted:
    if body.startswith(_OLE_MAGIC):
        raise DocumentRejected(
            "the Word document could not be read: it is an old binary .doc file; save it as .docx"
        )
    package = _bounded_package(body, limits)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(package))
    except (zipfile.BadZipFile, PackageNotFoundError):
        raise DocumentRejected(
            "the Word document could not be read: it is not a .docx (Office Open XML) file"
        ) from None
    except Exception as exc:
        content_type = _CONTENT_TYPE_RE.search(str(exc)) if isinstance(exc, ValueError) else None
        reason = (
            f"it is not a Word document (its content type is {content_type.group(1)})"
            if content_type
            else _short(exc)
        )
        raise DocumentRejected(f"the Word document could not be read: {reason}") from exc
    text = _DocxText(document).render()
    if not text:
        raise DocumentRejected(_EMPTY)
    return _text_document("docx", doc.name, text, body, limits, {})


_NOT_DOCX = "the Word document could not be read: it is not a .docx (Office Open XML) file"
_INFLATE_CHUNK = 1024 * 1024


def _bounded_package(body: bytes, limits: DocumentLimits) -> bytes:
    """The .docx with its XML parts inflated (at most ``max_docx_inflated_bytes`` together) and
    its other parts (pictures, fonts, embedded files: not needed for the text) left empty.

    The zip's own counts and declared sizes are checked first, so that a bomb is refused before
    anything is inflated; since declared sizes may lie, the parts are then inflated in chunks
    against the same cap. Memory stays within twice the cap whatever the file claims.
    """
    parts = _zip_entry_count(body)
    if parts is not None and parts > limits.max_docx_parts:
        raise DocumentRejected(
            f"the Word document could not be read: it has {parts:,} parts; "
            f"batchdrop reads at most {limits.max_docx_parts:,}"
        )
    try:
        source = zipfile.ZipFile(io.BytesIO(body))
    except zipfile.BadZipFile:
        raise DocumentRejected(_NOT_DOCX) from None
    infos = source.infolist()
    if len(infos) > limits.max_docx_parts:
        raise DocumentRejected(
            f"the Word document could not be read: it has {len(infos):,} parts; "
            f"batchdrop reads at most {limits.max_docx_parts:,}"
        )
    text_parts = [info for info in infos if _is_text_part(info.filename)]
    declared = sum(info.file_size for info in text_parts)
    if declared > limits.max_docx_inflated_bytes:
        raise DocumentRejected(_inflates_to(f"{_megabytes(declared)}", limits))
    out = io.BytesIO()
    inflated = 0
    deadline = time.monotonic() + limits.max_inflate_seconds
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for info in infos:
            if info.is_dir():
                continue
            if not _is_text_part(info.filename):
                target.writestr(info.filename, b"")
                continue
            chunks = []
            try:
                with source.open(info) as member:
                    while chunk := member.read(_INFLATE_CHUNK):
                        inflated += len(chunk)
                        if inflated > limits.max_docx_inflated_bytes:
                            raise DocumentRejected(_inflates_to("more than its zip declares", limits))
                        if time.monotonic() > deadline:
                            raise DocumentRejected(
                                "the Word document could not be read: inflating its parts took longer "
                                f"than {limits.max_inflate_seconds:g} s (a zip bomb?)"
                            )
                        chunks.append(chunk)
            except DocumentRejected:
                raise
            except Exception as exc:  # a bad CRC, a corrupt stream, an encrypted or odd member
                raise DocumentRejected(f"the Word document could not be read: {_short(exc)}") from exc
            target.writestr(info.filename, b"".join(chunks))
    return out.getvalue()


def _inflates_to(amount: str, limits: DocumentLimits) -> str:
    return (
        f"the Word document could not be read: its text parts inflate to {amount}; "
        f"batchdrop reads at most {_megabytes(limits.max_docx_inflated_bytes)} (a zip bomb?)"
    )


def _is_text_part(name: str) -> bool:
    return name.lower().endswith((".xml", ".rels"))


def _zip_entry_count(body: bytes) -> int | None:
    """The entry count in a zip's end-of-central-directory record (read before zipfile builds an
    object per entry), None when there is no such record; Zip64's 0xFFFF means "more"."""
    end = body.rfind(b"PK\x05\x06", max(0, len(body) - 65_557))
    if end < 0 or end + 12 > len(body):
        return None
    count = int.from_bytes(body[end + 10 : end + 12], "little")
    return count if count != 0xFFFF else 0x10000


class _DocxText:
    """The body of a Word document, paragraphs and tables in order, as light Markdown."""

    def __init__(self, document: WordDocument) -> None:
        self._document = document
        self._formats: dict[tuple[str, str], str] = {}
        self._counters: dict[tuple[str, int], int] = {}

    def render(self) -> str:
        # (text, is list item): list items sit on consecutive lines, other blocks are paragraphs.
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        blocks: list[tuple[str, bool]] = []
        for item in self._document.iter_inner_content():
            if isinstance(item, Paragraph):
                rendered = self._paragraph(item)
                if rendered is not None:
                    blocks.append(rendered)
            elif isinstance(item, Table):
                table = self._table(item)
                if table:
                    blocks.append((table, False))
        out = ""
        for index, (text, is_list) in enumerate(blocks):
            if index:
                out += "\n" if is_list and blocks[index - 1][1] else "\n\n"
            out += text
        return out

    def _paragraph(self, paragraph: Paragraph) -> tuple[str, bool] | None:
        text = paragraph.text.strip()
        if not text:
            return None
        style = (paragraph.style.name if paragraph.style is not None else None) or ""
        if style == "Title":
            return f"# {text}", False
        heading = _HEADING_STYLE_RE.match(style)
        if heading:
            return f"{'#' * min(int(heading.group(1)), 6)} {text}", False
        prefix = self._list_prefix(paragraph, style)
        if prefix is not None:
            return f"{prefix}{text}", True
        return text, False

    def _list_prefix(self, paragraph: Paragraph, style: str) -> str | None:
        """``- `` or ``n. ``, indented by level, for a list item; None for other paragraphs."""
        num_ids = paragraph._p.xpath("./w:pPr/w:numPr/w:numId/@w:val")
        num_id = str(num_ids[0]) if num_ids else "0"
        if num_id != "0":  # numId 0 means "numbering removed"
            levels = paragraph._p.xpath("./w:pPr/w:numPr/w:ilvl/@w:val")
            level = int(levels[0]) if levels else 0
            numbered = self._numbering_format(num_id, str(level)) not in {"bullet", "none", ""}
            key = f"num:{num_id}"
        elif style.startswith("List"):
            level_match = _LIST_LEVEL_RE.search(style)
            level = int(level_match.group(1)) - 1 if level_match else 0
            numbered = style.startswith("List Number")
            key = f"style:{style.rstrip(' 0123456789')}"
        else:
            return None
        indent = "  " * level
        if not numbered:
            return f"{indent}- "
        # Word continues a list's numbering through the document; an item resets deeper levels.
        for deeper in [k for k in self._counters if k[0] == key and k[1] > level]:
            del self._counters[deeper]
        number = self._counters[(key, level)] = self._counters.get((key, level), 0) + 1
        return f"{indent}{number}. "

    def _numbering_format(self, num_id: str, level: str) -> str:
        """The ``w:numFmt`` of a list level ("bullet", "decimal", ...), "" when unknown."""
        if (num_id, level) not in self._formats:
            from docx.opc.constants import RELATIONSHIP_TYPE
            from docx.opc.part import XmlPart

            try:
                part = self._document.part.part_related_by(RELATIONSHIP_TYPE.NUMBERING)
                if not isinstance(part, XmlPart):
                    raise KeyError(RELATIONSHIP_TYPE.NUMBERING)
                numbering = part.element
                abstract = numbering.xpath(f'./w:num[@w:numId="{num_id}"]/w:abstractNumId/@w:val')
                formats = numbering.xpath(
                    f'./w:abstractNum[@w:abstractNumId="{abstract[0]}"]'
                    f'/w:lvl[@w:ilvl="{level}"]/w:numFmt/@w:val'
                )
                self._formats[(num_id, level)] = str(formats[0])
            except (KeyError, IndexError):
                self._formats[(num_id, level)] = ""
        return self._formats[(num_id, level)]

    def _table(self, table: Table) -> str:
        rows: list[list[str]] = []
        for row in table.rows:
            cells: list[str] = []
            previous = None
            for cell in row.cells:
                # python-docx repeats a merged cell for every grid column and row it spans; show
                # its text once, where it starts.
                spanned = cell._tc is previous or cell._tc.getparent() is not row._tr
                previous = cell._tc
                cells.append("" if spanned else _cell_text(cell.text))
            rows.append(cells)
        if not any(any(cells) for cells in rows):
            return ""
        width = max(len(cells) for cells in rows)
        lines = [_table_row(cells + [""] * (width - len(cells))) for cells in rows]
        lines.insert(1, _table_row(["---"] * width))
        return "\n".join(lines)


def _cell_text(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().replace("|", "\\|")


def _table_row(cells: Iterable[str]) -> str:
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"


# --- shared -------------------------------------------------------------------------------------


def _base64(body: bytes) -> str:
    return base64.b64encode(body).decode("ascii")


def _base64_size(size: int) -> int:
    return 4 * ((size + 2) // 3)


def _check_request_size(what: str, size: int, limits: DocumentLimits) -> None:
    if size > limits.max_request_bytes:
        raise DocumentRejected(
            f"{what} is {_megabytes(size)} as sent to the API; a request may be at most "
            f"{_megabytes(limits.max_request_bytes)}"
        )


def _megabytes(size: int) -> str:
    return f"{size / _MB:.1f} MB ({size:,} bytes)"


def _first_bytes(body: bytes) -> str:
    head = body[:8]
    printable = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in head)
    return f"{binascii.hexlify(head, ' ').decode()} {printable!r}"


def _short(exc: BaseException) -> str:
    """A one-line reason from an exception, for a person rather than a developer."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)  # no repr quotes
    message = " ".join(text.split()) or type(exc).__name__
    return message if len(message) <= 200 else message[:197] + "..."


_CONVERTERS: dict[str, Callable[[InboxKey, bytes, DocumentLimits], Converted]] = {
    **dict.fromkeys(_TEXT_EXTENSIONS, _convert_text),
    **dict.fromkeys(_HTML_EXTENSIONS, _convert_html),
    **dict.fromkeys(_PDF_EXTENSIONS, _convert_pdf),
    **dict.fromkeys(_IMAGE_EXTENSIONS, _convert_image),
    **dict.fromkeys(_DOCX_EXTENSIONS, _convert_docx),
}
assert frozenset(_CONVERTERS) == SUPPORTED_EXTENSIONS
assert LIST_EXTENSION not in SUPPORTED_EXTENSIONS
