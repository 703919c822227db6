"""Idempotency keys: a client repeats a write with the same key and gets the first result.

Keys are scoped to their sender and remember the request they were first used with, as
payment APIs do: a retry returns the first result, another request with the key is refused.
"""

from __future__ import annotations

import enum
import hashlib
import json
from typing import Any

from permissions import Actor


def idempotency_scope(actor: Actor) -> str:
    """Whose idempotency keys these are: a customer's own, or a member's within the
    organization they work in. Every ticket a scope's key can collide with is one its sender
    may read, so a collision is always found (never a hidden uniqueness violation)."""
    if actor.is_customer:
        return f"customer:{actor.id}"
    return f"staff:{actor.organization_id}:{actor.id}"


def request_fingerprint(*values: Any) -> str:
    """A digest of a create request as validated, to tell a retry from another request."""
    canonical = json.dumps(
        [v.value if isinstance(v, enum.Enum) else v for v in values],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
