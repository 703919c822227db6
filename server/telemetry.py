"""One observer per GraphQL operation: metrics, the request's log fields and (optionally) an
OpenTelemetry span. It wraps the whole operation, never single fields (a per-field hook made
large lists many times slower), and records no arguments or variables, ever.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension

from server import metrics
from server.negotiation import is_request_error
from server.observability import current_request_log

logger = logging.getLogger("helpdesk.operations")


def _outcome(execution_context: Any) -> str:
    result = execution_context.result
    if result is None or is_request_error(result):
        return "request_error"
    errors = getattr(result, "errors", None) or []
    if not errors:
        return "ok"
    codes = {(error.extensions or {}).get("code") for error in errors}
    for code in ("INTERNAL", "UNAVAILABLE"):
        if code in codes:
            return code.lower()
    return "error"


def _operation_type(execution_context: Any) -> str:
    try:
        return str(execution_context.operation_type.value)
    except Exception:  # no document (it did not parse), or no such operation
        return "unknown"


class OperationObserver(SchemaExtension):
    """Counts and times each operation and hands its name, type, outcome, actor kind and
    persisted document id to the request's access log line."""

    # An OpenTelemetry tracer (see create_extensions), or None.
    tracer: Any = None

    def on_operation(self) -> Iterator[None]:
        watch = metrics.Stopwatch()
        if self.tracer is None:
            try:
                yield
            finally:
                self._record(watch.seconds, None)
            return
        # The span is current while the operation runs, so database spans nest under it.
        with self.tracer.start_as_current_span("graphql.operation") as span:
            try:
                yield
            finally:
                self._record(watch.seconds, span)

    def _record(self, seconds: float, span: Any) -> None:
        context = self.execution_context
        app_context = context.context
        actor_kind = getattr(getattr(app_context, "actor", None), "kind", None)
        record_operation(
            context.operation_name,
            _operation_type(context),
            _outcome(context),
            getattr(actor_kind, "value", None),
            getattr(app_context, "document_id", None),
            seconds,
            span,
        )


def record_operation(
    name: str | None,
    kind: str,
    outcome: str,
    actor: str | None,
    document_id: Any,
    seconds: float,
    span: Any = None,
) -> None:
    """Count and time one operation, and describe it in the request's access log line (and
    span): for the observer, and for the compiled lane (server/compiled_lane.py), which
    answers without running the schema's extensions."""
    label = metrics.operation_label(name)
    metrics.OPERATIONS.labels(label, kind, outcome).inc()
    if kind in ("query", "mutation"):
        metrics.OPERATION_DURATION.labels(label, kind).observe(seconds)
    entry = current_request_log()
    if entry is not None:
        entry.operation = name
        entry.operation_type = kind
        entry.outcome = outcome
        entry.actor = actor
        entry.document_id = document_id
    if span is not None:
        _describe_span(span, name, kind, outcome, actor, document_id)


def _describe_span(
    span: Any, name: str | None, kind: str, outcome: str, actor: str | None, document_id: Any
) -> None:
    span.update_name(f"{kind} {name}" if name else f"graphql {kind}")
    span.set_attribute("graphql.operation.type", kind)
    if name:
        span.set_attribute("graphql.operation.name", name)
    if document_id:
        span.set_attribute("graphql.document.id", str(document_id))
    if actor:
        span.set_attribute("helpdesk.actor.kind", actor)
    span.set_attribute("helpdesk.outcome", outcome)
    if outcome in ("internal", "unavailable"):
        from opentelemetry.trace import Status, StatusCode

        span.set_status(Status(StatusCode.ERROR, outcome))


def tracing_available() -> bool:
    return importlib.util.find_spec("opentelemetry") is not None


def create_extensions(*, tracing: bool) -> list[type[SchemaExtension]]:
    """The observer, with spans when tracing is asked for and OpenTelemetry is installed
    (configure its SDK and exporter the usual way, e.g. with opentelemetry-instrument)."""
    if not tracing:
        return [OperationObserver]
    if not tracing_available():
        logger.warning("TRACING is on but the opentelemetry-api package is not installed")
        return [OperationObserver]
    from opentelemetry import trace

    traced = type(
        "TracedOperationObserver", (OperationObserver,), {"tracer": trace.get_tracer("helpdesk")}
    )
    return [traced]
