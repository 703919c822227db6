"""Signed, short-lived tokens for attachment URLs (HMAC-SHA256, constant-time comparison).

A token is bound to one purpose (upload or download), one attachment, one expiry and, for
downloads, the viewer it was made for, so it cannot be replayed for another file, another
purpose or after it expired, and the download can re-check that viewer's access.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
import time
from dataclasses import dataclass


class Purpose(enum.StrEnum):
    UPLOAD = "upload"
    DOWNLOAD = "download"


class TokenError(Exception):
    """Not a token of ours (forged, tampered, for another file or purpose)."""


class TokenExpiredError(TokenError):
    """A genuine token past its expiry."""


@dataclass(frozen=True)
class Grant:
    """What a verified token allows: `purpose` on `attachment_id` for `viewer` until `expires`."""

    purpose: Purpose
    attachment_id: int
    viewer: str
    expires: int


# <attachment id>.<expiry, epoch seconds>.<viewer>.<signature>; viewer is c<id> or m<id>.
TOKEN = re.compile(r"^(\d{1,18})\.(\d{1,12})\.([cm]\d{1,18})\.([A-Za-z0-9_-]{43})$")


def derive_key(secret: str, label: str = "helpdesk attachment urls v1") -> bytes:
    """A key for attachment tokens from another secret, separate from its other uses."""
    return hmac.new(secret.encode(), label.encode(), hashlib.sha256).digest()


class Signer:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the attachment signing key must be at least 32 bytes")
        self._key = key

    def _mac(self, purpose: Purpose, attachment_id: int, expires: int, viewer: str) -> str:
        message = f"{purpose.value}\n{attachment_id}\n{expires}\n{viewer}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(
        self, purpose: Purpose, attachment_id: int, viewer: str, ttl_seconds: int
    ) -> tuple[str, int]:
        """A token and its expiry (epoch seconds)."""
        expires = int(time.time()) + ttl_seconds
        mac = self._mac(purpose, attachment_id, expires, viewer)
        return f"{attachment_id}.{expires}.{viewer}.{mac}", expires

    def verify(self, purpose: Purpose, token: str, now: float | None = None) -> Grant:
        """The grant of a genuine, unexpired token of this purpose; TokenError otherwise."""
        match = TOKEN.fullmatch(token)
        if match is None:
            raise TokenError("not a valid attachment token")
        attachment_id, expires, viewer = int(match[1]), int(match[2]), match[3]
        expected = self._mac(purpose, attachment_id, expires, viewer)
        if not hmac.compare_digest(expected.encode(), match[4].encode()):
            raise TokenError("not a valid attachment token")
        if expires < (time.time() if now is None else now):
            raise TokenExpiredError("this link has expired; ask for a new one")
        return Grant(purpose, attachment_id, viewer, expires)


def viewer_of(kind: str, actor_id: int) -> str:
    """The viewer part of a token: c<id> for a customer, m<id> for a team member."""
    return f"{'c' if kind == 'customer' else 'm'}{actor_id}"
