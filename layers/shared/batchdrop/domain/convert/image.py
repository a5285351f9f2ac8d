"""Images (PNG, JPEG, GIF, WebP): sent natively (base64) within the API's pixel limit; imagesize
loads on the first image."""

from __future__ import annotations

import io

from batchdrop.domain.convert.limits import (
    Converted,
    DocumentLimits,
    base64_size,
    base64_text,
    check_request_size,
    first_bytes,
)
from batchdrop.domain.documents import DocumentRejected
from batchdrop.domain.keys import InboxKey


def convert_image(doc: InboxKey, body: bytes, limits: DocumentLimits) -> Converted:
    media_type = _image_media_type(body)
    if media_type is None:
        raise DocumentRejected(
            f"the file is not a PNG, JPEG, GIF or WebP image (its first bytes are {first_bytes(body)})"
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
    check_request_size("the image", base64_size(len(body)), limits)
    block = {
        "type": "image",
        "source": {"type": "base64", "media_type": media_type, "data": base64_text(body)},
    }
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
