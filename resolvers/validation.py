"""Input limits and normalization shared by every write. Violations are user errors."""

from __future__ import annotations

import json
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
IDEMPOTENCY_KEY_MAX = 100
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


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
        elif "\x00" in cleaned:
            self.add(field, f"{field} must not contain NUL characters", UserErrorCode.INVALID)
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
        """A JSON object of bounded size."""
        if not isinstance(value, dict):
            self.add(field, f"{field} must be a JSON object", UserErrorCode.INVALID)
            return {}
        if len(json.dumps(value, separators=(",", ":"))) > METADATA_MAX_BYTES:
            self.add(
                field, f"{field} must be at most {METADATA_MAX_BYTES} bytes", UserErrorCode.TOO_LONG
            )
        return value
