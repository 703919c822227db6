"""The compiled lane: a repeat of a compiled query answered without the schema's pipeline.

Strawberry's per-request machinery (request parsing, the extension runner, execution context,
result processing) costs more CPU than the compiled statement it ends in. A document whose plan
has already answered a request through that whole pipeline (parsed, validated, within every
limit: `Plan.admitted`) has nothing left to check but what changes per request: the persisted
query lookup, the variables, the cost they give, and the statement's run-time fallbacks. The
lane does exactly those, with the same functions the pipeline uses, and answers with the same
body; anything else (a body it does not read the same way, variables that do not coerce, a cost
over the limit, a fallback) it leaves to the pipeline, which then answers as if the lane did
not exist. tests/compiled/ compares both the first (pipeline) and the repeated (lane) answer
with the reference path's.

Repeats of admitted `updateTicket` / `addResponse` documents are written here too, by one
function call (schema/compiled_writes.py, COMPILED_WRITES), and their event is published as
`Context.write` publishes the reference's; a write the function leaves to the reference path
has written nothing, and the pipeline then makes it.

Off when TRACING is on (the pipeline's observer opens the spans).
"""

from __future__ import annotations

from typing import Any

import orjson
from graphql import GraphQLSchema
from starlette.requests import Request
from starlette.responses import Response

from resolvers.compiled.plan import NotCompilable
from schema import compiled, compiled_writes
from schema.context import Context
from schema.limits import cost_result, estimate_cost
from server import metrics
from server.persisted import PersistedQueries, PersistedQueryError
from server.telemetry import record_operation

_KEYS = frozenset({"query", "variables", "operationName", "extensions"})


class CompiledLane:
    def __init__(self, graphql_schema: GraphQLSchema, max_cost: int) -> None:
        self.schema = graphql_schema
        self.max_cost = max_cost

    async def answer(
        self, request: Request, context: Context, persisted: PersistedQueries
    ) -> Response | None:
        """The response to this request, or None: the pipeline answers it."""
        pool = getattr(context.services, "compiled_pool", None)
        actor = context.actor
        if pool is None or not actor.is_authenticated or request.method != "POST":
            return None
        content_type = request.headers.get("content-type", "")
        if content_type.partition(";")[0].strip().lower() != "application/json":
            return None
        watch = metrics.Stopwatch()
        try:
            given = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None
        if not isinstance(given, dict) or not given.keys() <= _KEYS:
            return None
        query, name = given.get("query"), given.get("operationName")
        variables = given.get("variables")
        if not isinstance(query, str | None) or not isinstance(name, str | None):
            return None
        if not isinstance(variables, dict | None):
            return None
        try:
            document = await persisted.resolve(query, given.get("extensions"))
        except PersistedQueryError:
            return None
        if document is None:
            return None
        read = compiled.plans.admitted(document.query, name, actor.kind)
        write = None
        if read is None and context.services.compiled_writes:
            write = compiled_writes.write_plans.admitted(document.query, name, actor.kind)
        plan = read or write
        if plan is None:
            return None
        try:
            coerced = compiled.coerce_variables(self.schema, plan.operation, variables)
        except NotCompilable:
            return None
        cost = estimate_cost(self.schema, plan.document, plan.operation, coerced.coerced)
        if cost > self.max_cost:
            return None
        if write is None:
            assert read is not None
            kind = "query"
            text = await compiled.answer(self.schema, read, coerced, actor, pool, outcome="lane")
            if text is None:
                return None
            data: Any = orjson.Fragment(text)
        else:
            kind = "mutation"
            written = await compiled_writes.answer_write(self.schema, write, coerced, actor, pool)
            if written is None:
                return None
            # Committed: its event goes out as Context.write sends the reference path's.
            if written.event is not None:
                await context.publish([written.event])
            data = {write.key: orjson.Fragment(written.payload)}
        context.document_id = document.id
        operation_name = name or (plan.operation.name.value if plan.operation.name else None)
        record_operation(operation_name, kind, "ok", actor.kind.value, document.id, watch.seconds)
        body: dict[str, Any] = {"data": data, "extensions": cost_result(cost, self.max_cost)}
        return Response(orjson.dumps(body), media_type="application/json")
