"""Strawberry's two WebSocket protocols with our rules for every operation on a socket.

Before a `subscribe` (graphql-transport-ws) or `start` (legacy graphql-ws) runs, the view's
`admit_operation` confirms that the socket's user still has the rights it connected with and
spends one request of that user's rate budget; an operation over budget gets an `error`
message with code RATE_LIMITED, and the socket stays open. A connection refused for a reason
of ours is closed with our code (SocketRefusedError), not Strawberry's generic 4403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from graphql import GraphQLFormattedError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInitMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ErrorMessage as LegacyErrorMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import StartMessage

from schema.context import Context
from server.legacy_ws import LegacyGraphQLWSHandler

SendError = Callable[[GraphQLFormattedError], Awaitable[None]]


class SocketRefusedError(Exception):
    """Raised by `on_ws_connect` to close the new socket with a code of ours."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class OperationGate(Protocol):
    async def admit_operation(self, context: Context, send_error: SendError) -> bool:
        """Whether an operation may start on this socket (False: it was refused or the socket
        is being closed, and the client was told)."""


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws (graphql-ws, Apollo, urql)."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except SocketRefusedError as refused:
            await self.websocket.close(code=refused.code, reason=refused.reason)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged and message["id"] not in self.operations:

            async def send_error(error: GraphQLFormattedError) -> None:
                refusal: ErrorMessage = {"id": message["id"], "type": "error", "payload": [error]}
                await self.send_message(refusal)

            if not await _gate(self.view).admit_operation(self.context, send_error):
                return
        await super().handle_subscribe(message)


class LegacyWSHandler(LegacyGraphQLWSHandler):
    """The legacy graphql-ws protocol (subscriptions-transport-ws), queries included."""

    async def handle_connection_init(self, message: LegacyConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except SocketRefusedError as refused:
            await self.send_message(
                {"type": "connection_error", "payload": {"message": refused.reason}}
            )
            await self.websocket.close(code=refused.code, reason=refused.reason)

    async def handle_start(self, message: StartMessage) -> None:
        if self.connection_acknowledged:

            async def send_error(error: GraphQLFormattedError) -> None:
                refusal: LegacyErrorMessage = {
                    "type": "error",
                    "id": message["id"],
                    "payload": error,
                }
                await self.send_message(refusal)

            if not await _gate(self.view).admit_operation(self.context, send_error):
                return
        await super().handle_start(message)


def _gate(view: Any) -> OperationGate:
    gate: OperationGate = view
    return gate
