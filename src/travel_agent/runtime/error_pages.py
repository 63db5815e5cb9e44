"""gunicorn's own error answers (a malformed request line, a URI or header block over its limits, an unsupported
transfer coding, its 500) in the service's JSON envelope instead of its HTML pages.

These errors happen before the app sees the request, so the envelope is built here, without Flask: the master
imports the worker module, which imports this one. The message is fixed per status and never echoes the
request: the bytes gunicorn rejected are the client's, possibly hostile, and go to the log only.
"""

from __future__ import annotations

from typing import Any

from travel_agent import formats, request_context

_MESSAGES = {
    400: "The request is not valid HTTP (request line, header or chunked framing).",
    403: "The request is forbidden.",
    414: "The request line (method, path and query) is too long.",
    417: "The Expect header holds an expectation the server cannot meet.",
    431: "The request's header fields are too many or too large.",
    500: "An unexpected error occurred. It has been logged.",
    501: "The request's Transfer-Encoding is not supported.",
}


class CapturedErrorPage:
    """Stands in for the client socket while gunicorn writes its HTML error page, keeping only the status.

    gunicorn decides the status of each of its parse errors and logs them (worker ``handle_error``); reusing
    that decision keeps one mapping, gunicorn's, instead of a copy that could drift from the pinned version.
    """

    def __init__(self) -> None:
        self.status: int | None = None
        self._timeout: float | None = None

    def gettimeout(self) -> float | None:
        return self._timeout

    def settimeout(self, value: float | None) -> None:
        self._timeout = value

    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    def sendall(self, data: bytes) -> None:
        if self.status is None:
            # "HTTP/1.1 431 Request Header Fields Too Large\r\n..."
            parts = data.split(b"\r\n", 1)[0].split(b" ", 2)
            if len(parts) >= 2 and parts[1].isdigit():
                self.status = int(parts[1])

    send = sendall


def json_error_page(status: int, req: Any = None) -> bytes:
    """A complete HTTP/1.1 answer that closes the connection: the JSON envelope with an X-Request-ID."""
    if not 400 <= status <= 599:
        status = 500
    req_id = request_context.sane_request_id(_inbound_request_id(req))
    message = _MESSAGES.get(status, _MESSAGES[400] if status < 500 else _MESSAGES[500])
    body = formats.encode_json(formats.error_body(status, message, request_id=req_id))
    head = (
        f"HTTP/1.1 {formats.status_line(status)}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-Request-ID: {req_id}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _inbound_request_id(req: Any) -> str | None:
    for name, value in getattr(req, "headers", None) or ():
        if name == "X-REQUEST-ID":
            return str(value)
    return None
