"""The Flask side of the one JSON error envelope: every exception a view raises becomes it here."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import HTTPException

from travel_agent import formats, request_context
from travel_agent.errors import (
    UNEXPECTED_MESSAGE,
    TravelAgentError,
    answered,
    describe,
    retry_after_header,
)

log = logging.getLogger("travel_agent.errors")


def error_response(
    code: int,
    message: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    context: dict[str, str] | None = None,
    kind: str | None = None,
) -> Response:
    """The one error envelope (``formats.error_body``) as a Flask response."""
    body = formats.error_body(
        code, message, kind=kind, errors=errors, request_id=request_context.request_id(), context=context
    )
    response = Response(formats.encode_json(body), status=code, mimetype="application/json")
    if message:
        request.environ[request_context.ERROR_MESSAGE_KEY] = message
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# Werkzeug's default descriptions speak of "the browser" and name no limit; these say what to change.
_HTTP_MESSAGES = {
    400: "The request could not be understood: its body or query is malformed.",
    404: "There is no route at this path (the API is described at /docs).",
}


def _describe_request() -> str:
    return describe(request.method, request.path, request.remote_addr)


def handle_http_exception(error: HTTPException) -> Response:
    """Werkzeug and webargs errors (404, 405, 413, 422 ...), keeping webargs' field errors."""
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    message = data.get("message") or error.description
    if error.description == type(error).description:  # werkzeug's stock text, not one of ours
        message = _HTTP_MESSAGES.get(code, message)
    if code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        message = f"The request body is larger than the limit of {limit} bytes (MAX_BODY_BYTES)."
    headers = dict(data.get("headers") or {})
    if code == 405 and error.get_response().headers.get("Allow"):
        headers["Allow"] = error.get_response().headers["Allow"]
    if code >= 500:
        # Werkzeug's 500 descriptions are generic; anything else of ours at 5xx already has a safe message.
        log.error("%s answered %s", _describe_request(), code)
    return error_response(code, message, errors, headers)


def handle_travel_agent_error(error: TravelAgentError) -> Response:
    error = answered(error, _describe_request())
    return error_response(
        error.status_code, error.message, headers=retry_after_header(error), context=error.context, kind=error.kind
    )


def handle_unexpected(error: Exception) -> Response:
    """The last line: log once with the stack, answer a generic 500 that reveals nothing."""
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.error("unhandled exception in %s", _describe_request(), exc_info=error)
    return error_response(500, UNEXPECTED_MESSAGE)


def handle_malformed_body(error: Exception) -> Response:
    """gunicorn parses a chunked body while the app reads it, and raises its own ParseException (a chunk
    size that is not hex, a missing terminator) from ``request.get_data()``: the client's fault, a 400."""
    log.info("%s answered 400: malformed body (%s)", _describe_request(), type(error).__name__)
    return error_response(400, "The request body is malformed.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ParseException, handle_malformed_body)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(TravelAgentError, handle_travel_agent_error)
    app.register_error_handler(Exception, handle_unexpected)
