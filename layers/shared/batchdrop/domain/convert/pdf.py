"""PDFs: sent natively (base64), once their pages are counted; pypdf loads on the first PDF."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from batchdrop.domain.convert.limits import (
    EMPTY,
    Converted,
    DocumentLimits,
    base64_size,
    base64_text,
    check_request_size,
    first_bytes,
    short_reason,
)
from batchdrop.domain.documents import DocumentRejected
from batchdrop.domain.keys import InboxKey

if TYPE_CHECKING:
    import pypdf


def convert_pdf(doc: InboxKey, body: bytes, limits: DocumentLimits) -> Converted:
    if not body.startswith(b"%PDF-"):
        raise DocumentRejected(f"the file is not a PDF (its first bytes are {first_bytes(body)})")
    check_request_size("the PDF", base64_size(len(body)), limits)
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
        raise DocumentRejected(f"the PDF could not be read: {short_reason(exc)}") from exc
    if encrypted:
        raise DocumentRejected("the PDF is encrypted; the API does not accept encrypted PDFs")
    if not pages:
        raise DocumentRejected(EMPTY)
    if pages > limits.max_pdf_pages:
        raise DocumentRejected(
            f"the PDF has {pages:,} pages; the model accepts at most {limits.max_pdf_pages:,} pages"
        )
    block = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": base64_text(body)},
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
