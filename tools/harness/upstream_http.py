"""The fake upstream's HTTP side: what one request to ``POST /v1/chat/completions`` is answered with (echo,
a stream, a failure, a flood, a drip), the request headers, and OpenAI's body shapes. ``upstream.py`` holds the
server and its knobs. Standard library only, like the server, so both also run as their own process."""

from __future__ import annotations

import json
import math
import re
import socket
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

MODES = ("echo", "hang", "stream_break", "huge", "flood", "flood_text", "endless_line", "drip")
# How a stream's body is framed: "chunked" (Transfer-Encoding), or "close" (no length at all: the body ends when
# the server closes the connection, legal HTTP/1.1 and what some servers and proxies send).
FRAMINGS = ("chunked", "close")
# Hostile modes send as fast as the socket allows, in writes of about this size.
FLOOD_WRITE_BYTES = 64 * 1024
CHAT_PATH = "/v1/chat/completions"
DEFAULT_MODEL = "upstream-test-model"
ERRORS = {  # status -> (type, code, message), shaped like OpenAI's own error bodies
    400: ("invalid_request_error", None, "Invalid request body."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    404: ("invalid_request_error", "not_found", "Unknown path."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request."),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", "overloaded", "The engine is currently overloaded, please try again later."),
}


class Headers(Mapping[str, str]):
    """Request headers, looked up case-insensitively as HTTP intends; iterates the names as the client sent them."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._items = {name.lower(): (name, value) for name, value in pairs}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _value in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True)
class Plan:
    """What one request will get, fixed when it is answered so a concurrent reconfiguration cannot tear it."""

    mode: str
    delay: float
    chunk_delay: float
    break_after: int
    fail_status: int | None
    retry_after: float | None
    huge_chars: int
    framing: str


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any  # upstream._HTTPServer, whose ``owner`` is the UpstreamServer

    def setup(self) -> None:
        super().setup()
        self._accepted = self.server.owner._track(self.connection)

    def handle(self) -> None:
        if self._accepted:
            super().handle()

    def finish(self) -> None:
        self.server.owner._untrack(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request on stderr would bury the test output

    def do_GET(self) -> None:
        self.server.owner._record("GET", self.path, Headers(self.headers.items()), None)
        if self.path.split("?")[0].rstrip("/") == "/v1/models":
            self._send_json(200, {"object": "list", "data": [{"id": DEFAULT_MODEL, "object": "model"}]})
        else:
            self._send_error(404)

    def do_POST(self) -> None:
        owner = self.server.owner
        raw = self._read_body()
        payload = _json_or_none(raw)
        known_path = self.path.split("?")[0].rstrip("/") == CHAT_PATH
        valid = isinstance(payload, dict) and isinstance(payload.get("messages"), list)
        headers = Headers(self.headers.items())
        sequence = owner._record("POST", self.path, headers, payload, answering=known_path and valid)
        if not known_path:
            return self._send_error(404)
        if not valid:
            return self._send_error(400)
        try:
            if not owner._wait_out_hang():
                return self._drop()
            plan = owner._plan()
            if not owner._pause(plan.delay):
                return self._drop()
            if plan.fail_status:
                return self._send_error(plan.fail_status, plan.retry_after)
            content = "x" * plan.huge_chars if plan.mode == "huge" else "echo: " + _last_user_text(payload["messages"])
            content = _continued(content, payload["messages"])
            model = str(payload.get("model") or DEFAULT_MODEL)
            completion_id = f"chatcmpl-{sequence:06d}"
            if plan.mode == "drip":
                return self._drip(
                    _completion(completion_id, model, content, payload["messages"]), plan.chunk_delay or 0.1
                )
            if payload.get("stream"):
                return self._stream(plan, completion_id, model, content, payload)
            self._send_json(200, _completion(completion_id, model, content, payload["messages"]))
        finally:
            owner._end()

    def _stream(self, plan: Plan, completion_id: str, model: str, content: str, payload: dict[str, Any]) -> None:
        owner = self.server.owner
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self._chunked = plan.framing == "chunked"
        if self._chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True  # the end of the body is the end of the connection
        self.end_headers()
        created = int(time.time())

        def event(delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [choice],
            }

        self._send_event(event({"role": "assistant", "content": ""}))
        if plan.mode in ("flood", "flood_text", "endless_line"):
            return self._flood(plan.mode, event({"content": "x" if plan.mode == "flood_text" else ""}))
        if plan.mode == "huge":
            self._send_event(event({"content": content}))
            self._send_event(event({}, "stop"))
            self._send_chunk(b"data: [DONE]\n\n")
            return self._send_chunk(b"")
        for i, piece in enumerate(split_words(content)):
            if plan.mode == "stream_break" and i >= plan.break_after:
                return self._drop()
            if i and not owner._pause(plan.chunk_delay):
                return self._drop()
            self._send_event(event({"content": piece}))
        if plan.mode == "stream_break":
            return self._drop()  # the reply was shorter than break_after: still never finish it
        self._send_event(event({}, "stop"))
        if (payload.get("stream_options") or {}).get("include_usage"):
            usage = _usage(payload["messages"], content)
            self._send_event({**event({}), "choices": [], "usage": usage})
        self._send_chunk(b"data: [DONE]\n\n")
        self._send_chunk(b"")  # the zero-length chunk that ends a chunked body

    def _flood(self, mode: str, data: dict[str, Any]) -> None:
        """Write without pause until the client goes away or the server stops (hostile modes)."""
        if mode == "endless_line":
            self._send_chunk(b"data: ")
            block = b"x" * FLOOD_WRITE_BYTES
        else:
            one = b"data: " + json.dumps(data).encode() + b"\n\n"
            block = one * max(1, FLOOD_WRITE_BYTES // len(one))
        owner = self.server.owner
        try:
            while not owner._stopping.is_set():
                self._send_chunk(block)
        except OSError:
            pass  # the client hung up: what these modes wait for
        self.close_connection = True

    def _drip(self, body: dict[str, Any], pause: float) -> None:
        """A complete JSON answer, a byte at a time (the "drip" mode)."""
        data = json.dumps(body).encode()
        whole = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data)
        self.close_connection = True
        try:
            for i in range(len(whole)):
                if not self.server.owner._pause(pause):
                    return
                self.wfile.write(whole[i : i + 1])
                self.wfile.flush()
        except OSError:
            pass  # the client gave up: what this mode waits for

    def _send_event(self, data: dict[str, Any]) -> None:
        self._send_chunk(b"data: " + json.dumps(data).encode() + b"\n\n")

    def _send_chunk(self, data: bytes) -> None:
        if getattr(self, "_chunked", True):
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
        elif data:
            self.wfile.write(data)
            self.wfile.flush()

    def _send_json(self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, retry_after: float | None = None) -> None:
        kind, code, message = ERRORS.get(status, ("server_error", None, f"Upstream test error {status}."))
        headers = {}
        if retry_after is not None and status in (429, 503):
            headers = {"Retry-After": str(math.ceil(retry_after)), "retry-after-ms": str(round(retry_after * 1000))}
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        self._send_json(status, body, headers)

    def _drop(self) -> None:
        """End the connection without a (complete) answer, as a crashed or unplugged upstream would."""
        self.close_connection = True
        hard_close(self.connection)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""


def split_words(text: str) -> list[str]:
    """``text`` in word-sized pieces (whitespace kept) that join back to it: the stream's chunks."""
    return re.findall(r"\s*\S+\s*", text) or [text]


def hard_close(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the peer or by the other side of a race with stop()


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # the multi-part form: [{"type": "text", "text": "..."}, ...]
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _continued(content: str, messages: list[Any]) -> str:
    """A trailing assistant message is a partial answer to continue ("prefill", as vLLM's
    continue_final_message and llama.cpp's server do): only the rest of the answer is sent."""
    last = messages[-1] if messages else None
    if isinstance(last, dict) and last.get("role") == "assistant":
        prefix = _text_of(last.get("content"))
        if content.startswith(prefix):
            return content[len(prefix) :]
    return content


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _usage(messages: list[Any], content: str) -> dict[str, int]:
    prompt = sum(len(_text_of(m.get("content")).split()) for m in messages if isinstance(m, dict))
    completion = len(content.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _completion(completion_id: str, model: str, content: str, messages: list[Any]) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": _usage(messages, content),
    }
