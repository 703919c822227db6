"""Input limits and normalization shared by every write. Violations are user errors."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable
from typing import Any

from resolvers.errors import UserErrorCode, UserErrorData

TITLE_MAX = 300
DESCRIPTION_MAX = 20_000
BODY_MAX = 20_000
TAGS_MAX = 20
TAG_MAX = 50
METADATA_MAX_BYTES = 16_384
METADATA_MAX_DEPTH = 16
# Integers JavaScript clients read exactly.
JSON_SAFE_INTEGER = 2**53 - 1
IDEMPOTENCY_KEY_MAX = 100
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


def utc_instant(value: dt.datetime) -> dt.datetime:
    """An aware datetime in UTC; ValueError for a naive one or one that leaves years 1-9999 once
    converted (0001-01-01T00:00:00+14:00 is still year 0 in UTC)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("out of range") from None


class Problems:
    """Collects user errors while validating an input, so all of them are reported at once."""

    def __init__(self) -> None:
        self.errors: list[UserErrorData] = []

    def add(self, field: str | None, message: str, code: UserErrorCode) -> None:
        self.errors.append(UserErrorData(field=field, message=message, code=code))

    def text(self, field: str, value: str, *, maximum: int, required: bool = True) -> str:
        """Stripped text within `maximum` characters."""
        cleaned = value.strip()
        if required and not cleaned:
            self.add(field, f"{field} must not be empty", UserErrorCode.REQUIRED)
        elif len(cleaned) > maximum:
            self.add(field, f"{field} must be at most {maximum} characters", UserErrorCode.TOO_LONG)
        elif not storable_text(cleaned):
            self.add(
                field, f"{field} must be valid Unicode text without NUL", UserErrorCode.INVALID
            )
        return cleaned

    def tags(self, field: str, values: Iterable[str]) -> list[str]:
        """Lower-cased, de-duplicated tags in their first order."""
        tags: list[str] = []
        for raw in values:
            tag = raw.strip().lower()
            if len(tag) > TAG_MAX:
                self.add(
                    field, f"a tag must be at most {TAG_MAX} characters", UserErrorCode.TOO_LONG
                )
            elif not TAG_PATTERN.match(tag):
                self.add(
                    field,
                    f"tag {tag[:TAG_MAX]!r} may only use a-z, 0-9, '-' and '_'",
                    UserErrorCode.INVALID,
                )
            elif tag not in tags:
                tags.append(tag)
        if len(tags) > TAGS_MAX:
            self.add(field, f"at most {TAGS_MAX} tags", UserErrorCode.TOO_MANY)
        return tags

    def metadata(self, field: str, value: Any) -> dict[str, Any]:
        """A JSON object of bounded size and depth that every backend stores and reads back."""
        if not isinstance(value, dict):
            self.add(field, f"{field} must be a JSON object", UserErrorCode.INVALID)
            return {}
        problem = _json_problem(value, depth=0)
        if problem:
            self.add(field, f"{field} {problem}", UserErrorCode.INVALID)
        elif len(json.dumps(value, separators=(",", ":"))) > METADATA_MAX_BYTES:
            self.add(
                field, f"{field} must be at most {METADATA_MAX_BYTES} bytes", UserErrorCode.TOO_LONG
            )
        return value


def storable_text(text: str) -> bool:
    """Text both databases store: encodable as UTF-8 (no lone surrogates) and without NUL."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_problem(value: Any, depth: int) -> str | None:
    """What keeps a JSON value from round-tripping through PostgreSQL, SQLite and clients."""
    if depth > METADATA_MAX_DEPTH:
        return f"must nest at most {METADATA_MAX_DEPTH} levels deep"
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not storable_text(key):
                return "keys must be valid Unicode text without NUL"
            problem = _json_problem(item, depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, list):
        return next((p for item in value if (p := _json_problem(item, depth + 1))), None)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if abs(value) <= JSON_SAFE_INTEGER else "numbers must be within ±2^53"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "numbers must be finite"
        # Beyond ±2^53 a float reads back from PostgreSQL's JSONB as a different number.
        return None if abs(value) <= JSON_SAFE_INTEGER else "numbers must be within ±2^53"
    if isinstance(value, str):
        return None if storable_text(value) else "strings must be valid Unicode text without NUL"
    return "may only hold objects, arrays, strings, numbers, booleans and null"
