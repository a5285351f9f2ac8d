"""What a converted document may be, what it becomes (Converted), and the checks and wording
every format shares: the request size, sizes in megabytes, a file's first bytes, a short reason."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from batchdrop.domain.documents import DocumentRejected

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


EMPTY = "the document is empty"


def too_large(size: int, limit: int) -> str:
    """The reason for a document of ``size`` bytes over the ``limit`` of its kind."""
    return (
        f"the document is {megabytes(size)}; batchdrop reads documents of this kind up to {megabytes(limit)}"
    )


def base64_text(body: bytes) -> str:
    return base64.b64encode(body).decode("ascii")


def base64_size(size: int) -> int:
    return 4 * ((size + 2) // 3)


def check_request_size(what: str, size: int, limits: DocumentLimits) -> None:
    if size > limits.max_request_bytes:
        raise DocumentRejected(
            f"{what} is {megabytes(size)} as sent to the API; a request may be at most "
            f"{megabytes(limits.max_request_bytes)}"
        )


def megabytes(size: int) -> str:
    return f"{size / _MB:.1f} MB ({size:,} bytes)"


def first_bytes(body: bytes) -> str:
    head = body[:8]
    printable = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in head)
    return f"{binascii.hexlify(head, ' ').decode()} {printable!r}"


def short_reason(exc: BaseException) -> str:
    """A one-line reason from an exception, for a person rather than a developer."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)  # no repr quotes
    message = " ".join(text.split()) or type(exc).__name__
    return message if len(message) <= 200 else message[:197] + "..."
