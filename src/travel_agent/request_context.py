"""Per-request state that any code may read: the request id and the time budget's deadline.

Kept in context variables rather than on ``flask.g`` because the WSGI middleware that sets them runs outside
Flask, and log records written by drivers have no app context. Each gevent greenlet has its own context
(greenlet >= 1.0), so concurrent requests in one worker never see each other's values.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any

# The environ key under which an error answer leaves its client-safe message for the console's error list.
ERROR_MESSAGE_KEY = "travel_agent.error_message"
# The environ key of a ``ClientWrite``, present when the server lets a response's body write to the client while
# it is being iterated. A stream uses it to send heartbeats from inside a wait on the model (``chat.pump``).
CLIENT_WRITE_KEY = "travel_agent.client_write"
# A stream answered 200 whose last event was an error: that error's status (a string such as "503"), for the
# request metrics, the console's last errors and the access log, which otherwise see only the status line.
STREAM_ERROR_KEY = "travel_agent.stream_error_status"


class ClientWrite:
    """The server's ``write`` callable (what ``start_response`` returned), once the response has started.

    WSGI discourages ``write``, and servers differ on calling it while the body is being iterated. gunicorn's
    ``write`` is the very call it makes for each item of the body, so it may; the Flask test client would drop
    what is written so. Hence only under gunicorn.
    """

    __slots__ = ("write",)

    def __init__(self) -> None:
        self.write: Callable[[bytes], object] | None = None

    @staticmethod
    def offered_by(environ: dict[str, Any]) -> bool:
        return str(environ.get("SERVER_SOFTWARE", "")).startswith("gunicorn/")


_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_deadline: ContextVar[float | None] = ContextVar("deadline", default=None)

# Long enough for a UUID or a trace id, short and plain enough to be safe in a log line and a header.
_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def sane_request_id(inbound: str | None) -> str:
    """The caller's id when it is harmless to echo, else a fresh one."""
    if inbound and _SANE_ID.match(inbound):
        return inbound
    return secrets.token_hex(16)  # 128 random bits as 32 hex digits: a UUID4's shape at a third of its cost


def request_id() -> str | None:
    return _request_id.get()


# When the worker drains, every request must be done (or answered 503) before gunicorn kills the process: the
# drain sets one process-wide cutoff that shortens every request's deadline, so each driver call started after
# it gets only the time that is left before the kill.
_drain_cutoff: float | None = None


def remaining() -> float | None:
    """Seconds left in the current request's budget (shortened by a drain); None outside a request."""
    own = _deadline.get()
    if own is None:
        return None
    cutoff = _drain_cutoff
    return (own if cutoff is None else min(own, cutoff)) - time.monotonic()


def deadline() -> float | None:
    return _deadline.get()


def set_drain_cutoff(monotonic_time: float | None) -> None:
    global _drain_cutoff
    _drain_cutoff = monotonic_time


def draining() -> bool:
    """Whether this worker is draining (a drain cut-off is set)."""
    return _drain_cutoff is not None


def cut_by_drain() -> bool:
    """Whether the current request's time is running out because the worker is draining, not its budget."""
    own, cutoff = _deadline.get(), _drain_cutoff
    return cutoff is not None and (own is None or cutoff < own)


def bind(req_id: str, budget_seconds: float | None) -> tuple[Token[str | None], Token[float | None]]:
    """Bind a request id and a deadline ``budget_seconds`` from now; undo with ``unbind``."""
    deadline_at = None if budget_seconds is None else time.monotonic() + budget_seconds
    return _request_id.set(req_id), _deadline.set(deadline_at)


def detach() -> None:
    """Leave no request bound in this context. A response body that is never closed (a test client's unread
    stream) leaves its request bound in the thread that ran it; whatever that thread runs next would obey a
    deadline long past. Tests call this before each case."""
    _request_id.set(None)
    _deadline.set(None)


def unbind(tokens: tuple[Token[str | None], Token[float | None]]) -> None:
    id_token, deadline_token = tokens
    try:
        _deadline.reset(deadline_token)
        _request_id.reset(id_token)
    except ValueError:
        # Reset from another context (a server that closes the body elsewhere): nothing of ours to undo.
        pass
