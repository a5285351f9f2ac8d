"""HTML pages: decoded (a <meta charset> counts), reduced to the text a reader sees, in light Markdown."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from batchdrop.domain.convert.limits import EMPTY, Converted, DocumentLimits
from batchdrop.domain.convert.text import decode_text, text_document
from batchdrop.domain.documents import DocumentRejected
from batchdrop.domain.keys import InboxKey

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


def convert_html(doc: InboxKey, body: bytes, limits: DocumentLimits) -> Converted:
    declared = _META_CHARSET_RE.search(body[:4096])
    markup, encoding = decode_text(body, declared.group(1).decode("ascii") if declared else None)
    parser = _ReadableText()
    parser.feed(markup)
    parser.close()
    text = parser.text()
    if not text:
        raise DocumentRejected(EMPTY)
    return text_document("html", parser.title() or doc.name, text, body, limits, {"encoding": encoding})


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
