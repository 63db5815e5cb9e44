"""A body sent with ``Transfer-Encoding: chunked`` is held to MAX_BODY_BYTES like one with Content-Length:
413 on every route, never a truncated body parsed as if it were whole. Raw sockets against real gunicorn."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.slow

LIMIT = 4096


def chunked_post(port: int, path: str, body: bytes, chunk: int = 1024) -> tuple[int, dict[str, Any]]:
    """POST ``body`` in chunks of ``chunk`` bytes; the status and the JSON body of the answer."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    parts = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    wire = head + b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(wire)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything; its answer is still there
        received = b""
        while b"\r\n\r\n" not in received or not _complete(received):
            data = sock.recv(65536)
            if not data:
                break
            received += data
    head_text, _, payload = received.partition(b"\r\n\r\n")
    status = int(head_text.split(b" ", 2)[1])
    return status, json.loads(payload) if payload.strip() else {}


def _complete(received: bytes) -> bool:
    head, _, payload = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(payload) >= int(line.split(b":")[1])
    return False


@pytest.fixture
def service(make_mongo: Callable[..., Any], make_gunicorn: Callable[..., Any]) -> Any:
    return make_gunicorn(
        mongo_uri=make_mongo().uri, env={"STARTUP_RETRIES": "1", "MAX_BODY_BYTES": str(LIMIT), "REDIS_URL": None}
    )


@pytest.mark.parametrize("path", ["/api/chat/send", "/api/chat/stream", "/no/such/route"])
def test_a_chunked_body_over_the_limit_is_413_on_every_route(service: Any, path: str) -> None:
    # Valid JSON that fits in the limit, then padding: read up to the limit only, it would parse as whole.
    valid_then_padding = json.dumps({"message": "Lisbon for a week"}).encode() + b" " * (3 * LIMIT)
    over = json.dumps({"message": "x" * (3 * LIMIT)}).encode()
    for body in (valid_then_padding, over):
        status, answer = chunked_post(service.port, path, body)
        assert status == 413, (status, answer)
        assert answer["code"] == 413 and answer["request_id"]


def test_a_chunked_body_within_the_limit_is_read_whole(service: Any) -> None:
    body = json.dumps({"message": "A weekend in Porto " + "y" * (LIMIT // 2)}).encode()
    status, answer = chunked_post(service.port, "/api/chat/send", body, chunk=100)
    assert status == 200, answer
    assert answer["reply"] and answer["session_id"]
