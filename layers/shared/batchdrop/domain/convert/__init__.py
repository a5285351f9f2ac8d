"""Document conversion: one document's bytes become Messages content blocks, or a reason it cannot.

Text-like files (plain text, markup, data and source code) become a text document block; HTML
and Word ``.docx`` are reduced to readable text first; PDFs and PNG/JPEG/GIF/WebP images go to
Claude natively as base64 document and image blocks. Everything the API would refuse (over its
size, page or pixel limits, encrypted, corrupt) is rejected here with ``DocumentRejected`` and a
reason a person understands, so one bad file never fails a whole batch.

Pure functions only: no AWS, no HTTP.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable

from batchdrop.domain.convert.docx import convert_docx
from batchdrop.domain.convert.html import convert_html
from batchdrop.domain.convert.image import convert_image
from batchdrop.domain.convert.limits import EMPTY, Converted, DocumentLimits, short_reason, too_large
from batchdrop.domain.convert.pdf import convert_pdf
from batchdrop.domain.convert.text import convert_text
from batchdrop.domain.documents import DocumentRejected
from batchdrop.domain.keys import InboxKey

__all__ = [
    "LIST_EXTENSION",
    "SUPPORTED_EXTENSIONS",
    "Converted",
    "DocumentLimits",
    "convert",
    "max_source_bytes",
    "too_large",
]

# The extension of request lists (batchdrop.domain.request_lists), which are not converted but read.
LIST_EXTENSION = ".jsonl"

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
DEFAULT_LIMITS = DocumentLimits()  # the API's own
SUPPORTED_EXTENSIONS: frozenset[str] = (
    _TEXT_EXTENSIONS | _HTML_EXTENSIONS | _PDF_EXTENSIONS | _IMAGE_EXTENSIONS | _DOCX_EXTENSIONS
)


def max_source_bytes(doc: InboxKey, limits: DocumentLimits = DEFAULT_LIMITS) -> int:
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


def convert(doc: InboxKey, body: bytes, limits: DocumentLimits = DEFAULT_LIMITS) -> Converted:
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
        raise DocumentRejected(EMPTY)
    limit = max_source_bytes(doc, limits)
    if len(body) > limit and extension not in _PDF_EXTENSIONS | _IMAGE_EXTENSIONS:
        # (PDFs and images are measured more exactly, at their base64 size, by their converters.)
        raise DocumentRejected(too_large(len(body), limit))
    try:
        return converter(doc, body, limits)
    except DocumentRejected:
        raise
    except Exception as exc:
        raise DocumentRejected(f"the document could not be converted: {short_reason(exc)}") from exc


_CONVERTERS: dict[str, Callable[[InboxKey, bytes, DocumentLimits], Converted]] = {
    **dict.fromkeys(_TEXT_EXTENSIONS, convert_text),
    **dict.fromkeys(_HTML_EXTENSIONS, convert_html),
    **dict.fromkeys(_PDF_EXTENSIONS, convert_pdf),
    **dict.fromkeys(_IMAGE_EXTENSIONS, convert_image),
    **dict.fromkeys(_DOCX_EXTENSIONS, convert_docx),
}
assert frozenset(_CONVERTERS) == SUPPORTED_EXTENSIONS
assert LIST_EXTENSION not in SUPPORTED_EXTENSIONS
