"""The service's wire formats, one writer each: the JSON error envelope and server-sent events.

Every layer that answers writes through here: the Flask handlers (``web/error_handlers.py``), the WSGI
middleware's own 503s and 504s, the health probes, gunicorn's error pages (``runtime/error_pages.py``) and the
chat stream. So an envelope has the same fields, spacing and phrases whoever wrote it, and a client or a
cache comparing two answers sees no difference but the content. Standard library only: the gunicorn master
imports this module through the worker class, and must not load Flask or a driver.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

# Reason phrases as Python 3.11 and werkzeug write them. Python 3.13 renamed some (413 "Content Too Large",
# 422 "Unprocessable Content"); the envelope's ``status`` must not change with the interpreter.
_PHRASES = {
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    416: "Requested Range Not Satisfiable",
    422: "Unprocessable Entity",
}

# The machine-readable ``error`` of an envelope whose error has no kind of its own (werkzeug's HTTP errors,
# gunicorn's parse errors). The service's own exceptions carry theirs (``errors.TravelAgentError.kind``):
# the three 503s (``dependency_unavailable``, ``shedding``, ``draining``) differ only there.
KINDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "body_timeout",
    409: "conflict",
    413: "body_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    417: "expectation_failed",
    422: "validation",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal",
    501: "not_implemented",
    502: "upstream_error",
    503: "unavailable",
    504: "budget_exceeded",
}

_STATUS_LINES: dict[int, str] = {}


def phrase(code: int) -> str:
    known = _PHRASES.get(code)
    if known is not None:
        return known
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"


def status_line(code: int) -> str:
    """The WSGI status line, with the phrase in capitals as werkzeug (and so every Flask answer) writes it."""
    line = _STATUS_LINES.get(code)
    if line is None:
        line = _STATUS_LINES[code] = f"{code} {phrase(code).upper()}"
    return line


def error_body(
    code: int,
    message: str | None = None,
    *,
    kind: str | None = None,
    errors: dict[str, Any] | None = None,
    request_id: str | None,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """flask-smorest's error shape, plus the error's kind, its context (e.g. the chat session a stored but
    unanswered message is in) and the request id to quote."""
    body: dict[str, Any] = {"code": code, "status": phrase(code), "error": kind or KINDS.get(code, "error")}
    if message:
        body["message"] = message
    if errors:
        body["errors"] = errors
    if context:
        body.update(context)
    body["request_id"] = request_id
    return body


def encode_json(body: dict[str, Any]) -> bytes:
    """JSON as Flask's ``jsonify`` writes it outside debug mode, in the body's own key order: compact, ASCII,
    a final newline."""
    return (json.dumps(body, ensure_ascii=True, separators=(",", ":")) + "\n").encode()


def sse_event(event: str, data: dict[str, Any], event_id: str | int | None = None) -> bytes:
    """One server-sent event whose data is a JSON object on one line. UTF-8 as the format requires, not
    escaped: a reply in Japanese is a third the size."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"{head}event: {event}\ndata: {payload}\n\n".encode()


# An SSE comment: keeps routers and clients from timing out, shows no event.
SSE_HEARTBEAT = b": heartbeat\n\n"
