"""Strawberry's two WebSocket protocols with our rules for every operation on a socket.

Before a `subscribe` (graphql-transport-ws) or `start` (legacy graphql-ws) runs, the view's
`admit_operation` confirms that the socket's user still has the rights it connected with and
spends one request of that user's rate budget; an operation over budget gets an `error`
message with code RATE_LIMITED, and the socket stays open. A connection refused for a reason
of ours is closed with our code (SocketRefusedError), not Strawberry's generic 4403.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from graphql import GraphQLFormattedError
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
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
from server.fanout import CLOSE_TOO_SLOW, Member, SharedFanout, TooSlowError
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

    def join_shared(
        self, context: Context, query: Any, variables: Any, operation_name: Any
    ) -> tuple[SharedFanout, Any, Member] | None:
        """A place in the group of a shareable live subscription, or None to run it alone."""


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

            gate = _gate(self.view)
            if not await gate.admit_operation(self.context, send_error):
                return
            if not self._full() and await self._share(gate, message):
                return
        await super().handle_subscribe(message)

    def _full(self) -> bool:
        limit = self.max_subscriptions_per_connection
        return limit is not None and len(self.operations) >= limit

    async def _share(self, gate: OperationGate, message: SubscribeMessage) -> bool:
        """Serve a shareable live subscription from its group (server/fanout.py)."""
        payload = message["payload"]
        joined = gate.join_shared(
            self.context, payload["query"], payload.get("variables"), payload.get("operationName")
        )
        if joined is None:
            return False
        fanout, key, member = joined
        operation = Operation(
            self,
            message["id"],
            payload["query"],
            payload.get("variables"),
            payload.get("operationName"),
        )
        operation.task = asyncio.create_task(self._serve_shared(operation, fanout, key, member))
        operation.task.add_done_callback(self._task_done)
        self.operations[message["id"]] = operation
        return True

    async def _serve_shared(
        self, operation: Operation[Context, None], fanout: SharedFanout, key: Any, member: Member
    ) -> None:
        prefix = '{"id":' + orjson.dumps(operation.id).decode() + ',"type":"next","payload":'
        socket = self.context.request
        assert isinstance(socket, WebSocket)
        try:
            while True:
                frame = await member.next()
                if frame.refusal is not None:
                    await operation.send_operation_message(
                        {"id": operation.id, "type": "error", "payload": frame.refusal}
                    )
                    return
                if frame.end:
                    await operation.send_operation_message({"id": operation.id, "type": "complete"})
                    return
                if self.context.access_revoked:
                    return  # the socket's user lost its rights; the socket is closing
                assert frame.payload is not None
                await socket.send_text(prefix + frame.payload + "}")
                member.last_cursor = frame.cursor or member.last_cursor
        except TooSlowError:
            resume = f"; resume with after={member.last_cursor}" if member.last_cursor else ""
            with contextlib.suppress(RuntimeError, OSError):
                await self.websocket.close(CLOSE_TOO_SLOW, f"too slow to keep up{resume}")
        except WebSocketDisconnect:
            return
        finally:
            fanout.leave(key, member)


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
