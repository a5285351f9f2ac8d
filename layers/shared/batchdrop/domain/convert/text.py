"""Text documents: the encoding found (BOM, declared, UTF-16/32 by their NULs, UTF-8, a guess),
binary data told apart, and the text document block that HTML and Word documents also become."""

from __future__ import annotations

import codecs
import re
from typing import Any

from batchdrop.domain.convert.limits import EMPTY, Converted, DocumentLimits, check_request_size
from batchdrop.domain.documents import DocumentRejected
from batchdrop.domain.keys import InboxKey

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


def convert_text(doc: InboxKey, body: bytes, limits: DocumentLimits) -> Converted:
    text, encoding = decode_text(body)
    if not text.strip():
        raise DocumentRejected(EMPTY)
    return text_document("text", doc.name, text, body, limits, {"encoding": encoding})


def decode_text(body: bytes, declared: str | None = None) -> tuple[str, str]:
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


def text_document(
    kind: str, title: str, text: str, body: bytes, limits: DocumentLimits, detail: dict[str, Any]
) -> Converted:
    if len(text) > limits.max_text_chars:
        raise DocumentRejected(
            f"the document has {len(text):,} characters of text; "
            f"batchdrop accepts at most {limits.max_text_chars:,} (it never truncates a document)"
        )
    check_request_size("the text", len(text.encode("utf-8", "surrogatepass")), limits)
    block = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": text},
        "title": title,
    }
    return Converted(kind, [block], len(body), {**detail, "chars": len(text)})
