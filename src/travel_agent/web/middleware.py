"""WSGI middleware around the Flask app: request id, time budget by route, load shedding, the backstop, and
the per-request metrics.

Every request gets an id and a deadline (chat routes ``CHAT_TIMEOUT_SECONDS``, the rest
``REQUEST_TIMEOUT_SECONDS``). The deadline is what the drivers obey, so the app normally answers a spent budget
itself (504). Only if something ignores it does the backstop fire: a ``gevent.Timeout`` a little after the
deadline, or the drain's cut-off, turned here into the JSON envelope (or, once a stream has started, into a
final error event). It is a last resort because an exception landing inside a driver's pool can corrupt it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import Token
from typing import Any

from gevent import Timeout

from travel_agent import formats, request_context
from travel_agent.errors import BudgetExceeded, ServerRestarting, ServiceBusy, TravelAgentError
from travel_agent.observability import metrics
from travel_agent.observability.metrics import RequestMetrics
from travel_agent.web.client_gone import client_gone
from travel_agent.web.inflight import InFlight, RequestExpired, Ticket, timers_can_interrupt

log = logging.getLogger("travel_agent.middleware")
CLIENT_GONE_CHECK_AFTER_SECONDS = 1.0

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
CHAT_PREFIX = "/api/chat/"
# Probes an orchestrator uses to decide restarts and routing must answer even when the worker sheds load.
NEVER_SHED = frozenset({"/health/live", "/health/ready"})
# How long after the deadline the backstop fires: the drivers stop ~0.1-0.15 s before it, so this only
# catches code that ignored the deadline, and still answers within half a second of it.
BACKSTOP_GRACE_SECONDS = 0.3
# The error of a request cut off by the backstop ("budget") or the drain ("drain").
EXPIRED: dict[str, type[TravelAgentError]] = {"budget": BudgetExceeded, "drain": ServerRestarting}


def budget_for(path: str, request_timeout: float, chat_timeout: float) -> float:
    return chat_timeout if path.startswith(CHAT_PREFIX) else request_timeout


def _arm_backstop(seconds: float) -> Any:
    """A gevent.Timeout raising RequestExpired in this greenlet, where gevent runs the server; else None."""
    if not timers_can_interrupt():
        return None  # a threaded test server or the Flask test client: nothing to interrupt safely
    timer = Timeout(seconds, RequestExpired("budget"))
    timer.start()
    return timer


def json_error(
    start_response: Callable[..., Any], error: type[TravelAgentError], req_id: str, exc_info: Any = None
) -> list[bytes]:
    """The envelope of one of the errors the middleware answers itself (``formats`` writes it)."""
    body = formats.encode_json(formats.error_body(error.status_code, error.message, kind=error.kind, request_id=req_id))
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("X-Request-ID", req_id),
        ("Cache-Control", "no-store"),
    ]
    if error.retry_after is not None:
        headers.append(("Retry-After", str(error.retry_after)))
    start_response(formats.status_line(error.status_code), headers, exc_info)
    return [body]


def sse_error_event(error: type[TravelAgentError], req_id: str) -> bytes:
    """The final event of a text/event-stream that could not finish, with the retry hint a status line would
    have carried as Retry-After (as the chat's own error events do)."""
    data = formats.error_body(error.status_code, error.message, kind=error.kind, request_id=req_id)
    if error.retry_after is not None:
        data["retry_after"] = error.retry_after
    return formats.sse_event("error", data)


class _Request:
    """One request's lifetime: bound scope, admission ticket, backstop, metrics; released exactly once."""

    def __init__(
        self,
        environ: dict[str, Any],
        started: float,
        tokens: tuple[Token[Any], Token[Any]],
        ticket: Ticket,
        inflight: InFlight,
        timer: Any,
        recorder: RequestMetrics | None,
    ) -> None:
        self.environ = environ
        self.started = started
        self.tokens = tokens
        self.ticket = ticket
        self.inflight = inflight
        self.timer = timer
        self.recorder = recorder
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.done = False

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        if self.timer is not None:
            self.timer.close()
        self.inflight.release(self.ticket)
        request_context.unbind(self.tokens)
        if self.recorder is not None:
            self.recorder.finished(self.environ, self.status, self.started)

    @property
    def is_stream(self) -> bool:
        return any(k.lower() == "content-type" and v.startswith("text/event-stream") for k, v in self.headers)


class _ScopedBody:
    """Keeps the request's scope, ticket and backstop until the server has consumed (or closed) the body, so
    a streamed response still knows its deadline, counts as in flight, and can be cut off cleanly."""

    def __init__(
        self, body: Iterable[bytes], request: _Request, start_response: Callable[..., Any], req_id: str, route: str
    ) -> None:
        self._body = body
        self._route = route
        self._request = request
        self._start_response = start_response
        self._req_id = req_id

    def __iter__(self) -> Iterator[bytes]:
        sent_any = False
        try:
            for chunk in self._body:
                if chunk:
                    sent_any = True
                yield chunk
        except RequestExpired as exc:
            error = EXPIRED[exc.reason]
            log.warning("request cut off (%s) after it started answering", exc.reason)
            if self._request.is_stream:
                # Counted (a 504 as a budget timeout too) when the request finishes, as an error event.
                self._request.environ[request_context.STREAM_ERROR_KEY] = str(error.status_code)
                self._request.environ[request_context.ERROR_MESSAGE_KEY] = error.message
                if exc.reason != "budget":
                    metrics.record_shed("draining")
                yield sse_error_event(error, self._req_id)
            elif not sent_any:
                self._request.environ[request_context.ERROR_MESSAGE_KEY] = error.message
                yield from json_error(self._start_response, error, self._req_id, sys.exc_info())
            else:
                raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._request.finish()


class RequestScopeMiddleware:
    """The outermost WSGI layer: it owns a request from arrival to the server closing its body, and records
    its metrics (``recorder``; None leaves them out)."""

    def __init__(
        self,
        app: WSGIApp,
        request_timeout: float,
        chat_timeout: float,
        inflight: InFlight,
        recorder: RequestMetrics | None = None,
    ) -> None:
        self.app = app
        self.request_timeout = request_timeout
        self.chat_timeout = chat_timeout
        self.inflight = inflight
        self.recorder = recorder

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        req_id = request_context.sane_request_id(environ.get("HTTP_X_REQUEST_ID"))
        environ["travel_agent.request_id"] = req_id
        path = environ.get("PATH_INFO", "")
        budget = budget_for(path, self.request_timeout, self.chat_timeout)
        tokens = request_context.bind(req_id, budget)
        ticket = self.inflight.admit(path, exempt=path in NEVER_SHED)
        if ticket is None:
            request_context.unbind(tokens)
            metrics.record_shed("overload")
            environ[request_context.ERROR_MESSAGE_KEY] = ServiceBusy.message
            if self.recorder is not None:
                self.recorder.finished(environ, "503", started)
            return json_error(start_response, ServiceBusy, req_id)
        client_write = None
        if request_context.ClientWrite.offered_by(environ):
            client_write = environ[request_context.CLIENT_WRITE_KEY] = request_context.ClientWrite()
        request = _Request(
            environ,
            started,
            tokens,
            ticket,
            self.inflight,
            _arm_backstop(budget + BACKSTOP_GRACE_SECONDS),
            self.recorder,
        )

        def start_with_id(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # Only a slow answer is worth the look (three system calls): a router gives up after tens of seconds,
            # and a probe or a quick API call answered in milliseconds pays nothing for it.
            if time.perf_counter() - started >= CLIENT_GONE_CHECK_AFTER_SECONDS and client_gone(environ):
                # Not an error of ours: a router's limit (Heroku's 30 s to first byte) or an impatient caller.
                # What the request did (a stored turn) stays done; a retry with its Idempotency-Key gets it.
                log.info(
                    "client left before the answer: %s %s after %.1f s; its %s was not delivered",
                    environ.get("REQUEST_METHOD"),
                    path,
                    time.perf_counter() - started,
                    status.split(" ")[0],
                )
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append(("X-Request-ID", req_id))
            request.status, request.headers = status, headers
            write = start_response(status, headers, exc_info)
            if client_write is not None:
                client_write.write = write
            return write

        try:
            body = self.app(environ, start_with_id)
        except RequestExpired as exc:
            error = EXPIRED[exc.reason]
            log.warning("%s %s cut off by the %s backstop", environ.get("REQUEST_METHOD"), path, exc.reason)
            if exc.reason == "drain":
                metrics.record_shed("draining")
            environ[request_context.ERROR_MESSAGE_KEY] = error.message
            try:
                return json_error(start_with_id, error, req_id, sys.exc_info())
            finally:
                request.finish()
        except BaseException:
            request.finish()
            raise
        return _ScopedBody(body, request, start_with_id, req_id, environ.get(metrics.ROUTE_KEY, path))
