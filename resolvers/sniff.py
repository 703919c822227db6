"""What a file really is, from its first bytes (never from its name or declared type).

Executables of every common platform are recognized so they can be refused whatever they are
called; the other types are the ones a helpdesk receives (screenshots, PDFs, logs, archives).
"""

from __future__ import annotations

from dataclasses import dataclass

# How many leading bytes the sniffer looks at.
SNIFF_BYTES = 4096

OCTET_STREAM = "application/octet-stream"

# (magic at offset 0, what it is). Checked in order.
EXECUTABLE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "ELF executable"),
    (b"MZ", "Windows (PE/MZ) executable"),
    (b"\xfe\xed\xfa\xce", "Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "Mach-O executable"),
    # Mach-O universal binaries (Java class files share this magic; refused as well).
    (b"\xca\xfe\xba\xbe", "Mach-O universal binary or Java class"),
    (b"\xbe\xba\xfe\xca", "Mach-O universal binary"),
    (b"#!", "script with an interpreter line (#!)"),
    (b"\x00asm", "WebAssembly module"),
    (b"dex\n", "Android DEX executable"),
    (b"L\x00\x00\x00\x01\x14\x02\x00", "Windows shortcut (.lnk)"),
)

BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
)

# Types a browser would run or render as a page: always served as a download, sandboxed.
ACTIVE_TYPES = frozenset(
    {
        "text/html",
        "image/svg+xml",
        "application/xhtml+xml",
        "text/xml",
        "application/xml",
        "text/javascript",
    }
)

# Text types a client may declare for what sniffs as plain text.
TEXT_TYPES = frozenset(
    {"text/plain", "text/csv", "text/markdown", "application/json", "text/x-log"}
)

# Formats that are zip archives inside (a declared one is kept for what sniffs as zip).
ZIP_BASED = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
    }
)


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    executable: str | None = None


def sniff(head: bytes) -> Sniffed:
    """The type of a file from its first bytes (up to SNIFF_BYTES)."""
    head = head[:SNIFF_BYTES]
    for magic, what in EXECUTABLE_MAGIC:
        if head.startswith(magic):
            return Sniffed(OCTET_STREAM, executable=what)
    for magic, content_type in BINARY_MAGIC:
        if head.startswith(magic):
            return Sniffed(content_type)
    if head[:2] == b"BM" and head[6:10] == b"\x00\x00\x00\x00":
        return Sniffed("image/bmp")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image/webp")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return Sniffed("image/heic")
        return Sniffed("video/mp4")
    text = _as_text(head)
    if text is None:
        return Sniffed(OCTET_STREAM)
    stripped = text.lstrip("\ufeff \t\r\n").lower()
    if stripped.startswith("#!"):
        return Sniffed(OCTET_STREAM, executable="script with an interpreter line (#!)")
    if stripped.startswith(("<!doctype html", "<html", "<head", "<body", "<script", "<iframe")):
        return Sniffed("text/html")
    if stripped.startswith(("<svg", "<?xml")) and "<svg" in stripped:
        return Sniffed("image/svg+xml")
    if stripped.startswith("<?xml"):
        return Sniffed("application/xml")
    return Sniffed("text/plain")


def _as_text(head: bytes) -> str | None:
    """The bytes as text, if they are UTF-8 (a multi-byte character may be cut at the end)."""
    if b"\x00" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:
            return head[: exc.start].decode("utf-8")
        return None


def effective_type(declared: str, sniffed: Sniffed) -> str:
    """The type to store and serve: what the bytes are, refined by the declared type where the
    bytes cannot tell (a CSV is plain text, a .docx is a zip)."""
    if sniffed.content_type == "text/plain" and declared in TEXT_TYPES:
        return declared
    if sniffed.content_type == "application/zip" and declared in ZIP_BASED:
        return declared
    return sniffed.content_type
