"""Request ids, logging (text or JSON) and the access log.

Every log line names the request it belongs to; the access log line of each HTTP request also
carries the GraphQL operation's name, type and outcome, the actor kind and the duration.
`helpdesk serve` hands the logging configuration to uvicorn, which applies it in every worker
process (workers are fresh processes: configuring only the parent would leave them silent).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import traceback
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schema.context import request_id
from server import metrics

# A client may pass its own id (to correlate with its logs), if it is short and plain.
CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
LOG_FORMATS = ("text", "json")

access_log = logging.getLogger("helpdesk.access")
logger = logging.getLogger("helpdesk.http")
# The status logged (never sent) for a request whose client went away (nginx's convention).
CLIENT_CLOSED_REQUEST = 499
_factory_installed = False


@dataclass
class RequestLog:
    """What the access log line says about one HTTP request, filled in as it is served."""

    method: str
    path: str
    status: int = 0
    duration_ms: float = 0.0
    operation: str | None = None
    operation_type: str | None = None
    outcome: str | None = None
    actor: str | None = None
    document_id: str | None = None


_request_log: ContextVar[RequestLog | None] = ContextVar("helpdesk_request_log", default=None)


def current_request_log() -> RequestLog | None:
    return _request_log.get()


def install_log_record_factory() -> None:
    """Give every log record a `request_id` attribute (from the current request, or "-")."""
    global _factory_installed
    if _factory_installed:
        return
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = request_id.get() or "-"
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


class TextFormatter(logging.Formatter):
    """Time, level, logger, request id, message (and the traceback, if any)."""

    def __init__(self) -> None:
        super().__init__(LOG_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = "-"  # records made before the factory was installed
        return super().format(record)


# Attributes every LogRecord has; anything else was passed with `extra=` and is kept.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, the fields passed
    with `extra=` (the access log's operation, actor, status, duration...), exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or "-",
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.stack_info:
            entry["stack"] = record.stack_info
        return orjson.dumps(entry, default=str).decode()


def logging_config(level: str, log_format: str) -> dict[str, Any]:
    """A logging.config.dictConfig for the process (uvicorn applies it in every worker)."""
    formatter = (
        "server.observability.JsonFormatter"
        if log_format == "json"
        else ("server.observability.TextFormatter")
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"helpdesk": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "helpdesk",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's own lines go through the same handler and format.
            "uvicorn": {"level": level.upper(), "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }


def configure_logging(level: str, log_format: str = "text") -> None:
    """Log to stderr with request ids, as text or JSON."""
    import logging.config

    install_log_record_factory()
    logging.config.dictConfig(logging_config(level, log_format))


def ensure_logging(level: str, log_format: str) -> None:
    """Configure logging in this process unless the host (a test, another server) did."""
    install_log_record_factory()
    if not logging.getLogger().handlers:
        configure_logging(level, log_format)


class RequestIdMiddleware:
    """Assigns each HTTP request and WebSocket connection an id, returns it as X-Request-ID,
    counts and times it, and writes one access log line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        offered = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = offered if CLIENT_ID.match(offered) else uuid.uuid4().hex
        token = request_id.set(rid)
        if scope["type"] == "websocket":
            metrics.WEBSOCKETS.inc()
            try:
                await self.app(scope, receive, send)
            finally:
                metrics.WEBSOCKETS.dec()
                request_id.reset(token)
            return
        entry = RequestLog(method=scope.get("method", ""), path=scope.get("path", ""))
        log_token = _request_log.set(entry)
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The client hung up before its request was read: expected, not an incident.
            entry.status = entry.status or CLIENT_CLOSED_REQUEST
            logger.debug("client disconnected during %s %s", entry.method, entry.path)
        finally:
            seconds = time.perf_counter() - started
            entry.duration_ms = round(seconds * 1000, 1)
            metrics.observe_http(entry.path, entry.status, seconds)
            _write_access_line(entry)
            _request_log.reset(log_token)
            request_id.reset(token)


def _write_access_line(entry: RequestLog) -> None:
    if entry.path.startswith("/static/") or entry.path in ("/healthz", "/metrics"):
        level = logging.DEBUG  # probes and assets: noise at info
    else:
        level = logging.INFO
    if not access_log.isEnabledFor(level):
        return
    operation = ""
    if entry.operation_type:
        operation = f" {entry.operation_type} {entry.operation or '(anonymous)'} {entry.outcome}"
    actor = f" actor={entry.actor}" if entry.actor else ""
    access_log.log(
        level,
        "%s %s %s %.1fms%s%s",
        entry.method,
        entry.path,
        entry.status,
        entry.duration_ms,
        operation,
        actor,
        extra={k: v for k, v in asdict(entry).items() if v is not None},
    )
