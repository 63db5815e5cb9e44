"""``POST /api/chat/send`` answered before Flask, when the request holds nothing unusual.

A send is the API's most frequent call, and Flask's dispatch, flask-smorest and webargs cost it about a
tenth of the worker's CPU per turn, as much as all the chat's own work beyond its MongoDB and Redis round
trips (docs/PERFORMANCE.md, section 2). This layer sits between the request-scope middleware (request id,
deadline, admission, backstop and metrics, all as for any request) and Flask, and runs the turn itself when:

- the method is POST and the path exactly ``/api/chat/send``;
- with ``API_KEYS`` set, the request carries one of them (auth.py's test, in constant time);
- with ``RATE_LIMIT`` set, the caller is under it (rate_limit.py's gate: one count per request, whichever
  layer asks);
- the body is ``application/json`` with a Content-Length within ``MAX_BODY_BYTES`` (not chunked) and arrives
  within ``BODY_READ_TIMEOUT_SECONDS`` (else the same 408 as request_bodies.py's);
- the body is JSON ``SendSchema`` accepts as it stands (``plain_send``), and an ``Idempotency-Key``, if sent,
  one its schema accepts.

Anything else goes on to Flask, whose route stays the contract and the OpenAPI document, with the body already
read handed on as it arrived and the rate decision already counted: every refusal (401, 413, 415, 400, 422,
429 ...) is Flask's own answer, and nothing is counted twice. Once the turn runs, its answer and its errors
are written here as Flask writes them (``web/plain_json.py``; the envelope, Retry-After and log lines of
``errors.py``'s handlers; Sentry reports an unexpected error from its ERROR line either way, only without
the Flask integration's request details). ``tests/app/chat/test_send_fast_path.py`` sends the same requests
both ways and compares the answers. ``SEND_FAST_PATH=false`` sends every request through Flask.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from gevent import Timeout

from travel_agent.api.chat import REPLAYED, answer_body, per_caller
from travel_agent.api.chat_schemas import plain_idempotency_key, plain_send
from travel_agent.chat.service import ChatService
from travel_agent.errors import (
    UNEXPECTED_MESSAGE,
    TravelAgentError,
    answered,
    describe,
    envelope,
    retry_after_header,
)
from travel_agent.observability.metrics import ROUTE_KEY
from travel_agent.request_context import ERROR_MESSAGE_KEY
from travel_agent.web import plain_json
from travel_agent.web.auth import bearer_token, matches_any
from travel_agent.web.inflight import timers_can_interrupt
from travel_agent.web.middleware import WSGIApp
from travel_agent.web.rate_limit import RateGate
from travel_agent.web.request_bodies import BodyTooSlow, too_slow

log = logging.getLogger("travel_agent.errors")  # the error handlers' logger: the same lines either way

SEND_PATH = "/api/chat/send"


class SendFastPath:
    """Runs a plain chat send without Flask; hands every other request to ``app`` untouched."""

    def __init__(
        self,
        app: WSGIApp,
        chat: ChatService,
        api_keys: tuple[str, ...],
        gate: RateGate | None,
        max_body_bytes: int,
        read_timeout: float,
    ) -> None:
        self.app = app
        self.chat = chat
        self.api_keys = api_keys
        self.gate = gate
        self.max_body_bytes = max_body_bytes
        self.read_timeout = read_timeout

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != SEND_PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        # In Flask's order: the key, then the rate limit, then the body.
        if self.api_keys:
            token = bearer_token(environ.get("HTTP_AUTHORIZATION"))
            if token is None or not matches_any(token, self.api_keys):
                return self.app(environ, start_response)
        if self.gate is not None and not self.gate.decide(environ).allowed:
            return self.app(environ, start_response)
        length = self._plain_length(environ)
        if length is None:
            return self.app(environ, start_response)
        environ[ROUTE_KEY] = SEND_PATH  # what Flask labels the route with, for the metrics and the console
        try:
            raw = self._read(environ, length)
        except BodyTooSlow:
            message = too_slow("POST", SEND_PATH, self.read_timeout, environ.get("REMOTE_ADDR"))
            return self._error(environ, start_response, 408, message)
        except Exception as exc:  # noqa: BLE001  (a socket error mid-body: logged, a 500, as Flask's last handler)
            return self._unexpected(environ, start_response, exc)
        environ["wsgi.input"] = io.BytesIO(raw)  # for Flask, should it take over: the body as it arrived
        fields = _parse(raw)
        key = environ.get("HTTP_IDEMPOTENCY_KEY")
        if fields is None or (key is not None and not plain_idempotency_key(key)):
            return self.app(environ, start_response)
        message, session_id = fields
        try:
            answer, replayed = self.chat.send(
                message, session_id, per_caller(key, bool(self.api_keys), environ.get("HTTP_AUTHORIZATION"))
            )
        except TravelAgentError as exc:
            error = answered(exc, describe("POST", SEND_PATH, environ.get("REMOTE_ADDR")))
            return self._error(
                environ,
                start_response,
                error.status_code,
                error.message,
                retry_after_header(error).items(),
                error.context,
            )
        except Exception as exc:  # noqa: BLE001  (logged with its stack, a 500 that reveals nothing)
            return self._unexpected(environ, start_response, exc)
        return plain_json.answer(start_response, 200, answer_body(answer), (REPLAYED,) if replayed else ())

    def _plain_length(self, environ: dict[str, Any]) -> int | None:
        """The body's length when it is JSON of a length Flask would read (no Transfer-Encoding); else None."""
        if "HTTP_TRANSFER_ENCODING" in environ:
            return None
        # request.mimetype: what precedes the first ';', stripped and lower-cased (werkzeug's parse).
        if environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != "application/json":
            return None
        declared = environ.get("CONTENT_LENGTH", "")
        # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
        if not (declared.isascii() and declared.isdigit()):
            return None
        length = int(declared)
        return length if 0 < length <= self.max_body_bytes else None

    def _read(self, environ: dict[str, Any], length: int) -> bytes:
        stream = environ["wsgi.input"]
        if Timeout is None or not timers_can_interrupt():
            data: bytes = stream.read(length)
            return data
        with Timeout(self.read_timeout, BodyTooSlow):
            data = stream.read(length)
        return data

    def _error(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        code: int,
        message: str,
        headers: Iterable[tuple[str, str]] = (),
        context: dict[str, str] | None = None,
    ) -> list[bytes]:
        environ[ERROR_MESSAGE_KEY] = message
        return plain_json.answer(start_response, code, envelope(code, message, context=context), headers)

    def _unexpected(self, environ: dict[str, Any], start_response: Callable[..., Any], exc: Exception) -> list[bytes]:
        log.error("unhandled exception in %s", describe("POST", SEND_PATH, environ.get("REMOTE_ADDR")), exc_info=exc)
        return self._error(environ, start_response, 500, UNEXPECTED_MESSAGE)


def _parse(raw: bytes) -> tuple[str, str | None] | None:
    """The message and session id of a body ``SendSchema`` accepts as it stands, as webargs would decode it
    (UTF-8, then the standard library's JSON); None for anything Flask should judge."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    return plain_send(data)
