"""Bearer-token authentication: verify a JWT and turn its subject into an Actor."""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections import OrderedDict
from typing import Any

import jwt
from anyio import to_thread

from resolvers.validation import storable_text
from server.settings import Settings

logger = logging.getLogger("helpdesk.auth")

# Verified tokens are remembered for a short while: a console sends the same token with every
# request, and checking its signature again would cost more than the compiled read it guards.
# An entry answers only for the exact token text; its expiry is checked on every use, and it is
# forgotten after VERIFIED_TOKEN_SECONDS, so a signing key removed from the JWKS stops working
# within that time as well as it would through PyJWKClient's own key cache.
VERIFIED_TOKEN_SECONDS = 60.0
VERIFIED_TOKENS = 10_000


class AuthenticationError(Exception):
    """The token is missing its scheme, malformed, badly signed, expired or for someone unknown."""

    def __init__(
        self, message: str, *, code: str = "UNAUTHENTICATED", status_code: int = 401
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None when there is no header."""
    if authorization is None or not authorization.strip():
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    return token.strip()


class TokenVerifier:
    """Verifies signature, expiry and (when configured) issuer and audience.

    HS256 with a shared secret, or asymmetric keys (RS256, ES256, ...) from an identity
    provider's JWKS URL, fetched in a worker thread and cached.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._jwks = (
            jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True, lifespan=300, timeout=5)
            if settings.jwt_jwks_url
            else None
        )
        # token -> (when verified, claims)
        self._verified: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    async def _key(self, token: str) -> Any:
        if self._jwks is None:
            return self._settings.jwt_secret
        signing_key = await to_thread.run_sync(self._jwks.get_signing_key_from_jwt, token)
        return signing_key.key

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; AuthenticationError with a clear reason when it is not valid."""
        now = time.time()
        remembered = self._verified.get(token)
        if remembered is not None and now - remembered[0] < VERIFIED_TOKEN_SECONDS:
            claims = remembered[1]
            # As PyJWT checks it; nbf and iat were checked once and stay in the past.
            if claims["exp"] <= now - self._settings.jwt_leeway_seconds:
                del self._verified[token]
                raise AuthenticationError("the token has expired")
            return dict(claims)
        claims = await self._verify(token)
        self._verified[token] = (now, claims)
        self._verified.move_to_end(token)
        if len(self._verified) > VERIFIED_TOKENS:
            self._verified.popitem(last=False)
        return dict(claims)

    async def _verify(self, token: str) -> dict[str, Any]:
        settings = self._settings
        try:
            key = await self._key(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(settings.jwt_algorithms),
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                leeway=settings.jwt_leeway_seconds,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": settings.jwt_audience is not None,
                },
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("the token has expired") from None
        except jwt.PyJWKClientConnectionError:
            logger.warning("JWKS endpoint unreachable", exc_info=True)
            raise AuthenticationError(
                "the token's signing keys cannot be fetched right now",
                code="UNAVAILABLE",
                status_code=503,
            ) from None
        except jwt.PyJWKClientError:
            raise AuthenticationError("the token's signing key is not known") from None
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError(f"invalid token: {exc}") from None
        for name in TIME_CLAIMS:
            if name in claims and not _is_timestamp(claims[name]):
                # PyJWT takes "1893456000" (a string) for a time; so would nothing else here.
                raise AuthenticationError(
                    f"invalid token: {name} must be a number of seconds since the epoch"
                )
        subject = claims.get("sub")
        if (
            not isinstance(subject, str)
            or not 0 < len(subject) <= 255
            or not storable_text(subject)
        ):
            raise AuthenticationError("invalid token: sub must be a short, non-empty string")
        return claims


TIME_CLAIMS = ("exp", "iat", "nbf")


def _is_timestamp(value: object) -> bool:
    """A JSON number that is a finite time (RFC 7519 NumericDate), not a string or a bool."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) < 2**53
    )


def verified_email(settings: Settings, claims: dict[str, Any]) -> str | None:
    """The token's email when the identity provider verified it (JWT_EMAIL_CLAIM and
    JWT_EMAIL_VERIFIED_CLAIM; an empty verified claim name trusts every email)."""
    address = claims.get(settings.jwt_email_claim)
    if not isinstance(address, str) or not address.strip() or not storable_text(address):
        return None
    if settings.jwt_email_verified_claim:
        verified = claims.get(settings.jwt_email_verified_claim)
        # Some providers send the flag as a string.
        if verified is not True and verified != "true":
            return None
    return address.strip()


def issue_development_token(
    settings: Settings,
    subject: str,
    ttl: dt.timedelta,
    extra_claims: dict[str, Any] | None = None,
) -> str:
    """An HS256 token for a subject, signed with the configured secret (development and tests)."""
    if settings.jwt_secret is None:
        raise ValueError("tokens can only be issued with an HS256 secret, not with a JWKS URL")
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {**(extra_claims or {}), "sub": subject, "iat": now, "exp": now + ttl}
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
