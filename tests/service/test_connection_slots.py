"""Connection exhaustion, scaled down: idle keep-alive and slowloris connections fill a worker's
WORKER_CONNECTIONS, and a fresh client (a liveness probe) must still be answered at once. Real gunicorn, raw
sockets on loopback. The full-size figures are in docs/RELIABILITY.md ("Connection exhaustion")."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

FAULT_APP = "tests.support.fault_app:app"
SLOTS = 40
IDLE_KEEPALIVE = 20
SLOWLORIS = 60

pytestmark = pytest.mark.slow


@pytest.fixture
def serve(make_mongo: Callable[..., Any], make_gunicorn: Callable[..., Any]) -> Callable[..., Any]:
    mongo = make_mongo()

    def start(**env: str) -> Any:
        return make_gunicorn(
            mongo_uri=mongo.uri, app=FAULT_APP, env={"STARTUP_RETRIES": "1", "WORKER_CONNECTIONS": str(SLOTS), **env}
        )

    return start


@pytest.fixture
def sockets() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def connect(port: int, stack: ExitStack, timeout: float = 10.0) -> socket.socket:
    sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=timeout))
    return sock


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer (head and a Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def fresh_live(port: int) -> tuple[bytes, float]:
    """(the answer, seconds); no answer in 15 s gives b"" and the seconds waited."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=15.0) as sock:
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            answer = read_answer(sock)
    except TimeoutError:
        answer = b""
    return answer, time.monotonic() - started


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """Whether the server closes ``sock`` (EOF or reset) within ``timeout`` seconds."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_fresh_client_is_answered_at_once_when_idle_and_slowloris_connections_fill_the_slots(
    serve: Callable[..., Any], sockets: ExitStack
) -> None:
    # The keep-alive (10 s) is longer than the whole test: without room made by closing waiting connections,
    # nothing frees a slot and the fresh client waits in the kernel's queue.
    service = serve(GUNICORN_KEEPALIVE="10", REQUEST_HEAD_TIMEOUT_SECONDS="8")
    port = service.port
    # A request of its own running throughout: a busy connection is never the one closed.
    busy = connect(port, sockets, timeout=20.0)
    busy.sendall(b"GET /_test/sleep?seconds=3 HTTP/1.1\r\nHost: t\r\n\r\n")
    idle = []
    for _ in range(IDLE_KEEPALIVE):
        sock = connect(port, sockets)
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n")
        assert b" 200 " in read_answer(sock).split(b"\r\n", 1)[0]
        idle.append(sock)
    slow = []
    for n in range(SLOWLORIS):
        sock = connect(port, sockets)
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: t\r\nX-Slow-%d: 1\r\n" % n)
        slow.append(sock)

    answer, seconds = fresh_live(port)

    assert seconds < 1.0, seconds
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    # The longest-waiting connections made the room: the idle keep-alive ones, opened first, are closed.
    assert all(closed_by_server(sock, 2.0) for sock in idle)
    busy_answer = read_answer(busy)
    assert busy_answer.startswith(b"HTTP/1.1 200 "), busy_answer[:200]
    service.wait_for_log("Connection slots full", timeout=15.0)


def test_a_connection_that_never_finishes_its_first_request_head_is_closed_after_the_head_timeout(
    serve: Callable[..., Any], sockets: ExitStack
) -> None:
    service = serve(GUNICORN_KEEPALIVE="10", REQUEST_HEAD_TIMEOUT_SECONDS="1")
    slow = connect(service.port, sockets)
    started = time.monotonic()
    slow.sendall(b"GET /health/live HTTP/1.1\r\nHost: t\r\n")  # and never the blank line
    assert closed_by_server(slow, 8.0)
    assert 0.8 <= time.monotonic() - started < 2.5
    # A keep-alive connection that has been served still gets the keep-alive time for its next head.
    kept = connect(service.port, sockets)
    kept.sendall(b"GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n")
    assert read_answer(kept).startswith(b"HTTP/1.1 200 ")
    assert not closed_by_server(kept, 2.5)
    kept.sendall(b"GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n")
    assert read_answer(kept).startswith(b"HTTP/1.1 200 ")
