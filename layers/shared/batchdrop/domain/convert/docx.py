"""Word .docx documents: the zip inflated within bounds (a bomb is refused before it inflates),
then paragraphs and tables as light Markdown text; python-docx loads on the first .docx."""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Iterable
from typing import TYPE_CHECKING

from batchdrop.domain.convert.limits import EMPTY, Converted, DocumentLimits, megabytes, short_reason
from batchdrop.domain.convert.text import text_document
from batchdrop.domain.documents import DocumentRejected
from batchdrop.domain.keys import InboxKey

if TYPE_CHECKING:
    from docx.document import Document as WordDocument
    from docx.table import Table
    from docx.text.paragraph import Paragraph


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADING_STYLE_RE = re.compile(r"^Heading (\d)$")
_LIST_LEVEL_RE = re.compile(r" (\d)$")
# python-docx: "file '<_io.BytesIO ...>' is not a Word file, content type is '...'"
_CONTENT_TYPE_RE = re.compile(r"is not a Word file, content type is '([^']+)'")


def convert_docx(doc: InboxKey, body: bytes, limits: DocumentLimits) -> Converted:
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
            else short_reason(exc)
        )
        raise DocumentRejected(f"the Word document could not be read: {reason}") from exc
    text = _DocxText(document).render()
    if not text:
        raise DocumentRejected(EMPTY)
    return text_document("docx", doc.name, text, body, limits, {})


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
        raise DocumentRejected(_inflates_to(f"{megabytes(declared)}", limits))
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
                raise DocumentRejected(f"the Word document could not be read: {short_reason(exc)}") from exc
            target.writestr(info.filename, b"".join(chunks))
    return out.getvalue()


def _inflates_to(amount: str, limits: DocumentLimits) -> str:
    return (
        f"the Word document could not be read: its text parts inflate to {amount}; "
        f"batchdrop reads at most {megabytes(limits.max_docx_inflated_bytes)} (a zip bomb?)"
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
