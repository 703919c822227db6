"""The legacy `graphql-ws` protocol (subscriptions-transport-ws) for queries and mutations too.

Strawberry's handler runs every `start` message as a subscription, so a query or mutation sent
over that protocol (Apollo's old WebSocketLink sends all operations that way) failed with
INTERNAL. Here they execute once and answer with `data` then `complete`, as the protocol says.
"""

from __future__ import annotations

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import CompleteMessage, ErrorMessage
from strawberry.types.execution import PreExecutionError

from schema.context import Context


def _is_single_result(query: str, operation_name: str | None) -> bool:
    """Whether the operation is a query or mutation (unparsable documents go the usual way)."""
    try:
        operation = get_operation_ast(parse(query, no_location=True), operation_name)
    except (GraphQLError, RecursionError, TypeError):
        return False
    return operation is not None and operation.operation is not OperationType.SUBSCRIPTION


class LegacyGraphQLWSHandler(BaseGraphQLWSHandler[Context, None]):
    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        if not isinstance(query, str) or not _is_single_result(query, operation_name):
            await super().handle_async_results(operation_id, query, operation_name, variables)
            return
        try:
            result = await self.schema.execute(
                query,
                variable_values=variables,
                context_value=self.context,
                root_value=self.root_value,
                operation_name=operation_name,
            )
            if isinstance(result, PreExecutionError) and result.errors:
                await self.send_message(
                    ErrorMessage(type="error", id=operation_id, payload=result.errors[0].formatted)
                )
                return
            await self.send_data_message(result, operation_id)
            await self.send_message(CompleteMessage(type="complete", id=operation_id))
        finally:
            self.tasks.pop(operation_id, None)
