"""Opaque global ids (base64 "Type:123") to database ids and back."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry import relay

from resolvers.errors import BadUserInputError, NotFoundError


def decode_id(node_id: relay.GlobalID, type_name: str) -> int:
    """The database id inside a global id of `type_name`; NOT_FOUND for any other id."""
    if node_id.type_name == type_name and node_id.node_id.isdigit() and len(node_id.node_id) <= 18:
        return int(node_id.node_id)
    raise NotFoundError(f"{type_name} not found")


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
