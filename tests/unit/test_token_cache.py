"""Verified tokens are remembered briefly; a remembered token still expires on time, and only
the exact token text is ever answered from memory."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from server import auth
from server.auth import AuthenticationError, TokenVerifier
from server.settings import Settings

SECRET = "unit-secret-" + "z" * 40


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(1_900_000_000.0)
    monkeypatch.setattr(auth.time, "time", clock.time)
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime(clock))
    return clock


class _FrozenDatetime:
    """PyJWT reads the time through datetime.now(tz=timezone.utc)."""

    def __init__(self, clock: Clock) -> None:
        import datetime as real

        self._real = real.datetime
        self._clock = clock

    def now(self, tz: Any = None) -> Any:
        return self._real.fromtimestamp(self._clock.now, tz)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.fixture
def verifier(monkeypatch: pytest.MonkeyPatch) -> tuple[TokenVerifier, list[str]]:
    settings = Settings.from_env({"JWT_SECRET": SECRET, "JWT_LEEWAY_SECONDS": "0"})
    verifier = TokenVerifier(settings)
    checked: list[str] = []
    real = verifier._verify

    async def counting(token: str) -> dict[str, Any]:
        checked.append(token)
        return await real(token)

    monkeypatch.setattr(verifier, "_verify", counting)
    return verifier, checked


def token(now: float, ttl: float, subject: str = "user-1") -> str:
    return jwt.encode({"sub": subject, "iat": int(now), "exp": int(now + ttl)}, SECRET, "HS256")


async def test_a_remembered_token_is_not_checked_again_but_still_expires(clock, verifier) -> None:
    check, checked = verifier
    text = token(clock.now, ttl=30)

    assert (await check.verify(text))["sub"] == "user-1"
    clock.now += 20
    assert (await check.verify(text))["sub"] == "user-1"
    assert checked == [text]  # the second use came from memory

    clock.now += 11  # past exp
    with pytest.raises(AuthenticationError, match="expired"):
        await check.verify(text)


async def test_only_the_exact_token_text_is_remembered(clock, verifier) -> None:
    check, checked = verifier
    text = token(clock.now, ttl=300)
    await check.verify(text)
    header, payload, signature = text.split(".")
    forged = ".".join(
        [header, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")]
    )

    with pytest.raises(AuthenticationError, match="invalid token"):
        await check.verify(forged)
    assert checked == [text, forged]


async def test_memory_is_bounded_in_time_and_size(clock, verifier, monkeypatch) -> None:
    check, checked = verifier
    text = token(clock.now, ttl=3600)
    await check.verify(text)
    clock.now += auth.VERIFIED_TOKEN_SECONDS
    await check.verify(text)
    assert checked == [text, text]  # verified afresh once the memory is a minute old

    monkeypatch.setattr(auth, "VERIFIED_TOKENS", 2)
    others = [token(clock.now, ttl=3600, subject=f"user-{n}") for n in range(3)]
    for other in others:
        await check.verify(other)
    assert len(check._verified) == 2
    await check.verify(others[0])  # the oldest was forgotten
    assert checked[-1] == others[0]


async def test_a_caller_cannot_change_what_is_remembered(clock, verifier) -> None:
    check, _ = verifier
    text = token(clock.now, ttl=300)
    (await check.verify(text))["sub"] = "someone-else"

    assert (await check.verify(text))["sub"] == "user-1"
