"""Request bodies: JSON only (415 otherwise), at most ``MAX_BODY_BYTES`` (413 otherwise, however the body is
framed), and received within ``BODY_READ_TIMEOUT_SECONDS`` (408 otherwise).

A client that announces a body and sends it slowly, or never, would otherwise hold its request, and one of the
worker's ``MAX_IN_FLIGHT`` slots, for the route's whole budget (90 s for a chat). The body is read here, in full,
before any view runs, under a timer of its own; the views then parse what was read.
"""

from __future__ import annotations

import io
import logging

from flask import Request, Response, request
from gevent import Timeout
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from travel_agent.web.error_handlers import error_response
from travel_agent.web.inflight import timers_can_interrupt

log = logging.getLogger("travel_agent.request_bodies")

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# The one body that is not JSON: the operator console's login form, as a browser posts it without script.
FORM_PATHS = frozenset({"/console/login"})
FORM_TYPE = "application/x-www-form-urlencoded"


class BodyTooSlow(Exception):
    """Raised by the read's timer: the body did not arrive in time."""


def too_slow(method: str | None, path: str, read_timeout: float, client: str | None) -> str:
    """Log a body that did not arrive in time; the message of its 408."""
    log.info("%s %s: the body did not arrive within %.1f s (client %s)", method, path, read_timeout, client)
    return f"The request body did not arrive within {read_timeout:g} seconds."


def _read_chunked(limit: int) -> None:
    """Read a chunked body whole, refusing it once it passes ``limit`` bytes.

    Werkzeug caps a body of unknown length by reading at most the limit and stopping there without a word:
    what was left unread was silently dropped (a valid JSON prefix answered 200). Reading one byte past the
    limit tells the two apart. The body read is handed on as a plain stream of known length, so Flask's own
    parsing sees exactly what was sent.
    """
    try:
        data = request.environ["wsgi.input"].read(limit + 1)
    except (OSError, ValueError, ParseException):
        # gunicorn's chunked reader raises its own parse errors (a bad chunk size, a missing terminator) and
        # NoMoreData when the client closes mid-body: the client's framing, answered 400 as Werkzeug does.
        raise BadRequest("The request body is malformed.") from None
    if len(data) > limit:
        raise RequestEntityTooLarge()
    request.environ["wsgi.input"] = io.BytesIO(data)
    request.environ["CONTENT_LENGTH"] = str(len(data))


class BodyGuard:
    """Reads a request's body whole before any view runs: JSON only, within the limit and the time."""

    def __init__(self, read_timeout: float, max_body_bytes: int) -> None:
        self.read_timeout = read_timeout
        self.max_body_bytes = max_body_bytes

    def __call__(self, req: Request) -> Response | None:
        # The method first: a GET (every probe) is then done without parsing any header.
        if req.method not in BODY_METHODS:
            return None
        chunked = "chunked" in req.headers.get("Transfer-Encoding", "").lower()
        if not (req.content_length or chunked):
            return None
        if not req.is_json and not (req.path in FORM_PATHS and req.mimetype == FORM_TYPE):
            raise UnsupportedMediaType("Send the body as application/json.")
        if not timers_can_interrupt():
            if chunked:
                _read_chunked(self.max_body_bytes)
            return None  # a threaded test server or the test client: nothing to interrupt safely
        try:
            with Timeout(self.read_timeout, BodyTooSlow):
                if chunked:
                    _read_chunked(self.max_body_bytes)
                req.get_data(cache=True)  # a body over MAX_BODY_BYTES raises its 413 here
        except BodyTooSlow:
            # The connection is left to gunicorn, which drops it after its keep-alive time if the rest of the
            # body never comes; the request and its slot are released now.
            return error_response(408, too_slow(req.method, req.path, self.read_timeout, req.remote_addr))
        return None
