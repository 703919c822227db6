"""Limits on attachments and the checks of what a client declares about a file."""

from __future__ import annotations

import base64
import binascii
import fnmatch
import re
import unicodedata
from dataclasses import dataclass

from resolvers.errors import UserErrorCode
from resolvers.validation import Problems

MiB = 1024 * 1024
FILENAME_MAX = 255
CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")

DEFAULT_ALLOWED_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/heic",
    "image/bmp",
    "image/tiff",
    "application/pdf",
    "text/plain",
    "text/csv",
    "text/markdown",
    "text/x-log",
    "application/json",
    "application/zip",
    "application/gzip",
    "application/x-7z-compressed",
    "video/mp4",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
)

# Names Windows reserves for devices, with or without an extension.
RESERVED_NAMES = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)
# Characters Windows forbids in file names; replaced so a saved download keeps its name.
WINDOWS_FORBIDDEN = str.maketrans({c: "_" for c in '<>:"|?*'})


@dataclass(frozen=True)
class AttachmentPolicy:
    max_bytes: int = 25 * MiB
    max_per_response: int = 10
    allowed_types: tuple[str, ...] = DEFAULT_ALLOWED_TYPES
    # How long an upload URL stays valid, and how long an unattached upload is kept.
    upload_url_seconds: int = 900
    unattached_seconds: int = 86_400

    def allows(self, content_type: str) -> bool:
        """Whether a type matches an allowed pattern (exact, or 'image/*')."""
        return any(fnmatch.fnmatchcase(content_type, pattern) for pattern in self.allowed_types)


def clean_filename(problems: Problems, raw: str) -> str:
    """The name a file is stored and served under: its last path component, NFC, without
    characters Windows forbids. Control and formatting characters (bidirectional overrides
    that make 'gpj.exe' read as 'exe.jpg', zero-width characters) and device names are refused."""
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = name.strip().rstrip(".").strip()
    if not name or name in (".", ".."):
        problems.add("filename", "the file needs a name", UserErrorCode.REQUIRED)
        return ""
    bad = next((c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn")), None)
    if bad is not None:
        problems.add(
            "filename",
            f"the file name contains an invisible or control character (U+{ord(bad):04X})",
            UserErrorCode.INVALID,
        )
        return ""
    if name.split(".", 1)[0].strip().lower() in RESERVED_NAMES:
        problems.add("filename", f"{name!r} is a reserved device name", UserErrorCode.INVALID)
        return ""
    if len(name) > FILENAME_MAX:
        problems.add(
            "filename",
            f"the file name must be at most {FILENAME_MAX} characters",
            UserErrorCode.TOO_LONG,
        )
        return ""
    return name.translate(WINDOWS_FORBIDDEN)


def clean_content_type(problems: Problems, policy: AttachmentPolicy, raw: str) -> str:
    """A declared type, lower-cased and without parameters, that the policy allows."""
    content_type = raw.split(";", 1)[0].strip().lower()
    if not CONTENT_TYPE.fullmatch(content_type):
        problems.add(
            "contentType", "contentType must be a MIME type like image/png", UserErrorCode.INVALID
        )
    elif not policy.allows(content_type):
        problems.add(
            "contentType",
            f"files of type {content_type} are not accepted",
            UserErrorCode.UNSUPPORTED_TYPE,
        )
    return content_type


def clean_size(problems: Problems, policy: AttachmentPolicy, byte_size: int) -> int:
    if byte_size < 1:
        problems.add("byteSize", "the file is empty", UserErrorCode.INVALID)
    elif byte_size > policy.max_bytes:
        problems.add(
            "byteSize",
            f"files may be at most {policy.max_bytes} bytes ({policy.max_bytes / MiB:g} MiB)",
            UserErrorCode.TOO_LARGE,
        )
    return byte_size


def clean_checksum(problems: Problems, raw: str) -> str:
    """A SHA-256 digest as 64 hex digits, given as hex or as base64 (what S3 uses)."""
    text = raw.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        return text.lower()
    try:
        digest = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) == 32:
        return digest.hex()
    problems.add(
        "checksumSha256",
        "checksumSha256 must be the file's SHA-256 digest, as 64 hex digits or base64",
        UserErrorCode.INVALID,
    )
    return ""


def ascii_fallback(filename: str) -> str:
    """A plain-ASCII version of a name for old clients (RFC 6266 `filename=`)."""
    folded = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._ ()+,=@-]", "_", folded).strip() or "download"
