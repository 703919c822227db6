"""Opaque global ids (base64 "Type:123") to database ids and back."""

from __future__ import annotations

import re
from collections.abc import Sequence

from strawberry import relay

from resolvers.errors import BadUserInputError, NotFoundError

# Row ids are positive 64-bit integers, written with ASCII digits only: str.isdigit() also
# accepts other scripts' digits and superscripts ("¹"), which int() then refuses.
_ROW_ID = re.compile(r"[1-9][0-9]{0,17}")


def row_id(text: str) -> int | None:
    """The row id spelled by `text`, or None when it spells none (so it finds nothing)."""
    return int(text) if _ROW_ID.fullmatch(text) else None


def decode_id(node_id: relay.GlobalID, type_name: str) -> int:
    """The database id inside a global id of `type_name`; NOT_FOUND for any other id."""
    pk = row_id(node_id.node_id) if node_id.type_name == type_name else None
    if pk is None:
        raise NotFoundError(f"{type_name} not found")
    return pk


def decode_filter_id(node_id: relay.GlobalID, type_name: str, argument: str) -> int:
    """Like decode_id, for ids in filters: a wrong id is a bad argument, not a missing object."""
    try:
        return decode_id(node_id, type_name)
    except NotFoundError:
        raise BadUserInputError(f"{argument} must be a {type_name} id") from None


def decode_ids(node_ids: Sequence[relay.GlobalID], type_name: str, argument: str) -> list[int]:
    return [decode_filter_id(node_id, type_name, argument) for node_id in node_ids]


def encode_id(type_name: str, pk: int) -> relay.GlobalID:
    return relay.GlobalID(type_name, str(pk))
