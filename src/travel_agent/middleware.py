"""WSGI middleware that opens each request's scope: its id and its time budget, chosen by route."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextvars import Token
from typing import Any

from travel_agent import request_scope

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
CHAT_PREFIX = "/api/chat/"


def budget_for(path: str, request_timeout: float, chat_timeout: float) -> float:
    return chat_timeout if path.startswith(CHAT_PREFIX) else request_timeout


class _ScopedBody:
    """Keeps the request's scope bound until the server has consumed (or closed) the response body, so a
    streamed response still knows its deadline and request id."""

    def __init__(self, body: Iterable[bytes], tokens: tuple[Token[Any], Token[Any]]) -> None:
        self._body = body
        self._tokens = tokens

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            request_scope.unbind(self._tokens)


class RequestScopeMiddleware:
    def __init__(self, app: WSGIApp, request_timeout: float, chat_timeout: float) -> None:
        self.app = app
        self.request_timeout = request_timeout
        self.chat_timeout = chat_timeout

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        req_id = request_scope.sane_request_id(environ.get("HTTP_X_REQUEST_ID"))
        environ["travel_agent.request_id"] = req_id
        budget = budget_for(environ.get("PATH_INFO", ""), self.request_timeout, self.chat_timeout)
        tokens = request_scope.bind(req_id, budget)

        def start_with_id(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append(("X-Request-ID", req_id))
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, start_with_id)
        except BaseException:
            request_scope.unbind(tokens)
            raise
        return _ScopedBody(body, tokens)
