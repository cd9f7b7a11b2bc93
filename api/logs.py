"""The server's logs: human-readable lines by default, or one JSON object per line for a log collector.

``ecozone serve --log-format json`` (or ``ECOZONE_LOG_FORMAT=json``) formats every log record as JSON and logs
each request once, after its answer, with its id, method, path, status, duration and the name of the key it
sent: a key's name, never its secret, and the path without its query (a query may carry a site's coordinates).
The request id comes from the client's ``X-Request-ID`` when it sends a plausible one, else a new one, and is
returned in the answer's ``X-Request-ID`` header so an officer's complaint can be found in the log.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG

from api.settings import Settings

__all__ = ["JsonFormatter", "RequestLog", "log_config", "REQUEST_FIELDS"]

#: What a request's record carries besides the message, in this order.
REQUEST_FIELDS = ("request_id", "method", "path", "status", "duration_ms", "key_name")

request_log = logging.getLogger("ecozone.request")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the request's fields when the
    record has them, and the exception's text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({name: getattr(record, name) for name in REQUEST_FIELDS if hasattr(record, name)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_config(log_format: str, level: str = "info") -> dict[str, Any]:
    """uvicorn's logging configuration, with ecozone's own loggers; in JSON every handler writes JSON to
    stderr and uvicorn's access lines give way to ``RequestLog``'s records (one line per request, not two)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["ecozone"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    if log_format == "json":
        config["formatters"] = {"json": {"()": "api.logs.JsonFormatter"}}
        config["handlers"] = {"default": {"formatter": "json", "class": "logging.StreamHandler",
                                          "stream": "ext://sys.stderr"}}
        config["loggers"]["uvicorn.access"] = {"handlers": [], "level": "WARNING", "propagate": False}
        config["loggers"]["ecozone.request"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


class RequestLog:
    """Wraps the application: each HTTP request gets an id (``X-Request-ID``) and one record after its answer."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Log the request when its answer has been sent."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        started = time.perf_counter()
        status = 500  # what the client gets if the application fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            key = headers.get(b"x-api-key", b"").decode("latin-1") or None
            fields = {"request_id": request_id, "method": scope["method"], "path": scope["path"], "status": status,
                      "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                      "key_name": self.settings.key_name(key)}
            request_log.info("%s %s %s", scope["method"], scope["path"], status, extra=fields)
