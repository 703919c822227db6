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

Off when TRACING is on (the pipeline's observer opens the spans).
"""

from __future__ import annotations

from typing import Any

import orjson
from graphql import GraphQLSchema
from starlette.requests import Request
from starlette.responses import Response

from resolvers.compiled.plan import NotCompilable
from schema import compiled
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
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict) or not data.keys() <= _KEYS:
            return None
        query, name = data.get("query"), data.get("operationName")
        variables = data.get("variables")
        if not isinstance(query, str | None) or not isinstance(name, str | None):
            return None
        if not isinstance(variables, dict | None):
            return None
        try:
            document = await persisted.resolve(query, data.get("extensions"))
        except PersistedQueryError:
            return None
        if document is None:
            return None
        plan = compiled.plans.admitted(document.query, name, actor.kind)
        if plan is None:
            return None
        try:
            coerced = compiled.coerce_variables(self.schema, plan, variables)
        except NotCompilable:
            return None
        cost = estimate_cost(self.schema, plan.document, plan.operation, coerced.coerced)
        if cost > self.max_cost:
            return None
        text = await compiled.answer(self.schema, plan, coerced, actor, pool, outcome="lane")
        if text is None:
            return None
        context.document_id = document.id
        operation_name = name or (plan.operation.name.value if plan.operation.name else None)
        record_operation(
            operation_name, "query", "ok", actor.kind.value, document.id, watch.seconds
        )
        body: dict[str, Any] = {
            "data": orjson.Fragment(text),
            "extensions": cost_result(cost, self.max_cost),
        }
        return Response(orjson.dumps(body), media_type="application/json")
