"""Which image a file is, from its first bytes (spec §12 "Trade Journal": screenshot attachments).

The journal accepts PNG, JPEG and WebP screenshots. A client's declared content type and file
name prove nothing, so the service also reads the file's signature ("magic bytes"):

- PNG: the 8-byte signature ``89 50 4E 47 0D 0A 1A 0A`` (PNG specification, section 5.2).
- JPEG: ``FF D8 FF``, the start-of-image marker followed by the next marker's ``FF``.
- WebP: a RIFF container, ``RIFF`` + 4 size bytes + ``WEBP`` (RFC 9649, section 2).
"""

SIGNATURE_BYTES = 12  # enough for the longest signature (WebP)
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def sniff_image_type(head: bytes) -> str | None:
    """The content type the leading bytes prove, or None when they are none of PNG, JPEG, WebP."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(head) >= 12 and head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    return None
