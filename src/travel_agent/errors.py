"""The service's exception family: what each error answers, and how an answered error is logged.

Every error raised on purpose is a ``TravelAgentError`` that carries its status, a client-safe message and,
when the client should come back, a ``Retry-After``; the Flask handlers (``web/error_handlers.py``) and the
WSGI middleware answer with exactly those:

    TravelAgentError                          500
    ├── DependencyUnavailable                 503  MongoDB or Redis down, frozen, or its breaker open (Retry-After 2)
    ├── BudgetExceeded                        504  the request's time budget ran out
    ├── ServiceBusy                           503  the worker is over its in-flight cap (Retry-After 1)
    │   └── ServerRestarting                  503  the shutdown drain cut the request short (Retry-After 1)
    ├── agent.errors.AgentError               502  the model upstream answered something unusable
    │   ├── UpstreamRefused                   502  it refused the request itself: a configuration fault
    │   └── AgentUnavailable                  503  unreachable, rate limiting, or its breaker open (Retry-After 2)
    ├── chat.errors.SessionNotFound           404  no session with that id
    ├── chat.errors.IdempotencyKeyReused      422  the key came with another body
    ├── chat.errors.IdempotencyKeyInFlight    409  the key's first request still runs (Retry-After 1)
    └── chat.errors.PositionTaken             503  a message's position was taken; a retry gets the next (Retry-After 1)

Outside the family: ``config.ConfigError`` stops the process at start (exit 2); ``web.inflight.RequestExpired``
is a BaseException the backstop or the drain throws into a request, answered as ``BudgetExceeded`` or
``ServerRestarting``; werkzeug's HTTP errors (404, 405, 413, 422 ...) and gunicorn's body ``ParseException`` get
the same envelope; anything else is a 500 that reveals nothing.
"""

from __future__ import annotations

import logging

from travel_agent import request_context
from travel_agent.request_context import request_id

log = logging.getLogger("travel_agent.errors")


class TravelAgentError(Exception):
    """Base of the errors the service raises on purpose; each knows its status and a client-safe message."""

    status_code = 500
    kind = "internal"  # the envelope's machine-readable ``error`` (docs/api.md lists them)
    message = "The service could not complete the request."
    retry_after: int | None = None  # a kind of error that asks clients to come back sets its default

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        if retry_after is not None:
            self.retry_after = retry_after
        # What the client needs to act on the error, added to the envelope (e.g. the chat session its message
        # was stored in before the agent failed).
        self.context: dict[str, str] = {}


class DependencyUnavailable(TravelAgentError):
    """A dependency is down, frozen or its breaker is open: retry later."""

    status_code = 503
    kind = "dependency_unavailable"
    message = "A backing service is temporarily unavailable. Please retry shortly."

    def __init__(self, dependency: str, message: str | None = None, *, retry_after: int = 2) -> None:
        super().__init__(message, retry_after=retry_after)
        self.dependency = dependency


class BudgetExceeded(TravelAgentError):
    """The request's time budget ran out before the work finished."""

    status_code = 504
    kind = "budget_exceeded"
    message = "The request took too long and was stopped."


class ServiceBusy(TravelAgentError):
    """The worker is shedding load: more requests in flight than its cap."""

    status_code = 503
    kind = "shedding"
    message = "The service is busy. Please retry shortly."
    retry_after = 1


class ServerRestarting(ServiceBusy):
    """The worker is shutting down and its drain cut the request short, however quick the request was."""

    kind = "draining"
    message = "The server is restarting. Please retry."


UNEXPECTED_MESSAGE = "An unexpected error occurred. It has been logged."


def describe(method: str | None, path: str, client: str | None) -> str:
    """How a log line names the request it is about."""
    return f"{method} {path} client={client} request_id={request_id()}"


def as_seen_by_client(error: TravelAgentError) -> TravelAgentError:
    """A spent budget is the client's 504 only if the request was slow: when the time ran out because the
    worker is shutting down (the drain shortens every deadline), it is a 503 to retry, on another worker."""
    if isinstance(error, BudgetExceeded) and request_context.cut_by_drain():
        return ServerRestarting()
    return error


def answered(error: TravelAgentError, described: str) -> TravelAgentError:
    """The error as the client sees it (``as_seen_by_client``), logged at the level it deserves."""
    error = as_seen_by_client(error)
    # A refusal of the client's request (404, 409, 422) is routine; a dependency failing or a spent budget is
    # worth a warning; anything else of ours at 5xx is an error.
    level = (
        logging.INFO
        if error.status_code < 500
        else (logging.WARNING if error.status_code in (502, 503, 504) else logging.ERROR)
    )
    log.log(level, "%s answered %s: %s", described, error.status_code, error.message)
    return error


def retry_after_header(error: TravelAgentError) -> dict[str, str]:
    return {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
